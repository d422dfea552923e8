// Pinned host memory over the shm transport: the worker makes a sealed memfd and sends it, with the allocation's
// handle, on the zone's registration socket before it answers on the ring; the zone maps it MAP_SHARED.
#include <array>
#include <cstring>

#include "idm/log.h"
#include "idm/transport_shm.h"

namespace xg::idm {
namespace {

constexpr uint64_t kPage = 4096;
constexpr auto kFdTimeout = std::chrono::milliseconds(5000);
constexpr uint64_t kMaxMappedBytes = uint64_t{1} << 46;  // beyond any real allocation: a worker that lies

class MemfdZonePages final : public ZoneHostPages {
 public:
  explicit MemfdZonePages(int socket) : socket_(socket) {}

  Result<PinnedOffer> offer(uint64_t bytes) override {
    PinnedOffer o;
    o.from = HostPages::kProxy;
    o.bytes = bytes;
    return o;
  }

  Result<std::unique_ptr<SharedMemory>> accept(PinnedOffer offer, uint64_t handle, uint64_t bytes) override {
    if (bytes < offer.bytes || bytes > kMaxMappedBytes) return Error::kBadLength;
    std::array<std::byte, sizeof(uint64_t)> packet{};
    UniqueFd fd;
    auto n = recv_packet(socket_, packet, &fd, kFdTimeout);
    if (!n) return n.error() == Error::kPeerGone ? Error::kPeerGone : Error::kSystem;
    if (*n != sizeof(uint64_t) || !fd.valid()) return Error::kSystem;
    uint64_t got = 0;
    std::memcpy(&got, packet.data(), sizeof got);
    // The worker sends the memfd right before its answer on the ring, one allocation at a time under the
    // connection's lock: another handle here is a worker that broke the protocol.
    if (got != handle) return Error::kPeerImpossible;
    auto mem = ShmMemory::map(std::move(fd), bytes);
    if (!mem) return mem.error() == Error::kSystem ? Error::kNoMemory : mem.error();
    return std::unique_ptr<SharedMemory>(std::move(mem.value()));
  }

 private:
  int socket_;  // borrowed: the registration socket, owned by the endpoint's doorbell
};

class MemfdProxyPages final : public ProxyHostPages {
 public:
  explicit MemfdProxyPages(int socket) : socket_(socket) {}

  HostPages kind() const noexcept override { return HostPages::kProxy; }

  Result<std::unique_ptr<SharedMemory>> obtain(uint64_t bytes, std::span<const std::byte>) override {
    auto mem = ShmMemory::create((bytes + kPage - 1) / kPage * kPage, "xen-gpu-pinned");  // zero-filled
    if (!mem) return mem.error();
    return std::unique_ptr<SharedMemory>(std::move(mem.value()));
  }

  Error hand_over(uint64_t handle, SharedMemory& pages) override {
    // `pages` came from obtain() above: always a memfd mapping.
    const int fd = static_cast<ShmMemory&>(pages).fd();
    return send_packet(socket_, std::as_bytes(std::span(&handle, 1)), fd);
  }

 private:
  int socket_;  // borrowed, as above
};

}  // namespace

std::unique_ptr<ZoneHostPages> memfd_zone_pages(int socket) { return std::make_unique<MemfdZonePages>(socket); }
std::unique_ptr<ProxyHostPages> memfd_proxy_pages(int socket) { return std::make_unique<MemfdProxyPages>(socket); }

}  // namespace xg::idm
