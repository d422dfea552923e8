// Payloads of the transport-level messages: registration, liveness, conformance and benchmark traffic.
// Wire rules: see protocol.h. Each struct is named in the table in messages.h.
#pragma once

#include <cstdint>
#include <span>

namespace xg::idm {

struct Empty {};  // payload of messages that carry nothing (sizeof 1 is never sent: see codec.h)

// Zone -> proxy over the registration socket. The name is a tail of at most kMaxZoneName bytes, [A-Za-z0-9._-].
inline constexpr uint32_t kMaxZoneName = 63;
struct HelloReq {
  uint32_t protocol_version;
  uint32_t pid;               // informational (logs)
  uint64_t requested_quota;   // bytes; 0 = the proxy's default. The proxy clamps it to policy.
  [[nodiscard]] bool valid(std::span<const std::byte> tail) const noexcept;
};
// Proxy -> zone, with the channel memory as SCM_RIGHTS.
struct WelcomeRsp {
  uint32_t zone_id;
  uint32_t request_ring_bytes;
  uint32_t response_ring_bytes;
  uint32_t max_payload;
  uint32_t data_pages;
  uint32_t reserved;
};

struct PingReq {
  uint64_t token;
};
struct PingRsp {
  uint64_t token;
};

// Echo carries a tail back and forth (conformance tests, benchmarks).
inline constexpr uint32_t kMaxEchoTail = 32 * 1024;
struct EchoReq {
  uint32_t checksum;  // FNV-1a of the tail; the proxy checks it
  uint32_t reserved;
  [[nodiscard]] bool valid(std::span<const std::byte> tail) const noexcept;
};
struct EchoRsp {
  uint32_t checksum;
  uint32_t reserved;
};

// Fire-and-forget: counts and checksums posted values (ring stress tests and one-way throughput).
struct NopPost {
  uint64_t value;
};

// Bulk bytes placed in the channel's data area; the proxy copies them out and answers with their checksum.
inline constexpr uint32_t kBulkWantChecksum = 1;
struct BulkPutReq {
  uint64_t offset;  // into the data area
  uint64_t length;
  uint32_t flags;   // kBulkWantChecksum
  uint32_t reserved;
  [[nodiscard]] bool valid(std::span<const std::byte> tail) const noexcept {
    return (flags & ~kBulkWantChecksum) == 0 && reserved == 0;
  }
};
struct BulkPutRsp {
  uint32_t checksum;
  uint32_t reserved;
};

// The zone's own view of its share of the GPU, across all of its programs: what its NVML (libvgpu/nvml,
// nvidia-smi in the zone) reports. The tail lists the zone's programs, one ZoneProgramInfo each.
inline constexpr uint32_t kMaxZonePrograms = 64;
inline constexpr uint32_t kDriverVersionChars = 32;
struct ZoneInfoReq {
  uint64_t reserved;
  [[nodiscard]] bool valid(std::span<const std::byte>) const noexcept { return reserved == 0; }
};
struct ZoneInfoRsp {
  uint64_t quota_bytes;
  uint64_t used_bytes;      // device allocations + contexts' overhead, over all of the zone's programs
  uint64_t overhead_bytes;  // the contexts' part of used_bytes
  uint64_t gpu_ns;          // GPU time accounted to the zone so far
  uint32_t programs;
  uint32_t gpu_util_permille;  // the zone's share of GPU time over the last interval
  uint32_t weight;
  uint32_t reserved;
  char driver_version[kDriverVersionChars];  // the driver domain's driver ("580.159.04"), NUL-terminated; may be ""
};
struct ZoneProgramInfo {
  uint32_t zone_pid;  // as the program said in its Hello (0: not known, e.g. Xen)
  uint32_t reserved;
  uint64_t used_bytes;  // its device allocations + its contexts' overhead
};

[[nodiscard]] uint32_t fnv1a(std::span<const std::byte> bytes) noexcept;

}  // namespace xg::idm
