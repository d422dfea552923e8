// Copies and memsets. Every device-side range is checked against the allocation table before any byte moves
// (CUDA_ERROR_INVALID_VALUE otherwise, as the driver answers for an address range it did not allocate).
//
// Ordering: synchronous forms go through the context's legacy NULL stream and wait for completion; Async forms
// are queued on their stream. Simplification: an Async copy whose host side is pageable (not pinned or
// registered) waits for completion before returning, as the driver's staging makes it mostly behave.
#include <cstring>

#include "sim_internal.h"

using namespace xg::sim;

namespace {

enum class Side { device, host, unified };

// Checks one side of a transfer of [addr, addr + len). Sets *pageable for host memory the driver doesn't know.
CUresult check_side(const Driver& d, Side side, uintptr_t addr, size_t len, bool* pageable) {
  if (addr + len < addr) return CUDA_ERROR_INVALID_VALUE;
  const Allocation* whole = d.table.find_range(addr, len);
  switch (side) {
    case Side::device:
      return whole != nullptr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
    case Side::host:
      if (addr == 0) return CUDA_ERROR_INVALID_VALUE;
      *pageable = *pageable || whole == nullptr;
      return CUDA_SUCCESS;
    case Side::unified:
      if (addr == 0) return CUDA_ERROR_INVALID_VALUE;
      if (d.table.find(addr) != nullptr && whole == nullptr) return CUDA_ERROR_INVALID_VALUE;  // runs off the end
      *pageable = *pageable || whole == nullptr;
      return CUDA_SUCCESS;
  }
  return CUDA_ERROR_INVALID_VALUE;
}

// Validates, queues `op` on the stream (NULL stream when !async) and waits when required.
CUresult enqueue(CUstream h, bool async, bool must_wait, Stream::Op op) {
  Driver& d = driver();
  std::unique_lock lk(d.mu);
  std::shared_ptr<Context> c;
  if (CUresult r = current_context_locked(d, &c); r != CUDA_SUCCESS) return r;
  std::shared_ptr<Stream> s;
  if (CUresult r = resolve_stream_locked(d, *c, async ? h : nullptr, &s); r != CUDA_SUCCESS) return r;
  const uint64_t seq = submit_locked(d, *c, s, std::move(op));
  lk.unlock();
  if (!async || must_wait) s->wait(seq);
  return CUDA_SUCCESS;
}

CUresult copy_1d(uintptr_t dst, Side dst_side, uintptr_t src, Side src_side, size_t n, CUstream h, bool async) {
  Driver& d = driver();
  bool pageable = false;
  {
    std::lock_guard lk(d.mu);
    std::shared_ptr<Context> c;
    if (CUresult r = current_context_locked(d, &c); r != CUDA_SUCCESS) return r;
    if (n == 0) return CUDA_SUCCESS;
    if (CUresult r = check_side(d, dst_side, dst, n, &pageable); r != CUDA_SUCCESS) return r;
    if (CUresult r = check_side(d, src_side, src, n, &pageable); r != CUDA_SUCCESS) return r;
  }
  // Simplification: the check and the enqueue take the lock separately; a concurrent free in between is the
  // application's race (the free itself waits for queued work).
  return enqueue(h, async, pageable, [dst, src, n] {
    std::memmove(reinterpret_cast<void*>(dst), reinterpret_cast<const void*>(src), n);
  });
}

template <class T>
CUresult memset_n(CUdeviceptr dst, T value, size_t count, CUstream h, bool async) {
  Driver& d = driver();
  {
    std::lock_guard lk(d.mu);
    std::shared_ptr<Context> c;
    if (CUresult r = current_context_locked(d, &c); r != CUDA_SUCCESS) return r;
    if (dst % sizeof(T) != 0) return CUDA_ERROR_INVALID_VALUE;  // D16/D32 need 2-/4-byte aligned addresses
    size_t bytes = 0;
    if (__builtin_mul_overflow(count, sizeof(T), &bytes)) return CUDA_ERROR_INVALID_VALUE;
    if (count == 0) return CUDA_SUCCESS;
    if (d.table.find_range(dst, bytes) == nullptr) return CUDA_ERROR_INVALID_VALUE;
  }
  return enqueue(h, async, false, [dst, value, count] {
    T* p = reinterpret_cast<T*>(dst);
    for (size_t i = 0; i < count; ++i) p[i] = value;
  });
}

struct Side2D {
  Side side;
  uintptr_t start;  // address of the first byte copied
  size_t pitch;
};

CUresult side_2d(int type, const void* host, CUdeviceptr dev, size_t x, size_t y, size_t pitch,
                 Side2D* out) {
  size_t row = 0;
  if (__builtin_mul_overflow(y, pitch, &row)) return CUDA_ERROR_INVALID_VALUE;
  switch (type) {
    case CU_MEMORYTYPE_HOST: *out = {Side::host, addr_of(host) + row + x, pitch}; return CUDA_SUCCESS;
    case CU_MEMORYTYPE_DEVICE: *out = {Side::device, dev + row + x, pitch}; return CUDA_SUCCESS;
    case CU_MEMORYTYPE_UNIFIED: *out = {Side::unified, dev + row + x, pitch}; return CUDA_SUCCESS;
    case CU_MEMORYTYPE_ARRAY: return CUDA_ERROR_NOT_SUPPORTED;  // CUDA arrays are not simulated
    default: return CUDA_ERROR_INVALID_VALUE;
  }
}

CUresult copy_2d(const CUDA_MEMCPY2D* p, CUstream h, bool async) {
  Driver& d = driver();
  XG_SIM_REQUIRE_INIT(d);
  if (p == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const CUDA_MEMCPY2D cp = *p;  // read the caller's descriptor once
  Side2D src{}, dst{};
  if (CUresult r = side_2d(raw(cp.srcMemoryType), cp.srcHost, cp.srcDevice, cp.srcXInBytes, cp.srcY, cp.srcPitch, &src);
      r != CUDA_SUCCESS)
    return r;
  if (CUresult r = side_2d(raw(cp.dstMemoryType), cp.dstHost, cp.dstDevice, cp.dstXInBytes, cp.dstY, cp.dstPitch, &dst);
      r != CUDA_SUCCESS)
    return r;
  const size_t width = cp.WidthInBytes, height = cp.Height;
  if (height > 1 && (src.pitch < width + cp.srcXInBytes || dst.pitch < width + cp.dstXInBytes))
    return CUDA_ERROR_INVALID_VALUE;
  bool pageable = false;
  {
    std::lock_guard lk(d.mu);
    std::shared_ptr<Context> c;
    if (CUresult r = current_context_locked(d, &c); r != CUDA_SUCCESS) return r;
    if (width == 0 || height == 0) return CUDA_SUCCESS;
    for (const Side2D& s : {src, dst}) {
      size_t span = 0;
      if (__builtin_mul_overflow(height - 1, s.pitch, &span) || __builtin_add_overflow(span, width, &span))
        return CUDA_ERROR_INVALID_VALUE;
      if (CUresult r = check_side(d, s.side, s.start, span, &pageable); r != CUDA_SUCCESS) return r;
    }
  }
  return enqueue(h, async, pageable, [src, dst, width, height] {
    for (size_t row = 0; row < height; ++row)
      std::memmove(reinterpret_cast<void*>(dst.start + row * dst.pitch),
                   reinterpret_cast<const void*>(src.start + row * src.pitch), width);
  });
}

}  // namespace

XG_SIM_EXPORT_C CUresult cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t n) {
  return copy_1d(dst, Side::unified, src, Side::unified, n, nullptr, false);
}
XG_SIM_EXPORT_C CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void* src, size_t n) {
  return copy_1d(dst, Side::device, addr_of(src), Side::host, n, nullptr, false);
}
XG_SIM_EXPORT_C CUresult cuMemcpyDtoH_v2(void* dst, CUdeviceptr src, size_t n) {
  return copy_1d(addr_of(dst), Side::host, src, Side::device, n, nullptr, false);
}
XG_SIM_EXPORT_C CUresult cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t n) {
  return copy_1d(dst, Side::device, src, Side::device, n, nullptr, false);
}
XG_SIM_EXPORT_C CUresult cuMemcpy2D_v2(const CUDA_MEMCPY2D* p) { return copy_2d(p, nullptr, false); }

