// The copy engine behind every cuMemcpy* entry point: picks how the host side travels (pinned allocation, inline
// tail, or pipelined chunks through the data area) and whether the copy is a call or a post.
//
//   HtoD:  pinned source -> one message naming the pinned allocation (an async form is a true post);
//          <= inline limit -> the bytes ride in the request tail; larger -> data-area chunks (a quarter of the area
//          each), several calls in flight, answers taken oldest first (async: posts, the area drained by a Ping
//          when full of them).
//   DtoH:  pinned destination -> one message (async: a post). Otherwise synchronous calls even for the async
//          forms, as the driver documents for pageable memory (the call keeps its stream: the worker answers once
//          the stream-ordered copy completed); chunks come back in response tails or through the data area.
//   2D:    host rows are packed contiguously in the data area (pitch = width), in pieces of whole rows (rows wider
//          than a chunk go column piece by column piece); a rectangle inside one pinned allocation goes in one
//          message with the host pitch. Host-to-host is done locally. Arrays are CUDA_ERROR_NOT_SUPPORTED.
// Host memory registered with cuMemHostRegister is not shared with the worker: it travels like pageable memory.
#pragma once

#include <cstdint>
#include <cstring>
#include <deque>
#include <utility>

#include "libvgpu/bulk_copy.h"
#include "libvgpu/state.h"

namespace xg::vgpu {

// A piece of a copy whose host side is staged in the data area: `rows` rows of `cols` bytes, packed at `at`;
// host row i lives at host + i * host_pitch.
struct Piece {
  uint64_t at = 0;
  std::byte* host = nullptr;  // DtoH: where the rows go once the answer arrived (nullptr for HtoD)
  uint64_t rows = 0, cols = 0, host_pitch = 0;
  bool stream = false;  // part of a large copy: streaming stores (bulk_copy.h)
};

// Calls in flight, answered oldest first. The first error wins; every answer is still collected.
class Pipeline {
 public:
  explicit Pipeline(Connection& c) : c_(c) {}
  // Room for the next message's bytes: waits on in-flight calls, or drains when only posts hold the area.
  CUresult reserve(uint64_t bytes, uint64_t* at) {
    while (!c_.try_reserve(bytes, at)) {
      CUresult r = inflight_.empty() ? c_.drain() : retire();
      if (r != CUDA_SUCCESS) return r;
    }
    return CUDA_SUCCESS;
  }
  void track(uint32_t seq, const Piece& p) { inflight_.push_back({seq, p}); }
  CUresult finish() {
    while (!inflight_.empty())
      if (CUresult r = retire(); r != CUDA_SUCCESS) return r;
    return first_;
  }

 private:
  CUresult retire() {
    auto [seq, p] = inflight_.front();
    inflight_.pop_front();
    Reply rep;
    if (CUresult r = c_.wait(seq, &rep); r != CUDA_SUCCESS) return r;  // the channel died
    if (rep.result != CUDA_SUCCESS) {
      if (first_ == CUDA_SUCCESS) first_ = rep.result;
      return CUDA_SUCCESS;
    }
    if (p.host != nullptr) {
      const std::byte* src = c_.data().data() + p.at;
      for (uint64_t i = 0; i < p.rows; ++i) bulk_copy(p.host + i * p.host_pitch, src + i * p.cols, p.cols, p.stream);
    }
    return CUDA_SUCCESS;
  }
  Connection& c_;
  std::deque<std::pair<uint32_t, Piece>> inflight_;
  CUresult first_ = CUDA_SUCCESS;
};


// `stream` is the wire stream; `async` selects the *Async messages. The caller has checked init and context.
[[nodiscard]] CUresult copy_htod(Session& s, uint64_t dst, const void* src, uint64_t bytes, uint64_t stream,
                                 bool async);
[[nodiscard]] CUresult copy_dtoh(Session& s, void* dst, uint64_t src, uint64_t bytes, uint64_t stream, bool async);
[[nodiscard]] CUresult copy_dtod(Session& s, uint64_t dst, uint64_t src, uint64_t bytes, uint64_t stream,
                                 bool async);
// Whether a unified address is zone host memory: known pinned/registered memory is; otherwise the worker is asked
// (PointerGetAttribute): memory of the zone's device is device memory, anything else the zone's pageable memory.
[[nodiscard]] CUresult is_host_memory(Session& s, uint64_t addr, uint64_t bytes, bool* host);
// cuMemcpy / cuMemcpyAsync: each side classified by is_host_memory.
[[nodiscard]] CUresult copy_unified(Session& s, uint64_t dst, uint64_t src, uint64_t bytes, uint64_t stream,
                                    bool async);
[[nodiscard]] CUresult copy_2d(Session& s, const CUDA_MEMCPY2D& p, uint64_t stream, bool async);
// Waits for everything queued on `stream` (0: the legacy stream of the current context).
[[nodiscard]] CUresult sync_stream(Session& s, uint64_t stream);

}  // namespace xg::vgpu
