// Copies and memsets. Every device range must lie inside one allocation of this zone; every host range inside
// the request's tail, the channel's data area or one of the zone's pinned allocations. Only then does the driver
// see the addresses. (The driver is not our safety net: it would happily copy to any address in the context.)
#include <cstring>
#include <functional>

#include "gpu-proxy/worker/worker.h"

namespace xg::proxy {

using namespace idm;

namespace {

bool overlaps(uint64_t a, uint64_t b, uint64_t n) { return n != 0 && a < b + n && b < a + n; }

// The bytes a 2D rectangle spans from its first byte: (height-1)*pitch + width, or nullopt on overflow or
// a width wider than the pitch.
std::optional<uint64_t> rect_span(uint64_t pitch, uint64_t width, uint64_t height) {
  if (height == 0 || width == 0) return 0;
  if (height > 1 && width > pitch) return std::nullopt;
  uint64_t rows = 0, span = 0;
  if (__builtin_mul_overflow(height - 1, pitch, &rows) || __builtin_add_overflow(rows, width, &span))
    return std::nullopt;
  return span;
}

std::optional<uint64_t> rect_start(uint64_t base, uint64_t x, uint64_t y, uint64_t pitch) {
  uint64_t off = 0, start = 0;
  if (__builtin_mul_overflow(y, pitch, &off) || __builtin_add_overflow(off, x, &off) ||
      __builtin_add_overflow(base, off, &start))
    return std::nullopt;
  return start;
}

bool is_data_area(uint32_t kind) { return kind == static_cast<uint32_t>(HostBuf::kDataArea); }

}  // namespace

// Both HtoD forms: destination inside one of the zone's allocations, source inside the tail, the data area or
// one of its pinned allocations, then the driver. The zone reuses tail and data-area bytes once the call is
// answered (or, for a post, once later messages reuse that part of the area): a tail is pageable, which the driver
// stages before an async copy returns; the registered data area is not staged, so an async copy from it is waited
// for here. Pinned sources are truly asynchronous.
CUresult Worker::htod(const MemcpyHtoDReq& r, std::span<const std::byte> tail, bool async) {
  if (!device_range(r.dst, r.bytes)) return CUDA_ERROR_INVALID_VALUE;
  std::byte* src = host_range(r.src_kind, r.src_handle, r.src_offset, r.bytes, tail);
  if (!src) return CUDA_ERROR_INVALID_VALUE;
  if (r.bytes == 0) return CUDA_SUCCESS;
  CUstream s = nullptr;
  if (CUresult e = stream_of(r.ctx, r.stream, s); e != CUDA_SUCCESS) return e;
  const bool pinned_area = is_data_area(r.src_kind) && data_area_pinned();  // registers it on first use
  if (!async) return d_.MemcpyHtoD(r.dst, src, r.bytes);  // synchronous for pinned and pageable sources alike
  CUresult e = d_.MemcpyHtoDAsync(r.dst, src, r.bytes, s);
  return e == CUDA_SUCCESS && pinned_area ? d_.StreamSynchronize(s) : e;
}

CUresult Worker::on(OpTag<Op::MemcpyHtoD>, const MemcpyHtoDReq& r, std::span<const std::byte> tail, Reply&) {
  return htod(r, tail, r.stream != 0);  // a stream-ordered copy from pageable memory, answered once staged
}

CUresult Worker::on(OpTag<Op::MemcpyHtoDAsync>, const MemcpyHtoDReq& r, std::span<const std::byte> tail, Reply&) {
  return htod(r, tail, true);
}

CUresult Worker::on(OpTag<Op::MemcpyDtoH>, const MemcpyDtoHReq& r, std::span<const std::byte>, Reply& reply) {
  if (!device_range(r.src, r.bytes)) return CUDA_ERROR_INVALID_VALUE;
  std::byte* dst = nullptr;
  if (r.dst_kind == static_cast<uint32_t>(HostBuf::kTail)) {
    dst = scratch_.data();  // bytes <= IDM_INLINE_COPY (validated)
  } else {
    dst = host_range(r.dst_kind, r.dst_handle, r.dst_offset, r.bytes, {});
  }
  if (!dst) return CUDA_ERROR_INVALID_VALUE;
  CUstream s = nullptr;
  if (CUresult e = stream_of(r.ctx, r.stream, s); e != CUDA_SUCCESS) return e;
  if (is_data_area(r.dst_kind)) data_area_pinned();  // registers it on first use
  if (r.bytes != 0) {
    // A stream-ordered copy into pageable memory returns once it completed (the driver's documented behaviour).
    CUresult e = r.stream ? d_.MemcpyDtoHAsync(dst, r.src, r.bytes, s) : d_.MemcpyDtoH(dst, r.src, r.bytes);
    if (e == CUDA_SUCCESS && r.stream) e = d_.StreamSynchronize(s);
    if (e != CUDA_SUCCESS) return e;
  }
  if (r.dst_kind == static_cast<uint32_t>(HostBuf::kTail)) reply.tail = std::span(scratch_).first(r.bytes);
  return CUDA_SUCCESS;
}

CUresult Worker::on(OpTag<Op::MemcpyDtoHAsync>, const MemcpyDtoHReq& r, std::span<const std::byte>, Reply&) {
  // Fire-and-forget DtoH is only meaningful into pinned memory (the zone reads it after synchronising).
  if (r.dst_kind != static_cast<uint32_t>(HostBuf::kPinned)) return CUDA_ERROR_INVALID_VALUE;
  if (!device_range(r.src, r.bytes)) return CUDA_ERROR_INVALID_VALUE;
  std::byte* dst = host_range(r.dst_kind, r.dst_handle, r.dst_offset, r.bytes, {});
  if (!dst) return CUDA_ERROR_INVALID_VALUE;
  if (r.bytes == 0) return CUDA_SUCCESS;
  CUstream s = nullptr;
  if (CUresult e = stream_of(r.ctx, r.stream, s); e != CUDA_SUCCESS) return e;
  return d_.MemcpyDtoHAsync(dst, r.src, r.bytes, s);
}

namespace {
// Shared by the sync and async DtoD handlers: the checks, then the call.
template <typename Call>
CUresult dtod(const MemcpyDtoDReq& r, bool dst_ok, bool src_ok, Call&& call) {
  if (!dst_ok || !src_ok) return CUDA_ERROR_INVALID_VALUE;
  if (overlaps(r.dst, r.src, r.bytes)) return CUDA_ERROR_INVALID_VALUE;  // overlapping copies are undefined
  if (r.bytes == 0) return CUDA_SUCCESS;
  return call();
}
}  // namespace

CUresult Worker::on(OpTag<Op::MemcpyDtoD>, const MemcpyDtoDReq& r, std::span<const std::byte>, Reply&) {
  return dtod(r, device_range(r.dst, r.bytes), device_range(r.src, r.bytes), [&] {
    CUstream s = nullptr;
    if (CUresult e = stream_of(r.ctx, r.stream, s); e != CUDA_SUCCESS) return e;
    CUresult e = r.stream ? d_.MemcpyDtoDAsync(r.dst, r.src, r.bytes, s) : d_.MemcpyDtoD(r.dst, r.src, r.bytes);
    return e == CUDA_SUCCESS && r.stream ? d_.StreamSynchronize(s) : e;
  });
}

CUresult Worker::on(OpTag<Op::MemcpyDtoDAsync>, const MemcpyDtoDReq& r, std::span<const std::byte>, Reply&) {
  return dtod(r, device_range(r.dst, r.bytes), device_range(r.src, r.bytes), [&] {
    CUstream s = nullptr;
    if (CUresult e = stream_of(r.ctx, r.stream, s); e != CUDA_SUCCESS) return e;
    return d_.MemcpyDtoDAsync(r.dst, r.src, r.bytes, s);
  });
}

namespace {

struct Copy2D {
  CUDA_MEMCPY2D desc{};
  bool ok = false;
};

}  // namespace

// Validates both sides of a 2D copy and fills the driver's descriptor. The host side (data area or pinned) is
// described by host_offset with the side's pitch and x = y = 0 (libvgpu folds x/y into the offset).
static Copy2D build_2d(const Memcpy2DReq& r, const AllocMap& allocs,
                       const std::function<std::byte*(uint64_t, uint64_t)>& host) {
  Copy2D c;
  auto side = [&](bool is_host, uint64_t device, uint64_t x, uint64_t y, uint64_t pitch, CUmemorytype& type,
                  const void*& hp, CUdeviceptr& dp, size_t& out_x, size_t& out_y, size_t& out_pitch) {
    auto span = rect_span(pitch, r.width_bytes, r.height);
    if (!span) return false;
    out_pitch = pitch;
    if (is_host) {
      if (x != 0 || y != 0) return false;
      std::byte* p = host(r.host_offset, *span);
      if (!p) return false;
      type = CU_MEMORYTYPE_HOST;
      hp = p;
      out_x = out_y = 0;
      return true;
    }
    auto start = rect_start(device, x, y, pitch);
    if (!start || (*span && !allocs.containing(*start, *span))) return false;
    type = CU_MEMORYTYPE_DEVICE;
    dp = device;
    out_x = x;
    out_y = y;
    return true;
  };
  const void* src_host = nullptr;
  const void* dst_host = nullptr;
  if (!side(r.src_is_host, r.src_device, r.src_x_bytes, r.src_y, r.src_pitch, c.desc.srcMemoryType, src_host,
            c.desc.srcDevice, c.desc.srcXInBytes, c.desc.srcY, c.desc.srcPitch))
    return c;
  if (!side(r.dst_is_host, r.dst_device, r.dst_x_bytes, r.dst_y, r.dst_pitch, c.desc.dstMemoryType, dst_host,
            c.desc.dstDevice, c.desc.dstXInBytes, c.desc.dstY, c.desc.dstPitch))
    return c;
  c.desc.srcHost = src_host;
  c.desc.dstHost = const_cast<void*>(dst_host);
  c.desc.WidthInBytes = r.width_bytes;
  c.desc.Height = r.height;
  c.ok = true;
  return c;
}

CUresult Worker::on(OpTag<Op::Memcpy2D>, const Memcpy2DReq& r, std::span<const std::byte>, Reply&) {
  Copy2D c = build_2d(r, allocs_, [&](uint64_t off, uint64_t n) { return host_range(r.host_kind, r.host_handle, off, n, {}); });
  if (!c.ok) return CUDA_ERROR_INVALID_VALUE;
  if (r.width_bytes == 0 || r.height == 0) return CUDA_SUCCESS;
  CUstream s = nullptr;
  if (CUresult e = stream_of(r.ctx, r.stream, s); e != CUDA_SUCCESS) return e;
  if (is_data_area(r.host_kind)) data_area_pinned();  // registers it on first use
  if (!r.stream) return d_.Memcpy2D(&c.desc);
  CUresult e = d_.Memcpy2DAsync(&c.desc, s);
  return e == CUDA_SUCCESS ? d_.StreamSynchronize(s) : e;
}

CUresult Worker::on(OpTag<Op::Memcpy2DAsync>, const Memcpy2DReq& r, std::span<const std::byte>, Reply&) {
  Copy2D c = build_2d(r, allocs_, [&](uint64_t off, uint64_t n) { return host_range(r.host_kind, r.host_handle, off, n, {}); });
  if (!c.ok) return CUDA_ERROR_INVALID_VALUE;
  if (r.width_bytes == 0 || r.height == 0) return CUDA_SUCCESS;
  CUstream s = nullptr;
  if (CUresult e = stream_of(r.ctx, r.stream, s); e != CUDA_SUCCESS) return e;
  // As for HtoD: from (or into) the registered data area an async copy is waited for before the zone reuses it.
  const bool wait = is_data_area(r.host_kind) && data_area_pinned();
  CUresult e = d_.Memcpy2DAsync(&c.desc, s);
  return e == CUDA_SUCCESS && wait ? d_.StreamSynchronize(s) : e;
}

namespace {
std::optional<uint64_t> memset_bytes(const MemsetReq& r) {
  uint64_t n = 0;
  if (__builtin_mul_overflow(r.count, uint64_t{r.element_bytes}, &n)) return std::nullopt;
  if (r.dst % r.element_bytes != 0) return std::nullopt;  // cuMemsetD16/D32 need aligned destinations
  return n;
}
}  // namespace

// Both memset forms: the whole range (count * element size, overflow-checked, aligned) inside one of the zone's
// allocations, then the driver's D8/D16/D32 call.
CUresult Worker::memset(const MemsetReq& r, bool async) {
  auto n = memset_bytes(r);
  if (!n || !device_range(r.dst, *n)) return CUDA_ERROR_INVALID_VALUE;
  if (r.count == 0) return CUDA_SUCCESS;
  CUstream s = nullptr;
  if (CUresult e = stream_of(r.ctx, r.stream, s); e != CUDA_SUCCESS) return e;
  const auto u8 = static_cast<unsigned char>(r.value);
  const auto u16 = static_cast<unsigned short>(r.value);
  switch (r.element_bytes) {
    case 1: return async ? d_.MemsetD8Async(r.dst, u8, r.count, s) : d_.MemsetD8(r.dst, u8, r.count);
    case 2: return async ? d_.MemsetD16Async(r.dst, u16, r.count, s) : d_.MemsetD16(r.dst, u16, r.count);
    default: return async ? d_.MemsetD32Async(r.dst, r.value, r.count, s) : d_.MemsetD32(r.dst, r.value, r.count);
  }
}

CUresult Worker::on(OpTag<Op::Memset>, const MemsetReq& r, std::span<const std::byte>, Reply&) {
  return memset(r, false);
}

CUresult Worker::on(OpTag<Op::MemsetAsync>, const MemsetReq& r, std::span<const std::byte>, Reply&) {
  return memset(r, true);
}

}  // namespace xg::proxy
