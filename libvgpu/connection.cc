#include "libvgpu/connection.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "cuda/errors.h"

namespace xg::vgpu {

idm::Result<Transport> connect_transport(const std::string& path, std::string_view zone_name,
                                         uint64_t requested_quota, std::chrono::milliseconds timeout) {
  return idm::connect_to_proxy(path, zone_name, requested_quota, timeout);
}

CUresult to_cuda_result(uint32_t wire) noexcept {
  if (wire > 0x7fffffffu || cuda::error_name(static_cast<int>(wire)) == nullptr) return CUDA_ERROR_UNKNOWN;
  return static_cast<CUresult>(wire);
}

Connection::Connection(Transport t)
    : endpoint_(std::move(t.endpoint)), zone_id_(t.zone_id) {
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
