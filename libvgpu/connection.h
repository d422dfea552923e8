// The zone's one channel to its gpu-proxy worker: a request ring, a response ring and a data area (idm/channel.h).
//
// One channel per process, every message under one mutex (mu()). Per-thread channels were measured ~40x slower on
// a 2-core machine (more spinning pollers than cores) and would need ordering across channels; the worker handles
// one channel strictly in order, so one channel also gives CUDA's per-process ordering for free.
//
// Sequence numbers increase per message (calls and posts). Posts are never answered; every call is, in order.
// A caller may keep several calls in flight (pipelined bulk copies) and waits for their answers oldest first.
//
// Data area: bytes used by a message may be reused once a response to that or any LATER call has arrived (the
// worker handles messages in order and has finished reading a pageable source before it handles the next one).
// Regions are handed out FIFO from a ring over the area and released when such a response arrives; when the area
// is full of bytes used by posts, drain() sends a Ping whose answer frees all of them.
//
// Failure: once the transport reports the peer gone (or impossible), the connection is dead for good; every later
// call answers CUDA_ERROR_DEVICE_UNAVAILABLE and one line says so on stderr.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "idm/channel.h"
#include "idm/codec.h"
#include "cuda/cuda_abi.h"
#include "idm/result.h"
#include "idm/protocol.h"
#include "libvgpu/trace.h"
#include "idm/transport.h"

namespace xg::vgpu {

// The transport step: idm::connect_to_proxy chooses shm or Xen; what comes back is the same for both.
using Transport = idm::ProxyConnection;
[[nodiscard]] idm::Result<Transport> connect_transport(const std::string& path, std::string_view zone_name,
                                                       uint64_t requested_quota, std::chrono::milliseconds timeout);

// One decoded response. `msg.payload` points into the connection's receive buffer: valid until the next wait().
struct Reply {
  CUresult result = CUDA_SUCCESS;
  idm::Message msg;
  template <typename T>
  [[nodiscard]] T fixed() const noexcept {
    return msg.fixed<T>();
  }
  template <typename T>
  [[nodiscard]] std::span<const std::byte> tail() const noexcept {
    return msg.tail<T>();
  }
};

// A CUresult from a wire value; anything the driver does not define reads as CUDA_ERROR_UNKNOWN.
[[nodiscard]] CUresult to_cuda_result(uint32_t wire) noexcept;

class Connection {
 public:
  explicit Connection(Transport t);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Every member below requires the caller to hold mu().
  [[nodiscard]] std::mutex& mu() noexcept { return mu_; }
  [[nodiscard]] bool dead() const noexcept { return dead_.load(std::memory_order_relaxed); }
  [[nodiscard]] uint32_t zone_id() const noexcept { return zone_id_; }
  // Pinned host memory, the transport's way (idm/host_pages.h); null on a transport that has none.
  [[nodiscard]] idm::ZoneHostPages* host_pages() const noexcept { return endpoint_->zone_pages.get(); }

  // Sends one request (call or post). For calls, *seq receives its sequence number for wait().
  template <idm::Op op>
  [[nodiscard]] CUresult send(const typename idm::OpTraits<op>::Request& req, std::span<const std::byte> tail = {},
                              uint32_t* seq = nullptr) {
    static_assert(idm::OpTraits<op>::kind != idm::Kind::kControl);
    if (dead()) return CUDA_ERROR_DEVICE_UNAVAILABLE;
    const uint32_t s = next_seq_;
    idm::Error e = idm::send_request<op>(channel().tx(), s, req, tail);
    if (e != idm::Error::kOk) return transport_error(e);
    if (trace::on()) [[unlikely]]
      trace::message(idm::op_name(static_cast<uint16_t>(op)), s, &req, sizeof req, tail.size());
    ++next_seq_;
    if constexpr (idm::OpTraits<op>::kind == idm::Kind::kCall) outstanding_.push_back({s, op});
    if (seq != nullptr) *seq = s;
    return CUDA_SUCCESS;
  }
  template <idm::Op op>
  [[nodiscard]] CUresult post(const typename idm::OpTraits<op>::Request& req, std::span<const std::byte> tail = {}) {
    static_assert(idm::OpTraits<op>::kind == idm::Kind::kPost);
    return send<op>(req, tail);
  }
  // Waits for the answer to `seq`, which must be the oldest outstanding call. Returns CUDA_SUCCESS when an answer
  // arrived (its own result is in out->result), DEVICE_UNAVAILABLE when the channel died.
  [[nodiscard]] CUresult wait(uint32_t seq, Reply* out);
  // send + wait; returns the call's own result. `out` (optional) keeps the reply.
  template <idm::Op op>
  [[nodiscard]] CUresult call(const typename idm::OpTraits<op>::Request& req, std::span<const std::byte> tail = {},
                              Reply* out = nullptr) {
    static_assert(idm::OpTraits<op>::kind == idm::Kind::kCall);
    uint32_t seq = 0;
    if (CUresult r = send<op>(req, tail, &seq); r != CUDA_SUCCESS) return r;
    Reply local;
    Reply* rep = out != nullptr ? out : &local;
    if (CUresult r = wait(seq, rep); r != CUDA_SUCCESS) return r;
    return rep->result;
  }
  [[nodiscard]] size_t outstanding() const noexcept { return outstanding_.size(); }

  // --- data area ---
  [[nodiscard]] std::span<std::byte> data() noexcept { return channel().data(); }
  // Bytes per pipelined chunk (a quarter of the area, so several copies are in flight); 0 without a data area.
  [[nodiscard]] uint64_t chunk_bytes() const noexcept { return chunk_; }
  // Reserves `bytes` for the NEXT message sent; false if the area has no room now (wait on a call or drain()).
  [[nodiscard]] bool try_reserve(uint64_t bytes, uint64_t* offset) noexcept;
  // Frees every region used by posts: a Ping round trip. No call may be outstanding.
  [[nodiscard]] CUresult drain();
  // Reserves `bytes` for the next message, draining if needed. No call may be outstanding.
  [[nodiscard]] CUresult reserve(uint64_t bytes, uint64_t* offset);

  // Largest copy that travels inline in a request tail / a response tail.
  [[nodiscard]] uint32_t inline_request_limit() const noexcept { return inline_req_; }
  [[nodiscard]] uint32_t inline_response_limit() const noexcept { return inline_rsp_; }

  // Marks the channel dead after a transport error; prints one line the first time. Returns DEVICE_UNAVAILABLE.
  CUresult transport_error(idm::Error e) noexcept;

 private:
  struct Pending {
    uint32_t seq;
    idm::Op op;
  };
  struct Region {
    uint64_t offset, bytes;
    uint32_t seq;  // the message that uses it
  };
  idm::Channel& channel() noexcept { return endpoint_->channel; }
  void release_through(uint32_t seq) noexcept;

  std::mutex mu_;
  std::unique_ptr<idm::Endpoint> endpoint_;
  uint32_t zone_id_ = 0;
  std::atomic<bool> dead_{false};
  uint32_t next_seq_ = 1;
  std::deque<Pending> outstanding_;
  std::vector<std::byte> rx_;
  std::deque<Region> regions_;  // in use, oldest first
  uint64_t head_ = 0;           // next free byte when regions_ is not empty
  uint64_t chunk_ = 0;
  uint32_t inline_req_ = 0, inline_rsp_ = 0;
};

}  // namespace xg::vgpu
