// The pure parts of the zone's NVML: strings in NVML's formats, the size and version rules of its outputs, and the
// zone's figures turned into NVML's structs. No state, no driver: unit-tested in nvml_test.cc.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "libvgpu/nvml/nvml_abi.h"

namespace xg::nvml {

// "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" from the device's 16 UUID bytes (cuDeviceGetUuid), lower-case hex,
// as NVIDIA's NVML and nvidia-smi print it. 40 characters.
[[nodiscard]] std::string uuid_string(std::span<const unsigned char, 16> bytes);
inline constexpr size_t kUuidChars = 40;

// Copies `s` and its NUL into buf[length]: INVALID_ARGUMENT for a NULL buffer, INSUFFICIENT_SIZE when it does not
// fit (NVML fills nothing then), SUCCESS.
[[nodiscard]] nvmlReturn_t copy_string(std::string_view s, char* buf, unsigned int length) noexcept;

struct PciAddress {
  unsigned int domain = 0, bus = 0, device = 0;
  friend bool operator==(const PciAddress&, const PciAddress&) = default;
};
[[nodiscard]] std::string bus_id(const PciAddress& a);         // "00000000:01:00.0" (nvmlPciInfo_t.busId)
[[nodiscard]] std::string bus_id_legacy(const PciAddress& a);  // "0000:01:00.0" (busIdLegacy, v1's busId)
// Parses what nvmlDeviceGetHandleByPciBusId takes: "domain:bus:device.function", "domain:bus:device" or
// "bus:device.function" (hex, any case; the domain of the short form is 0). nullopt for anything else.
[[nodiscard]] std::optional<PciAddress> parse_bus_id(std::string_view s);
// pciDeviceId and pciSubSystemId are not known in a zone (no CUDA call reports them): 0, as STATUS.md says.
void fill_pci_info(const PciAddress& a, nvmlPciInfo_t* out);
void fill_pci_info_v1(const PciAddress& a, nvmlPciInfo_v1_t* out);

// A versioned struct's first field must be exactly the version the caller's header promised (size and version):
// ARGUMENT_VERSION_MISMATCH otherwise, as NVML answers a struct of another layout.
[[nodiscard]] nvmlReturn_t check_version(unsigned int given, unsigned int expected) noexcept;

// The zone's memory in NVML's terms: total = the quota, used = what all of the zone's programs use (their
// contexts included), free = the rest (0 when over: a quota lowered below the use).
struct ZoneMemory {
  uint64_t total = 0, used = 0, free = 0;
};
[[nodiscard]] ZoneMemory zone_memory(uint64_t quota_bytes, uint64_t used_bytes) noexcept;

// 0..1000 per mille to NVML's 0..100 percent, rounded to nearest.
[[nodiscard]] unsigned int percent(uint32_t permille) noexcept;

struct Program {
  uint32_t pid = 0;
  uint64_t used_bytes = 0;
};
// NVML's process-list protocol: *count in = capacity of infos; out = the number of processes. Too small a
// capacity: *count = the number, INSUFFICIENT_SIZE, nothing written (a capacity of 0 with no processes is
// SUCCESS). NULL count, or NULL infos with a capacity, INVALID_ARGUMENT.
[[nodiscard]] nvmlReturn_t fill_processes(std::span<const Program> programs, unsigned int* count,
                                          nvmlProcessInfo_v1_t* infos) noexcept;
[[nodiscard]] nvmlReturn_t fill_processes(std::span<const Program> programs, unsigned int* count,
                                          nvmlProcessInfo_v2_t* infos) noexcept;

// nvmlErrorString's text; never NULL ("Unknown Error" for codes NVML does not define). Takes the code as an int:
// a caller may pass any value, which an nvmlReturn_t could not hold.
[[nodiscard]] const char* error_string(int code) noexcept;

// nvmlSystemGetNVMLVersion's "<CUDA major>.<driver version>" (e.g. "13.580.159.04"); "" when the driver's
// version is unknown.
[[nodiscard]] std::string nvml_version(int cuda_version, std::string_view driver_version);

}  // namespace xg::nvml
