// A channel: a request ring, a response ring and a data area for bulk bytes, in one region of memory shared
// between a zone and its proxy worker, plus a doorbell each way. The transport (shm or xen) supplies the memory
// and the doorbell; everything here is transport-independent.
//
// Region layout (every part page-aligned; geometry is agreed at connection time and each side uses its own
// validated copy, never the copy in the shared header):
//   [ header page ][ req RingControl page ][ req data ][ rsp RingControl page ][ rsp data ][ data area ]
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "idm/doorbell.h"
#include "idm/host_pages.h"
#include "idm/messages_cuda.h"
#include "idm/result.h"
#include "idm/ring.h"

namespace xg::idm {

inline constexpr uint32_t kPageBytes = 4096;
inline constexpr uint32_t kChannelMagic = 0x43475858;  // "XXGC"

struct ChannelGeometry {
  uint32_t request_ring_bytes = 256 * 1024;
  uint32_t response_ring_bytes = 128 * 1024;
  uint32_t max_payload = 64 * 1024 - 64;  // bounds one message (header + payload)
  uint32_t data_pages = 2048;             // data area: 8 MiB by default

  // Bounds a peer-proposed geometry must fit (Xen frontends propose theirs; shm geometry is the proxy's).
  static constexpr uint32_t kMaxRingBytes = 4 * 1024 * 1024;
  static constexpr uint32_t kMaxDataPages = 64 * 1024;  // 256 MiB
  [[nodiscard]] bool valid() const noexcept;
  [[nodiscard]] uint64_t total_bytes() const noexcept;
  [[nodiscard]] uint32_t total_pages() const noexcept { return static_cast<uint32_t>(total_bytes() / kPageBytes); }
  [[nodiscard]] uint64_t data_bytes() const noexcept { return uint64_t{data_pages} * kPageBytes; }
};

// Informational copy in page 0, for debugging tools; never trusted by the proxy.
struct ChannelHeader {
  uint32_t magic;
  uint32_t version;
  ChannelGeometry geometry;
};

enum class Role : uint8_t { kZone, kProxy };

// One side's view of a channel. Does not own the memory or the doorbell (the Endpoint does).
class Channel {
 public:
  Channel() = default;
  // `region` must be at least geometry.total_bytes(). Fails on an invalid geometry or a short region.
  [[nodiscard]] static Result<Channel> attach(std::span<std::byte> region, const ChannelGeometry& geometry,
                                              Role role, Doorbell* doorbell);
  // Writes the header page (done by whoever creates the memory).
  static void format(std::span<std::byte> region, const ChannelGeometry& geometry) noexcept;

  RingProducer& tx() noexcept { return tx_; }
  RingConsumer& rx() noexcept { return rx_; }
  [[nodiscard]] std::span<std::byte> data() const noexcept { return data_; }
  [[nodiscard]] const ChannelGeometry& geometry() const noexcept { return geometry_; }
  [[nodiscard]] Doorbell* doorbell() const noexcept { return doorbell_; }

 private:
  ChannelGeometry geometry_;
  RingProducer tx_;
  RingConsumer rx_;
  std::span<std::byte> data_;
  Doorbell* doorbell_ = nullptr;
};

// Everything one side holds for a connected channel. Move-only; destroying it unmaps and closes.
// Made by the transport (idm/transport.h chooses which); users see only these interfaces.
struct Endpoint {
  std::unique_ptr<SharedMemory> memory;
  std::unique_ptr<Doorbell> doorbell;
  Channel channel;
  // Pinned host memory, the transport's way (host_pages.h): the zone side's on a zone endpoint, the proxy
  // side's on a proxy endpoint; null where the transport has none (a bare test endpoint).
  std::unique_ptr<ZoneHostPages> zone_pages;
  std::unique_ptr<ProxyHostPages> proxy_pages;
};

// Assembles an Endpoint once the transport has produced the memory and the doorbell.
[[nodiscard]] Result<std::unique_ptr<Endpoint>> make_endpoint(std::unique_ptr<SharedMemory> memory,
                                                              std::unique_ptr<Doorbell> doorbell,
                                                              const ChannelGeometry& geometry, Role role);

}  // namespace xg::idm
