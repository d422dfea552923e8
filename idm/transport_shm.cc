#include "idm/transport_shm.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "idm/codec.h"
#include "idm/futex_doorbell.h"
#include "idm/log.h"

namespace xg::idm {

Result<std::unique_ptr<ShmMemory>> ShmMemory::create(size_t bytes, const char* debug_name) {
  UniqueFd fd(::memfd_create(debug_name, MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd.valid() || ::ftruncate(fd.get(), static_cast<off_t>(bytes)) != 0) {
    log_errno("memfd_create/ftruncate");
    return Error::kSystem;
  }
  // The size is fixed from here on: a zone cannot shrink the file under the proxy's mapping (SIGBUS).
  ::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
  return map(std::move(fd), bytes);
}

Result<std::unique_ptr<ShmMemory>> ShmMemory::map(UniqueFd fd, size_t bytes) {
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0 || static_cast<uint64_t>(st.st_size) < bytes) {
    log_line("shm: channel memory is smaller than its geometry");
    return Error::kBadLength;
  }
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (p == MAP_FAILED) {
    log_errno("mmap channel");
    return Error::kSystem;
  }
  return std::unique_ptr<ShmMemory>(new ShmMemory(std::move(fd), static_cast<std::byte*>(p), bytes));
}

ShmMemory::~ShmMemory() { ::munmap(base_, size_); }

Result<Registration> read_hello(UniqueFd socket, std::chrono::milliseconds timeout) {
  std::array<std::byte, sizeof(MsgHeader) + sizeof(HelloReq) + kMaxZoneName> buf{};
  auto n = recv_packet(socket.get(), buf, nullptr, timeout);
  if (!n) {
    log_line(std::string("registration: no usable Hello: ") + std::string(error_name(n.error())));
    return n.error();
  }
  auto m = decode(std::span(buf).first(*n), Direction::kRequest, Path::kSocket);
  if (!m || m->op() != Op::Hello) {
    log_line(std::string("registration: rejected Hello: ") +
             std::string(error_name(m ? Error::kUnknownOpcode : m.error())));
    return m ? Error::kUnknownOpcode : m.error();
  }
  Registration reg;
  reg.hello = m->fixed<HelloReq>();
  auto tail = m->tail<HelloReq>();
  reg.name.assign(reinterpret_cast<const char*>(tail.data()), tail.size());
  reg.socket = std::move(socket);
  return reg;
}

Error send_welcome(int socket, uint32_t zone_id, const ChannelGeometry& g, int memfd) {
  WelcomeRsp w{zone_id, g.request_ring_bytes, g.response_ring_bytes, g.max_payload, g.data_pages, 0};
  std::array<std::byte, sizeof(MsgHeader) + sizeof w> buf{};
  auto n = encode(buf, make_header(Op::Hello, 0, sizeof w, kFlagResponse, 0), bytes_of(w));
  if (!n) return n.error();
  return send_packet(socket, std::span(buf).first(*n), memfd);
}

Result<std::unique_ptr<Endpoint>> welcome_zone(Registration& reg, uint32_t zone_id, const ChannelGeometry& g) {
  auto mem = ShmMemory::create(g.total_bytes(), "xen-gpu-channel");
  if (!mem) return mem.error();
  Channel::format((*mem)->bytes(), g);
  if (Error e = send_welcome(reg.socket.get(), zone_id, g, (*mem)->fd()); e != Error::kOk) return e;
  const int socket = reg.socket.get();
  auto ep = make_endpoint(std::move(mem.value()), std::make_unique<FutexDoorbell>(std::move(reg.socket)), g,
                          Role::kProxy);
  if (!ep) return ep.error();
  // The registration socket, now the doorbell's liveness link, also carries pinned memory's memfds.
  (*ep)->proxy_pages = memfd_proxy_pages(socket);
  return ep;
}

namespace {

class ShmAcceptor final : public ZoneAcceptor {
 public:
  explicit ShmAcceptor(UniqueFd socket) : socket_(std::move(socket)) {}

