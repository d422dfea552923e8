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

// Memory shared with the peer; the transport's RAII mapping (memfd mmap, or Xen grant mapping/sharing).
class SharedMemory {
 public:
  virtual ~SharedMemory() = default;
  [[nodiscard]] virtual std::span<std::byte> bytes() noexcept = 0;
};

// Host memory beyond the channel that the zone lends the proxy: pinned host allocations on a transport that
// cannot pass file descriptors (Xen: the zone grants its own pages, as Xen frontends do, and the driver domain
// maps them). The pages are named by "directory" pages holding their references (kRefsPerLendDirPage each),
// so a large allocation costs one short message (layout and bounds: messages_cuda.h). A transport that can pass
// fds (shm: the proxy allocates and sends a memfd) has neither side.

// Zone side: pages lent to the proxy. Destroying it takes them back (after the proxy has unmapped them, or when
// it does: the transport defers freeing).
class LentPages : public SharedMemory {
 public:
  [[nodiscard]] virtual std::span<const uint32_t> directory_refs() const noexcept = 0;
};
class PageLender {
 public:
  virtual ~PageLender() = default;
  [[nodiscard]] virtual Result<std::unique_ptr<LentPages>> lend(uint32_t pages) = 0;
};
// Proxy side: maps pages a zone lent, named by its directory refs (hostile input: bounded and checked).
class PageBorrower {
 public:
  virtual ~PageBorrower() = default;
  [[nodiscard]] virtual Result<std::unique_ptr<SharedMemory>> borrow(std::span<const uint32_t> directory_refs,
                                                                     uint32_t pages) = 0;
};

// Everything one side holds for a connected channel. Move-only; destroying it unmaps and closes.
struct Endpoint {
  std::unique_ptr<SharedMemory> memory;
  std::unique_ptr<Doorbell> doorbell;
  Channel channel;
  std::unique_ptr<PageLender> lender;      // zone side of a transport that lends host pages (Xen); else null
  std::unique_ptr<PageBorrower> borrower;  // proxy side of the same
};

// Assembles an Endpoint once the transport has produced the memory and the doorbell.
[[nodiscard]] Result<std::unique_ptr<Endpoint>> make_endpoint(std::unique_ptr<SharedMemory> memory,
                                                              std::unique_ptr<Doorbell> doorbell,
                                                              const ChannelGeometry& geometry, Role role);

}  // namespace xg::idm
