#include "libvgpu/nvml/format.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace xg::nvml {

std::string uuid_string(std::span<const unsigned char, 16> b) {
  char s[kUuidChars + 1];
  std::snprintf(s, sizeof s, "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
  return s;
}

nvmlReturn_t copy_string(std::string_view s, char* buf, unsigned int length) noexcept {
  if (buf == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  if (static_cast<size_t>(length) < s.size() + 1) return NVML_ERROR_INSUFFICIENT_SIZE;
  std::memcpy(buf, s.data(), s.size());
  buf[s.size()] = '\0';
  return NVML_SUCCESS;
}

std::string bus_id(const PciAddress& a) {
  char s[NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE];
  std::snprintf(s, sizeof s, "%08x:%02x:%02x.0", a.domain, a.bus & 0xff, a.device & 0x1f);
  return s;
}

std::string bus_id_legacy(const PciAddress& a) {
  char s[NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE];
  std::snprintf(s, sizeof s, "%04x:%02x:%02x.0", a.domain & 0xffff, a.bus & 0xff, a.device & 0x1f);
  return s;
}

namespace {

// One hex field of at most `max_digits` digits, ending at the end of `s` or at `stop`; advances `s`.
std::optional<unsigned int> hex_field(std::string_view& s, size_t max_digits, char stop) {
  size_t n = 0;
  unsigned long v = 0;
  while (n < s.size() && s[n] != stop) {
    const char c = s[n];
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else return std::nullopt;
    v = v * 16 + static_cast<unsigned>(d);
    if (++n > max_digits) return std::nullopt;
  }
  if (n == 0) return std::nullopt;
  s.remove_prefix(n);
  return static_cast<unsigned int>(v);
}

bool eat(std::string_view& s, char c) {
  if (s.empty() || s.front() != c) return false;
  s.remove_prefix(1);
  return true;
}

}  // namespace

std::optional<PciAddress> parse_bus_id(std::string_view s) {
  const auto colons = std::count(s.begin(), s.end(), ':');
  PciAddress a;
  if (colons == 2) {
    auto d = hex_field(s, 8, ':');
    if (!d || !eat(s, ':')) return std::nullopt;
    a.domain = *d;
  } else if (colons != 1) {
    return std::nullopt;
  }
  auto bus = hex_field(s, 2, ':');
  if (!bus || !eat(s, ':')) return std::nullopt;
  auto dev = hex_field(s, 2, '.');
  if (!dev || *dev > 0x1f) return std::nullopt;
  if (eat(s, '.')) {
    auto fn = hex_field(s, 1, '\0');
    if (!fn || *fn > 7) return std::nullopt;
  } else if (colons == 1) {
    return std::nullopt;  // the short form always names the function
  }
  if (!s.empty()) return std::nullopt;
  a.bus = *bus;
  a.device = *dev;
  return a;
}

void fill_pci_info(const PciAddress& a, nvmlPciInfo_t* out) {
  std::memset(out, 0, sizeof *out);
  std::snprintf(out->busIdLegacy, sizeof out->busIdLegacy, "%s", bus_id_legacy(a).c_str());
  std::snprintf(out->busId, sizeof out->busId, "%s", bus_id(a).c_str());
  out->domain = a.domain;
  out->bus = a.bus;
  out->device = a.device;
}

void fill_pci_info_v1(const PciAddress& a, nvmlPciInfo_v1_t* out) {
  std::memset(out, 0, sizeof *out);
  std::snprintf(out->busId, sizeof out->busId, "%s", bus_id_legacy(a).c_str());
  out->domain = a.domain;
  out->bus = a.bus;
  out->device = a.device;
}

nvmlReturn_t check_version(unsigned int given, unsigned int expected) noexcept {
  return given == expected ? NVML_SUCCESS : NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
}

ZoneMemory zone_memory(uint64_t quota_bytes, uint64_t used_bytes) noexcept {
  return ZoneMemory{quota_bytes, used_bytes, quota_bytes > used_bytes ? quota_bytes - used_bytes : 0};
}

unsigned int percent(uint32_t permille) noexcept {
  return permille >= 1000 ? 100u : (permille + 5) / 10;
}

namespace {

template <class Info, class Fill>
nvmlReturn_t fill_list(std::span<const Program> programs, unsigned int* count, Info* infos, Fill fill) {
  if (count == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  const auto n = static_cast<unsigned int>(programs.size());
  if (*count < n) {
    *count = n;
    return NVML_ERROR_INSUFFICIENT_SIZE;
  }
  if (infos == nullptr && n > 0) return NVML_ERROR_INVALID_ARGUMENT;
  for (unsigned int i = 0; i < n; ++i) fill(infos[i], programs[i]);
  *count = n;
  return NVML_SUCCESS;
}

}  // namespace

nvmlReturn_t fill_processes(std::span<const Program> programs, unsigned int* count,
                            nvmlProcessInfo_v1_t* infos) noexcept {
  return fill_list(programs, count, infos, [](nvmlProcessInfo_v1_t& o, const Program& p) {
    o = nvmlProcessInfo_v1_t{p.pid, p.used_bytes};
  });
}

nvmlReturn_t fill_processes(std::span<const Program> programs, unsigned int* count,
                            nvmlProcessInfo_v2_t* infos) noexcept {
  return fill_list(programs, count, infos, [](nvmlProcessInfo_v2_t& o, const Program& p) {
    // No MIG in a zone: both instance ids are "none", as NVML reports them on a GPU without MIG.
    o = nvmlProcessInfo_v2_t{p.pid, p.used_bytes, XG_NVML_NO_INSTANCE, XG_NVML_NO_INSTANCE};
  });
}

const char* error_string(int code) noexcept {
  switch (code) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_NO_PERMISSION: return "Insufficient Permissions";
    case NVML_ERROR_ALREADY_INITIALIZED: return "Already Initialized";
    case NVML_ERROR_NOT_FOUND: return "Not Found";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case NVML_ERROR_INSUFFICIENT_POWER: return "Insufficient External Power";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    case NVML_ERROR_TIMEOUT: return "Timeout";
    case NVML_ERROR_IRQ_ISSUE: return "Interrupt Request Issue";
    case NVML_ERROR_LIBRARY_NOT_FOUND: return "NVML Shared Library Not Found";
    case NVML_ERROR_FUNCTION_NOT_FOUND: return "Function Not Found";
    case NVML_ERROR_CORRUPTED_INFOROM: return "Corrupted infoROM";
    case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
    case NVML_ERROR_RESET_REQUIRED: return "GPU requires reset";
    case NVML_ERROR_OPERATING_SYSTEM: return "GPU access blocked by the operating system";
    case NVML_ERROR_LIB_RM_VERSION_MISMATCH: return "Driver/library version mismatch";
    case NVML_ERROR_IN_USE: return "In use by another client";
    case NVML_ERROR_MEMORY: return "Insufficient Memory";
    case NVML_ERROR_NO_DATA: return "No data";
    case NVML_ERROR_VGPU_ECC_NOT_ENABLED: return "vGPU operation not available: ECC is enabled";
    case NVML_ERROR_INSUFFICIENT_RESOURCES: return "Insufficient resources";
    case NVML_ERROR_FREQ_NOT_SUPPORTED: return "Frequency not supported";
    case NVML_ERROR_ARGUMENT_VERSION_MISMATCH: return "Argument version mismatch";
    case NVML_ERROR_DEPRECATED: return "Deprecated";
    case NVML_ERROR_NOT_READY: return "Not ready";
    case NVML_ERROR_GPU_NOT_FOUND: return "GPU not found";
    case NVML_ERROR_INVALID_STATE: return "Invalid state";
    case NVML_ERROR_UNKNOWN: break;
  }
  return "Unknown Error";
}

std::string nvml_version(int cuda_version, std::string_view driver_version) {
  if (driver_version.empty() || cuda_version <= 0) return "";
  return std::to_string(cuda_version / 1000) + "." + std::string(driver_version);
}

}  // namespace xg::nvml