  Result<std::optional<ZoneIntroduction>> introduction(std::chrono::milliseconds timeout) override {
    // The zone's Hello: hostile bytes, parsed here in the worker and never in the daemon.
    auto reg = read_hello(std::move(socket_), timeout);
    if (!reg) return reg.error();
    reg_ = std::move(reg.value());
    return std::optional<ZoneIntroduction>(ZoneIntroduction{reg_->name, reg_->hello.pid, reg_->hello.requested_quota});
  }

  Result<std::unique_ptr<Endpoint>> accept(uint32_t zone_id, const std::atomic<bool>&) override {
    if (!reg_) return Error::kInvalidField;  // introduction() first
    // XG_SHM_DATA_PAGES (tests): a smaller data area, e.g. 256 pages = the Xen channel's 1 MiB, so that bulk
    // copies reuse data-area regions inside one copy as they do over Xen.
    ChannelGeometry geometry{};
    if (const char* dp = std::getenv("XG_SHM_DATA_PAGES"); dp != nullptr && *dp != '\0') {
      const unsigned long pages = std::strtoul(dp, nullptr, 10);
      if (pages >= 16 && pages <= geometry.data_pages) geometry.data_pages = static_cast<uint32_t>(pages);
    }
    return welcome_zone(*reg_, zone_id, geometry);
  }

  bool zone_lives_on() override { return false; }  // the zone is this one program
  void await_peer_closed() override {}
  std::string log_label() const override { return ""; }
  std::string serving_what() const override { return ""; }

 private:
  UniqueFd socket_;
  std::optional<Registration> reg_;
};

}  // namespace

std::unique_ptr<ZoneAcceptor> open_shm_acceptor(UniqueFd socket) {
  return std::make_unique<ShmAcceptor>(std::move(socket));
}

Result<ZoneConnection> register_zone(UniqueFd socket, std::string_view name, uint64_t requested_quota,
                                     std::chrono::milliseconds timeout) {
  HelloReq hello{kProtocolVersion, static_cast<uint32_t>(::getpid()), requested_quota};
  std::array<std::byte, sizeof(MsgHeader) + sizeof(HelloReq) + kMaxZoneName> out{};
  auto tail = std::as_bytes(std::span(name.data(), name.size()));
  if (!hello.valid(tail) || tail.size() > kMaxZoneName) return Error::kInvalidField;
  auto n = encode(out, make_header(Op::Hello, 0, static_cast<uint32_t>(sizeof hello + tail.size()), 0, 0),
                  bytes_of(hello), tail);
  if (!n) return n.error();
  if (Error e = send_packet(socket.get(), std::span(out).first(*n)); e != Error::kOk) return e;

  std::array<std::byte, sizeof(MsgHeader) + sizeof(WelcomeRsp)> in{};
  UniqueFd memfd;
  auto got = recv_packet(socket.get(), in, &memfd, timeout);
  if (!got) return got.error();
  auto m = decode(std::span(in).first(*got), Direction::kResponse, Path::kSocket);
  if (!m) return m.error();
  if (m->header.result != 0) return Error::kInvalidField;  // the proxy refused us
  if (!memfd.valid()) return Error::kTruncated;
  const WelcomeRsp w = m->fixed<WelcomeRsp>();
  ChannelGeometry g{w.request_ring_bytes, w.response_ring_bytes, w.max_payload, w.data_pages};
  if (!g.valid()) return Error::kInvalidField;
  auto mem = ShmMemory::map(std::move(memfd), g.total_bytes());
  if (!mem) return mem.error();
  const int fd = socket.get();
  auto ep = make_endpoint(std::move(mem.value()), std::make_unique<FutexDoorbell>(std::move(socket)), g,
                          Role::kZone);
  if (!ep) return ep.error();
  (*ep)->zone_pages = memfd_zone_pages(fd);  // the worker's memfds arrive on the registration socket
  return ZoneConnection{w.zone_id, std::move(ep.value())};
}

Result<ZoneConnection> connect_zone(const std::string& socket_path, std::string_view name, uint64_t requested_quota,
                                    std::chrono::milliseconds timeout) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path) return Error::kBadLength;
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!fd.valid() || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return Error::kPeerGone;
  }
  return register_zone(std::move(fd), name, requested_quota, timeout);
}

}  // namespace xg::idm
