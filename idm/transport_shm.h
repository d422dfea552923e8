// The shm transport: channel memory is a memfd, handed from the proxy to the zone over a Unix socket with
// SCM_RIGHTS; doorbells are futexes in that memory; the registration socket stays open as the liveness link
// (its hang-up is how each side learns the other died).
//
// Registration (SOCK_SEQPACKET, one IDM control message per packet):
//   zone -> proxy   Hello{version, pid, requested quota} + zone name tail
//   proxy -> zone   Welcome{zone id, geometry} + the memfd
// The Xen transport (idm/xen/) follows the same shape with grant references and an event channel exchanged
// through xenstore instead. Callers outside idm/ use idm/transport.h, which chooses; tests and benchmarks that
// want shm itself call these directly.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "idm/channel.h"
#include "idm/messages.h"
#include "idm/result.h"
#include "idm/transport.h"
#include "idm/unique_fd.h"
#include "idm/unix_socket.h"

namespace xg::idm {

// A memfd mapped shared. Zero-filled when created.
class ShmMemory final : public SharedMemory {
 public:
  [[nodiscard]] static Result<std::unique_ptr<ShmMemory>> create(size_t bytes, const char* debug_name);
  // Maps a received memfd. `bytes` comes from our own validated geometry; the file must be at least that big.
  [[nodiscard]] static Result<std::unique_ptr<ShmMemory>> map(UniqueFd fd, size_t bytes);
  ~ShmMemory() override;
  std::span<std::byte> bytes() noexcept override { return {base_, size_}; }
  [[nodiscard]] int fd() const noexcept { return fd_.get(); }

 private:
  ShmMemory(UniqueFd fd, std::byte* base, size_t size) : fd_(std::move(fd)), base_(base), size_(size) {}
  UniqueFd fd_;
  std::byte* base_;
  size_t size_;
};

// Pinned host memory over shm (host_pages_shm.cc): the worker sends a memfd per allocation on `socket`, the
// registration socket (borrowed: it must outlive the object). Endpoints made here carry them already.
[[nodiscard]] std::unique_ptr<ZoneHostPages> memfd_zone_pages(int socket);
[[nodiscard]] std::unique_ptr<ProxyHostPages> memfd_proxy_pages(int socket);

// Proxy side ---------------------------------------------------------------------------------------------

// A registration read off an accepted socket: validated Hello and the zone's name.
struct Registration {
  UniqueFd socket;
  HelloReq hello{};
  std::string name;
};
// Reads and validates one Hello (bounded size, bounded wait). A malformed Hello is an error, never a crash.
[[nodiscard]] Result<Registration> read_hello(UniqueFd socket, std::chrono::milliseconds timeout);
// Creates the channel memory for a registered zone, sends Welcome + memfd, and returns the proxy's endpoint
// (doorbell liveness = the registration socket).
[[nodiscard]] Result<std::unique_ptr<Endpoint>> welcome_zone(Registration& reg, uint32_t zone_id,
                                                             const ChannelGeometry& geometry);
// Sends Welcome + memfd for memory created elsewhere (the daemon creates it; a worker serves it).
[[nodiscard]] Error send_welcome(int socket, uint32_t zone_id, const ChannelGeometry& geometry, int memfd);

// A worker's acceptor for an shm zone (idm/transport.h): the zone's Hello arrives on `socket`, the registration
// socket the daemon handed over; accept() answers it with Welcome + the channel memfd.
[[nodiscard]] std::unique_ptr<ZoneAcceptor> open_shm_acceptor(UniqueFd socket);

// Zone side ----------------------------------------------------------------------------------------------

struct ZoneConnection {
  uint32_t zone_id = 0;
  std::unique_ptr<Endpoint> endpoint;
};
[[nodiscard]] Result<ZoneConnection> connect_zone(const std::string& socket_path, std::string_view name,
                                                  uint64_t requested_quota, std::chrono::milliseconds timeout);
// Completes registration on an already-connected socket (used when the socket was inherited).
[[nodiscard]] Result<ZoneConnection> register_zone(UniqueFd socket, std::string_view name, uint64_t requested_quota,
                                                   std::chrono::milliseconds timeout);

}  // namespace xg::idm