XG_SIM_EXPORT_C CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream h) {
  return copy_1d(dst, Side::unified, src, Side::unified, n, h, true);
}
XG_SIM_EXPORT_C CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void* src, size_t n, CUstream h) {
  return copy_1d(dst, Side::device, addr_of(src), Side::host, n, h, true);
}
XG_SIM_EXPORT_C CUresult cuMemcpyDtoHAsync_v2(void* dst, CUdeviceptr src, size_t n, CUstream h) {
  return copy_1d(addr_of(dst), Side::host, src, Side::device, n, h, true);
}
XG_SIM_EXPORT_C CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream h) {
  return copy_1d(dst, Side::device, src, Side::device, n, h, true);
}
XG_SIM_EXPORT_C CUresult cuMemcpy2DAsync_v2(const CUDA_MEMCPY2D* p, CUstream h) { return copy_2d(p, h, true); }

XG_SIM_EXPORT_C CUresult cuMemsetD8_v2(CUdeviceptr dst, unsigned char v, size_t n) {
  return memset_n(dst, v, n, nullptr, false);
}
XG_SIM_EXPORT_C CUresult cuMemsetD16_v2(CUdeviceptr dst, unsigned short v, size_t n) {
  return memset_n(dst, v, n, nullptr, false);
}
XG_SIM_EXPORT_C CUresult cuMemsetD32_v2(CUdeviceptr dst, unsigned int v, size_t n) {
  return memset_n(dst, v, n, nullptr, false);
}
XG_SIM_EXPORT_C CUresult cuMemsetD8Async(CUdeviceptr dst, unsigned char v, size_t n, CUstream h) {
  return memset_n(dst, v, n, h, true);
}
XG_SIM_EXPORT_C CUresult cuMemsetD16Async(CUdeviceptr dst, unsigned short v, size_t n, CUstream h) {
  return memset_n(dst, v, n, h, true);
}
XG_SIM_EXPORT_C CUresult cuMemsetD32Async(CUdeviceptr dst, unsigned int v, size_t n, CUstream h) {
  return memset_n(dst, v, n, h, true);
}
