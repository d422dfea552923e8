#include "libvgpu/connection.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "cuda/errors.h"
#include "idm/futex_doorbell.h"
#include "idm/transport_shm.h"
#ifdef XG_HAVE_XEN_TRANSPORT
#include "idm/xen/transport_xen.h"
#endif

namespace xg::vgpu {
namespace {

#ifdef XG_HAVE_XEN_TRANSPORT
// Are we a Xen guest whose xenstore has our device node (device/xen-gpu/0, created by the zone's gpu-proxy
// worker in the driver domain when the operator ran `xen-gpu attach`)? Returns the backend's domain id.
bool in_xen_guest() {
  return ::access("/dev/xen/xenbus", F_OK) == 0 || ::access("/proc/xen/capabilities", F_OK) == 0;
}

// Was this domain attached at all (device/xen-gpu exists; its device 0 is rewritten between two programs)?
bool xen_device_dir() {
  if (!in_xen_guest()) return false;
  auto xs = idm::xen::xs_connect();
  return xs && idm::xen::xs_get(xs.get(), std::string("device/") + idm::xen::kDeviceType).has_value();
}

std::optional<uint32_t> xen_device_backend() {
  if (!in_xen_guest()) return std::nullopt;
  auto xs = idm::xen::xs_connect();
  if (!xs) return std::nullopt;
  auto v = idm::xen::xs_get(xs.get(), std::string("device/") + idm::xen::kDeviceType + "/0/backend-id");
  if (!v || v->empty() || v->size() > 5 || v->find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return static_cast<uint32_t>(std::strtoul(v->c_str(), nullptr, 10));
}

idm::Result<Transport> connect_xen(std::chrono::milliseconds timeout) {
  // Forced (XEN_GPU_TRANSPORT=xen), or between two programs of the zone (the worker rewrites the node): the
  // node may be a moment away.
  const auto until = std::chrono::steady_clock::now() + std::min(timeout, std::chrono::milliseconds(5000));
  auto backend = xen_device_backend();
  while (!backend && std::chrono::steady_clock::now() < until) {
    ::usleep(50'000);
    backend = xen_device_backend();
  }
  if (!backend) {
    std::fprintf(stderr, "libvgpu: no xen-gpu device in this domain's xenstore (has the operator run "
                         "`xen-gpu attach --domid N` in the driver domain?)\n");
    return idm::Error::kPeerGone;
  }
  idm::xen::FrontendOptions o;
  o.backend_domid = *backend;
  o.devid = 0;
  o.timeout = timeout;
  auto ep = idm::xen::connect_frontend(o);
  if (!ep) return ep.error();
  Transport t;
  t.endpoint = std::move(ep.value());
  t.host_memory_fd = -1;  // no fd passing over Xen: pinned host memory is the zone's own pages, lent by grant
  return t;
}
#endif

idm::Result<Transport> connect_shm(const std::string& path, std::string_view zone_name, uint64_t requested_quota,
                                   std::chrono::milliseconds timeout) {
  auto zc = idm::connect_zone(path, zone_name, requested_quota, timeout);
  if (!zc) return zc.error();
  Transport t;
  t.zone_id = zc->zone_id;
  t.endpoint = std::move(zc->endpoint);
  // shm: the registration socket doubles as the liveness link and carries pinned-memory fds (SCM_RIGHTS).
  t.host_memory_fd = static_cast<idm::FutexDoorbell&>(*t.endpoint->doorbell).liveness_fd();
  return t;
}

}  // namespace

// XEN_GPU_TRANSPORT=shm|xen decides; otherwise Xen when XEN_GPU_SOCKET is not set (an shm zone started by
// `xen-gpu run` always has it) and this is a Xen guest with our device directory (device/xen-gpu) in its
// xenstore; shm otherwise.
idm::Result<Transport> connect_transport(const std::string& path, std::string_view zone_name,
                                         uint64_t requested_quota, std::chrono::milliseconds timeout) {
  const char* forced = std::getenv("XEN_GPU_TRANSPORT");
  const std::string_view want = forced != nullptr ? std::string_view(forced) : std::string_view();
  if (want == "xen") {
#ifdef XG_HAVE_XEN_TRANSPORT
    return connect_xen(timeout);
#else
    std::fprintf(stderr, "libvgpu: XEN_GPU_TRANSPORT=xen, but this libvgpu was built without the Xen transport\n");
    return idm::Error::kSystem;
#endif
  }
#ifdef XG_HAVE_XEN_TRANSPORT
  const char* sock = std::getenv("XEN_GPU_SOCKET");
  if (want != "shm" && (sock == nullptr || *sock == '\0') && xen_device_dir()) return connect_xen(timeout);
#endif
  return connect_shm(path, zone_name, requested_quota, timeout);
}

CUresult to_cuda_result(uint32_t wire) noexcept {
  if (wire > 0x7fffffffu || cuda::error_name(static_cast<int>(wire)) == nullptr) return CUDA_ERROR_UNKNOWN;
  return static_cast<CUresult>(wire);
}

Connection::Connection(Transport t)
    : endpoint_(std::move(t.endpoint)), zone_id_(t.zone_id), host_memory_fd_(t.host_memory_fd) {
  const idm::ChannelGeometry& g = channel().geometry();
  rx_.resize(g.max_payload);
  chunk_ = (g.data_bytes() / 4) & ~uint64_t{63};
  const uint32_t header = sizeof(idm::MsgHeader);
  const uint32_t req_fixed = sizeof(idm::MemcpyHtoDReq);
  inline_req_ = g.max_payload > header + req_fixed ? std::min(IDM_INLINE_COPY, g.max_payload - header - req_fixed) : 0;
  inline_rsp_ = g.max_payload > header ? std::min(IDM_INLINE_COPY, g.max_payload - header) : 0;
}

CUresult Connection::transport_error(idm::Error e) noexcept {
  if (!dead_.exchange(true)) {
    std::fprintf(stderr,
                 "libvgpu: lost the channel to the GPU proxy (%.*s); every CUDA call now returns "
                 "CUDA_ERROR_DEVICE_UNAVAILABLE\n",
                 static_cast<int>(idm::error_name(e).size()), idm::error_name(e).data());
  }
  return CUDA_ERROR_DEVICE_UNAVAILABLE;
}

CUresult Connection::wait(uint32_t seq, Reply* out) {
  if (dead()) return CUDA_ERROR_DEVICE_UNAVAILABLE;
  if (outstanding_.empty() || outstanding_.front().seq != seq) return CUDA_ERROR_ILLEGAL_STATE;  // our own bug
  const Pending want = outstanding_.front();
  auto n = channel().rx().pop(rx_);
  if (!n) return transport_error(n.error());
  auto m = idm::decode(std::span(rx_).first(*n), idm::Direction::kResponse, idm::Path::kRing);
  // The worker answers every call, in order: anything else is a peer that broke the protocol.
  if (!m) return transport_error(idm::Error::kPeerImpossible);
  if (m->header.seq != want.seq || m->op() != want.op) return transport_error(idm::Error::kPeerImpossible);
  outstanding_.pop_front();
  release_through(want.seq);
  out->result = to_cuda_result(m->header.result);
  out->msg = *m;
  return CUDA_SUCCESS;
}

void Connection::release_through(uint32_t seq) noexcept {
  // Serial-number order: a region is free once a response to its message or any later one has arrived.
  while (!regions_.empty() && static_cast<int32_t>(regions_.front().seq - seq) <= 0) regions_.pop_front();
  if (regions_.empty()) head_ = 0;
}

bool Connection::try_reserve(uint64_t bytes, uint64_t* offset) noexcept {
  const uint64_t size = channel().data().size();
  bytes = (bytes + 63) & ~uint64_t{63};
  if (bytes == 0 || bytes > size) return false;
  uint64_t at;
  if (regions_.empty()) {
    at = 0;
  } else {
    const uint64_t tail = regions_.front().offset;
    if (head_ > tail) {  // in use: [tail, head_); free: [head_, size) and [0, tail)
      if (head_ + bytes <= size) {
        at = head_;
      } else if (bytes <= tail) {
        at = 0;
      } else {
        return false;
      }
    } else {  // wrapped: in use [tail, size) and [0, head_); free: [head_, tail)
      if (head_ + bytes > tail) return false;
      at = head_;
    }
  }
  regions_.push_back({at, bytes, next_seq_});
  head_ = at + bytes;
  *offset = at;
  return true;
}

CUresult Connection::drain() {
  uint32_t seq = 0;
  if (CUresult r = send<idm::Op::Ping>(idm::PingReq{seq}, {}, &seq); r != CUDA_SUCCESS) return r;
  Reply rep;
  return wait(seq, &rep);
}

CUresult Connection::reserve(uint64_t bytes, uint64_t* offset) {
  if (try_reserve(bytes, offset)) return CUDA_SUCCESS;
  if (CUresult r = drain(); r != CUDA_SUCCESS) return r;
  return try_reserve(bytes, offset) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

}  // namespace xg::vgpu
