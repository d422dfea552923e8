#include "libvgpu/copy.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <vector>

namespace xg::vgpu {
namespace {

using idm::HostBuf;
using idm::Op;

constexpr uint32_t kind(HostBuf k) { return static_cast<uint32_t>(k); }

// The pinned allocation holding all of [p, p + bytes), if any.
bool find_pinned(State& st, const void* p, uint64_t bytes, uint64_t* handle, uint64_t* offset) {
  auto [base, r] = st.find_host(reinterpret_cast<uintptr_t>(p), std::max<uint64_t>(bytes, 1));
  if (r == nullptr || !r->pinned) return false;
  *handle = r->handle;
  *offset = reinterpret_cast<uintptr_t>(p) - base;
  return true;
}

}  // namespace

CUresult sync_stream(Session& s, uint64_t stream) {
  return s.conn().call<Op::StreamSynchronize>(idm::StreamReq{s.ctx(), stream});
}

CUresult copy_htod(Session& s, uint64_t dst, const void* src, uint64_t bytes, uint64_t stream, bool async) {
  if (bytes == 0) return CUDA_SUCCESS;
  if (src == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Connection& c = s.conn();
  idm::MemcpyHtoDReq req{s.ctx(), async ? stream : 0, dst, bytes, kind(HostBuf::kTail), 0, 0, 0};
  auto send = [&](std::span<const std::byte> tail, uint32_t* seq) {
    return async ? c.send<Op::MemcpyHtoDAsync>(req, tail) : c.send<Op::MemcpyHtoD>(req, tail, seq);
  };
  if (find_pinned(s.st(), src, bytes, &req.src_handle, &req.src_offset)) {
    req.src_kind = kind(HostBuf::kPinned);
    return async ? c.post<Op::MemcpyHtoDAsync>(req) : c.call<Op::MemcpyHtoD>(req);
  }
  const auto* from = static_cast<const std::byte*>(src);
  if (bytes <= c.inline_request_limit()) {
    std::span<const std::byte> tail(from, bytes);
    return async ? c.post<Op::MemcpyHtoDAsync>(req, tail) : c.call<Op::MemcpyHtoD>(req, tail);
  }
  if (c.chunk_bytes() == 0) return CUDA_ERROR_NOT_SUPPORTED;  // a channel without a data area
  Pipeline pipe(c);
  req.src_kind = kind(HostBuf::kDataArea);
  for (uint64_t off = 0; off < bytes;) {
    const uint64_t len = std::min(c.chunk_bytes(), bytes - off);
    uint64_t at = 0;
    if (CUresult r = pipe.reserve(len, &at); r != CUDA_SUCCESS) return r;
    bulk_copy(c.data().data() + at, from + off, len, /*stream=*/false);  // the DMA engine reads it next
    req.dst = dst + off;
    req.bytes = len;
    req.src_offset = at;
    uint32_t seq = 0;
    if (CUresult r = send({}, &seq); r != CUDA_SUCCESS) return r;
    if (!async) pipe.track(seq, Piece{at, nullptr, 1, len, len});
    off += len;
  }
  return pipe.finish();
}

CUresult copy_dtoh(Session& s, void* dst, uint64_t src, uint64_t bytes, uint64_t stream, bool async) {
  if (bytes == 0) return CUDA_SUCCESS;
  if (dst == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Connection& c = s.conn();
  idm::MemcpyDtoHReq req{s.ctx(), async ? stream : 0, src, bytes, kind(HostBuf::kTail), 0, 0, 0};
  if (find_pinned(s.st(), dst, bytes, &req.dst_handle, &req.dst_offset)) {
    req.dst_kind = kind(HostBuf::kPinned);
    return async ? c.post<Op::MemcpyDtoHAsync>(req) : c.call<Op::MemcpyDtoH>(req);
  }
  // Pageable (or registered) destination: a synchronous call; the async forms keep their stream, so the worker
  // orders the copy after the stream's earlier work and answers once it completed.
  auto* to = static_cast<std::byte*>(dst);
  if (bytes <= c.inline_response_limit()) {
    Reply rep;
    if (CUresult r = c.call<Op::MemcpyDtoH>(req, {}, &rep); r != CUDA_SUCCESS) return r;
    const auto tail = rep.tail<idm::Empty>();
    if (tail.size() != bytes) return c.transport_error(idm::Error::kPeerImpossible);
    std::memcpy(to, tail.data(), bytes);
    return CUDA_SUCCESS;
  }
  if (c.chunk_bytes() == 0) return CUDA_ERROR_NOT_SUPPORTED;
  Pipeline pipe(c);
  req.dst_kind = kind(HostBuf::kDataArea);
  for (uint64_t off = 0; off < bytes;) {
    const uint64_t len = std::min(c.chunk_bytes(), bytes - off);
    uint64_t at = 0;
    if (CUresult r = pipe.reserve(len, &at); r != CUDA_SUCCESS) return r;
    req.src = src + off;
    req.bytes = len;
    req.dst_offset = at;
    uint32_t seq = 0;
    if (CUresult r = c.send<Op::MemcpyDtoH>(req, {}, &seq); r != CUDA_SUCCESS) return r;
    pipe.track(seq, Piece{at, to + off, 1, len, len, bytes >= kStreamCopyMin});
    off += len;
  }
  return pipe.finish();
}

CUresult copy_dtod(Session& s, uint64_t dst, uint64_t src, uint64_t bytes, uint64_t stream, bool async) {
  if (bytes == 0) return CUDA_SUCCESS;
  const idm::MemcpyDtoDReq req{s.ctx(), async ? stream : 0, dst, src, bytes};
  return async ? s.conn().post<Op::MemcpyDtoDAsync>(req) : s.conn().call<Op::MemcpyDtoD>(req);
}

CUresult is_host_memory(Session& s, uint64_t addr, uint64_t bytes, bool* host) {
  if (s.st().find_host(addr, std::max<uint64_t>(bytes, 1)).second != nullptr) {
    *host = true;
    return CUDA_SUCCESS;
  }
  Reply rep;
  const idm::PointerAttrReq req{s.ctx(), addr, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, 0};
  const CUresult r = s.conn().call<Op::PointerGetAttribute>(req, {}, &rep);
  *host = r == CUDA_ERROR_INVALID_VALUE;  // no memory of this zone's device: the zone's own (pageable) memory
  return r == CUDA_SUCCESS || r == CUDA_ERROR_INVALID_VALUE ? CUDA_SUCCESS : r;
}

CUresult copy_unified(Session& s, uint64_t dst, uint64_t src, uint64_t bytes, uint64_t stream, bool async) {
  if (bytes == 0) return CUDA_SUCCESS;
  bool dst_host = false, src_host = false;
  if (CUresult r = is_host_memory(s, dst, bytes, &dst_host); r != CUDA_SUCCESS) return r;
  if (CUresult r = is_host_memory(s, src, bytes, &src_host); r != CUDA_SUCCESS) return r;
  auto* dp = reinterpret_cast<void*>(static_cast<uintptr_t>(dst));
  const auto* sp = reinterpret_cast<const void*>(static_cast<uintptr_t>(src));
  if (dst_host && src_host) {
    if (async)
      if (CUresult r = sync_stream(s, stream); r != CUDA_SUCCESS) return r;
    std::memmove(dp, sp, bytes);
    return CUDA_SUCCESS;
  }
  if (src_host) return copy_htod(s, dst, sp, bytes, stream, async);
  if (dst_host) return copy_dtoh(s, dp, src, bytes, stream, async);
  return copy_dtod(s, dst, src, bytes, stream, async);
}

namespace {

struct Side {
  bool host = false;
  std::byte* host_ptr = nullptr;  // the first byte of the rectangle
  uint64_t device = 0, x = 0, y = 0, pitch = 0;
};

CUresult resolve_side(Session& s, int type, const void* host, CUdeviceptr device, CUarray array, size_t x, size_t y,
                      size_t pitch, Side* out) {
  out->x = x;
  out->y = y;
  out->pitch = pitch;
  if (type == CU_MEMORYTYPE_UNIFIED) {
    bool is_host = false;
    if (CUresult r = is_host_memory(s, device, 1, &is_host); r != CUDA_SUCCESS) return r;
    type = is_host ? CU_MEMORYTYPE_HOST : CU_MEMORYTYPE_DEVICE;
    if (is_host) host = reinterpret_cast<const void*>(static_cast<uintptr_t>(device));
  }
  switch (type) {
    case CU_MEMORYTYPE_HOST:
      if (host == nullptr) return CUDA_ERROR_INVALID_VALUE;
      out->host = true;
      out->host_ptr = const_cast<std::byte*>(static_cast<const std::byte*>(host)) + y * pitch + x;
      return CUDA_SUCCESS;
    case CU_MEMORYTYPE_DEVICE:
      out->device = device;
      return CUDA_SUCCESS;
    case CU_MEMORYTYPE_ARRAY:
      return CUDA_ERROR_NOT_SUPPORTED;  // libvgpu has no CUDA arrays
    default:
      return CUDA_ERROR_INVALID_VALUE;
  }
}

}  // namespace

CUresult copy_2d(Session& s, const CUDA_MEMCPY2D& p, uint64_t stream, bool async) {
  Side src, dst;
  if (CUresult r = resolve_side(s, raw(p.srcMemoryType), p.srcHost, p.srcDevice, p.srcArray, p.srcXInBytes,
                                p.srcY, p.srcPitch, &src);
      r != CUDA_SUCCESS)
    return r;
  if (CUresult r = resolve_side(s, raw(p.dstMemoryType), p.dstHost, p.dstDevice, p.dstArray, p.dstXInBytes,
                                p.dstY, p.dstPitch, &dst);
      r != CUDA_SUCCESS)
    return r;
  const uint64_t w = p.WidthInBytes, h = p.Height;
  if (w == 0 || h == 0) return CUDA_SUCCESS;
  // The driver's rule: each pitch covers the row's offset and width.
  if (h > 1 && (p.srcPitch < w + p.srcXInBytes || p.dstPitch < w + p.dstXInBytes)) return CUDA_ERROR_INVALID_VALUE;
  Connection& c = s.conn();

  if (src.host && dst.host) {  // host to host: the zone's own business
    if (async)
      if (CUresult r = sync_stream(s, stream); r != CUDA_SUCCESS) return r;
    for (uint64_t i = 0; i < h; ++i) std::memmove(dst.host_ptr + i * dst.pitch, src.host_ptr + i * src.pitch, w);
    return CUDA_SUCCESS;
  }
  idm::Memcpy2DReq req{};
  req.ctx = s.ctx();
  req.stream = async ? stream : 0;
  req.src_x_bytes = src.x;
  req.src_y = src.y;
  req.src_device = src.device;
  req.src_pitch = src.pitch;
  req.dst_x_bytes = dst.x;
  req.dst_y = dst.y;
  req.dst_device = dst.device;
  req.dst_pitch = dst.pitch;
  req.width_bytes = w;
  req.height = h;
  req.src_is_host = src.host ? 1 : 0;
  req.dst_is_host = dst.host ? 1 : 0;
  req.host_kind = kind(HostBuf::kDataArea);
  auto send = [&](uint32_t* seq) {
    return async ? c.send<Op::Memcpy2DAsync>(req) : c.send<Op::Memcpy2D>(req, {}, seq);
  };
  auto once = [&]() -> CUresult {
    if (async) return send(nullptr);
    uint32_t seq = 0;
    if (CUresult r = send(&seq); r != CUDA_SUCCESS) return r;
    Reply rep;
    if (CUresult r = c.wait(seq, &rep); r != CUDA_SUCCESS) return r;
    return rep.result;
  };
  if (!src.host && !dst.host) return once();

  Side& hs = src.host ? src : dst;
  // A rectangle inside one pinned allocation: one message, host layout = (offset of its first byte, its pitch).
  const uint64_t span_bytes = (h - 1) * hs.pitch + w;
  uint64_t handle = 0, offset = 0;
  if (find_pinned(s.st(), hs.host_ptr, span_bytes, &handle, &offset)) {
    req.host_kind = kind(HostBuf::kPinned);
    req.host_handle = handle;
    req.host_offset = offset;
    (src.host ? req.src_x_bytes : req.dst_x_bytes) = 0;
    (src.host ? req.src_y : req.dst_y) = 0;
    return once();
  }
  if (c.chunk_bytes() == 0) return CUDA_ERROR_NOT_SUPPORTED;
  // Pageable source: posts for the async form. Pageable destination: calls (the async form keeps its stream: the
  // worker answers once the stream-ordered copy completed).
  const bool post = async && src.host;
  // Host rows packed in the data area (pitch = width of the piece).
  (src.host ? req.src_x_bytes : req.dst_x_bytes) = 0;
  (src.host ? req.src_y : req.dst_y) = 0;
  Side& ds = src.host ? dst : src;
  const uint64_t chunk = c.chunk_bytes();
  Pipeline pipe(c);
  for (uint64_t row = 0; row < h;) {
    const uint64_t rows = w <= chunk ? std::min(h - row, chunk / w) : 1;
    for (uint64_t col = 0; col < w;) {
      const uint64_t cols = std::min(w - col, chunk);
      uint64_t at = 0;
      if (CUresult r = pipe.reserve(rows * cols, &at); r != CUDA_SUCCESS) return r;
      std::byte* host = hs.host_ptr + row * hs.pitch + col;
      if (src.host) {
        for (uint64_t i = 0; i < rows; ++i)
          bulk_copy(c.data().data() + at + i * cols, host + i * hs.pitch, cols, /*stream=*/false);
        req.dst_x_bytes = ds.x + col;
        req.dst_y = ds.y + row;
        req.src_pitch = cols;
      } else {
        req.src_x_bytes = ds.x + col;
        req.src_y = ds.y + row;
        req.dst_pitch = cols;
      }
      req.width_bytes = cols;
      req.height = rows;
      req.host_offset = at;
      uint32_t seq = 0;
      if (post) {
        if (CUresult r = c.send<Op::Memcpy2DAsync>(req); r != CUDA_SUCCESS) return r;
      } else {
        if (CUresult r = c.send<Op::Memcpy2D>(req, {}, &seq); r != CUDA_SUCCESS) return r;
        pipe.track(seq, Piece{at, src.host ? nullptr : host, rows, cols, hs.pitch, w * h >= kStreamCopyMin});
      }
      col += cols;
    }
    row += rows;
  }
  return pipe.finish();
}

}  // namespace xg::vgpu
