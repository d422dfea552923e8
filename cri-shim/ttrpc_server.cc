#include "cri-shim/ttrpc_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <mutex>
#include <thread>

#include "cri-shim/proto/ttrpc.pb.h"
#include "cri-shim/ttrpc_frame.h"

namespace xg::shim {
namespace {

// Calls in flight on one connection: containerd keeps a handful (a Wait per process, plus the call of the
// moment); past this a peer is flooding us and gets RESOURCE_EXHAUSTED instead of another thread.
constexpr int kMaxCallsPerConnection = 256;

struct Connection {
  idm::UniqueFd fd;
  std::mutex write_mu;
  std::atomic<int> calls{0};

  void send(uint32_t stream_id, const std::string& body) {
    const std::string frame = encode_ttrpc_frame(stream_id, TtrpcType::kResponse, body);
    std::lock_guard lock(write_mu);
    size_t off = 0;
    while (off < frame.size()) {
      const ssize_t n = ::send(fd.get(), frame.data() + off, frame.size() - off, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // the peer went away; its reader thread ends the connection
      off += static_cast<size_t>(n);
    }
  }
};

std::string response_body(const RpcReply& r) {
  ::ttrpc::Response resp;
  if (r.code != RpcCode::kOk) {
    resp.mutable_status()->set_code(static_cast<int32_t>(r.code));
    resp.mutable_status()->set_message(r.message);
  } else {
    resp.set_payload(r.payload);
  }
  return resp.SerializeAsString();
}

void serve_connection(std::shared_ptr<Connection> conn, const RpcHandler& handler) {
  TtrpcFrameReader reader;
  std::array<std::byte, 64 * 1024> buf{};
  for (;;) {
    const ssize_t n = ::recv(conn->fd.get(), buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    reader.feed(std::span(buf.data(), static_cast<size_t>(n)));
    while (auto frame = reader.next()) {
      // ttrpc ignores message types it does not know (room for later protocol versions); so do we.
      if (frame->type != static_cast<uint8_t>(TtrpcType::kRequest)) continue;
      if (conn->calls.load() >= kMaxCallsPerConnection) {
        conn->send(frame->stream_id, response_body(rpc_error(RpcCode::kResourceExhausted, "too many calls in flight")));
        continue;
      }
      ++conn->calls;
      std::thread([conn, &handler, f = std::move(*frame)] {
        conn->send(f.stream_id, serve_ttrpc_request(f.body, handler));
        --conn->calls;
      }).detach();
    }
    if (reader.failed()) return;  // framing broken: nothing after this can be trusted to line up
  }
}

}  // namespace

std::string serve_ttrpc_request(const std::string& body, const RpcHandler& handler) {
  ::ttrpc::Request req;
  if (!req.ParseFromString(body))
    return response_body(rpc_error(RpcCode::kInvalidArgument, "malformed ttrpc request"));
  // Bound what we echo into logs and errors; names longer than this are not containerd's.
  if (req.service().size() > 256 || req.method().size() > 256)
    return response_body(rpc_error(RpcCode::kInvalidArgument, "service or method name too long"));
  return response_body(handler(req.service(), req.method(), req.payload()));
}

TtrpcServer::TtrpcServer(idm::UniqueFd listener, RpcHandler handler)
    : listener_(std::move(listener)), handler_(std::move(handler)) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0) {
    wake_read_.reset(p[0]);
    wake_write_.reset(p[1]);
  }
}

void TtrpcServer::serve() {
  for (;;) {
    pollfd fds[2] = {{listener_.get(), POLLIN, 0}, {wake_read_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents) return;
    if (!(fds[0].revents & POLLIN)) continue;
    idm::UniqueFd c(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!c.valid()) continue;
    auto conn = std::make_shared<Connection>();
    conn->fd = std::move(c);
    std::thread([conn, this] { serve_connection(conn, handler_); }).detach();
  }
}

void TtrpcServer::stop() {
  const char b = 1;
  (void)!::write(wake_write_.get(), &b, 1);
}

}  // namespace xg::shim
