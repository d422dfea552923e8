#include "cri-shim/shim_config.h"

#include <cstdlib>
#include <fstream>

#include "gpu-proxy/units.h"

namespace xg::shim {
namespace {

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

}  // namespace

ShimMode resolve_mode(ShimMode mode, const std::string& capabilities) {
  if (mode != ShimMode::kAuto) return mode;
  std::ifstream in(capabilities);
  std::string word;
  while (in >> word)
    if (word == "control_d") return ShimMode::kXen;
  return ShimMode::kStub;
}

std::string_view mode_name(ShimMode mode) noexcept {
  switch (mode) {
    case ShimMode::kStub: return "stub";
    case ShimMode::kXen: return "xen";
    case ShimMode::kAuto: return "auto";
  }
  return "?";
}

std::optional<uint64_t> parse_zone_memory(std::string_view s) noexcept {
  const auto q = proxy::parse_size(s);
  // xl takes whole MiB: a size that is not one would be silently rounded.
  if (!q || *q < kMinZoneMemory || *q > kMaxZoneMemory || *q % (1u << 20) != 0) return std::nullopt;
  return q;
}

std::optional<uint32_t> parse_zone_vcpus(std::string_view s) noexcept {
  if (s.empty() || s.size() > 3) return std::nullopt;
  uint32_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<uint32_t>(c - '0');
  }
  if (n < 1 || n > kMaxZoneVcpus) return std::nullopt;
  return n;
}

bool load_shim_config(const std::string& path, bool must_exist, ShimConfig& cfg, std::string& error) {
  std::ifstream in(path);
  if (!in) {
    if (!must_exist) return true;
    error = "cannot read the shim config " + path;
    return false;
  }
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (const auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    line = trim(line);
    if (line.empty()) continue;
    const auto eq = line.find('=');
    const std::string where = path + ":" + std::to_string(n) + ": ";
    if (eq == std::string::npos) {
      error = where + "expected key = value";
      return false;
    }
    const std::string key = trim(line.substr(0, eq)), value = trim(line.substr(eq + 1));
    if (key == "admin_socket") cfg.admin_socket = value;
    else if (key == "libvgpu_dir") cfg.libvgpu_dir = value;
    else if (key == "runc") cfg.runc = value;
    else if (key == "runc_root") cfg.runc_root = value;
    else if (key == "socket_dir") cfg.socket_dir = value;
    else if (key == "default_memory") {
      const auto q = proxy::parse_size(value);
      if (!q || *q == 0) {
        error = where + "default_memory '" + value + "' is not a size (e.g. 4GiB)";
        return false;
      }
      cfg.default_memory = *q;
    } else if (key == "default_weight") {
      const auto w = proxy::parse_weight(value);
      if (!w) {
        error = where + "default_weight '" + value + "' is not a weight (1.." + std::to_string(proxy::kMaxWeight) + ")";
        return false;
      }
      cfg.default_weight = *w;
    } else if (key == "mode") {
      if (value == "stub") cfg.mode = ShimMode::kStub;
      else if (value == "xen") cfg.mode = ShimMode::kXen;
      else if (value == "auto") cfg.mode = ShimMode::kAuto;
      else {
        error = where + "mode '" + value + "' is not stub, xen or auto";
        return false;
      }
    } else if (key == "zone_kernel") cfg.zone_kernel = value;
    else if (key == "zone_initramfs") cfg.zone_initramfs = value;
    else if (key == "xl") cfg.xl = value;
    else if (key == "block_script") cfg.block_script = value;
    else if (key == "zone_memory") {
      const auto q = parse_zone_memory(value);
      if (!q) {
        error = where + "zone_memory '" + value + "' is not a size in whole MiB from 64MiB to 64GiB";
        return false;
      }
      cfg.zone_memory = *q;
    } else if (key == "zone_vcpus") {
      const auto n = parse_zone_vcpus(value);
      if (!n) {
        error = where + "zone_vcpus '" + value + "' is not a whole number from 1 to " + std::to_string(kMaxZoneVcpus);
        return false;
      }
      cfg.zone_vcpus = *n;
    } else {
      error = where + "unknown key '" + key + "'";
      return false;
    }
  }
  return true;
}

bool load_shim_config_for(const std::string& options_config_path, ShimConfig& cfg, std::string& error) {
  if (!options_config_path.empty()) return load_shim_config(options_config_path, true, cfg, error);
  if (const char* env = std::getenv("XEN_GPU_SHIM_CONFIG"); env && *env) return load_shim_config(env, true, cfg, error);
  return load_shim_config("/etc/xen-gpu/shim.conf", false, cfg, error);
}

}  // namespace xg::shim
