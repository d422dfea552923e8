// The per-thread-default-stream twins: the per-thread default stream is the legacy one here (ptds.h).
#include "libvgpu/ptds.h"

extern "C" {

CUresult cuMemcpy_ptds(CUdeviceptr dst, CUdeviceptr src, size_t n) noexcept { return cuMemcpy(dst, src, n); }
CUresult cuMemcpyHtoD_v2_ptds(CUdeviceptr dst, const void* src, size_t n) noexcept {
  return cuMemcpyHtoD_v2(dst, src, n);
}
CUresult cuMemcpyDtoH_v2_ptds(void* dst, CUdeviceptr src, size_t n) noexcept { return cuMemcpyDtoH_v2(dst, src, n); }
CUresult cuMemcpyDtoD_v2_ptds(CUdeviceptr dst, CUdeviceptr src, size_t n) noexcept {
  return cuMemcpyDtoD_v2(dst, src, n);
}
CUresult cuMemcpy2D_v2_ptds(const CUDA_MEMCPY2D* p) noexcept { return cuMemcpy2D_v2(p); }
CUresult cuMemsetD8_v2_ptds(CUdeviceptr d, unsigned char v, size_t n) noexcept { return cuMemsetD8_v2(d, v, n); }
CUresult cuMemsetD16_v2_ptds(CUdeviceptr d, unsigned short v, size_t n) noexcept { return cuMemsetD16_v2(d, v, n); }
CUresult cuMemsetD32_v2_ptds(CUdeviceptr d, unsigned int v, size_t n) noexcept { return cuMemsetD32_v2(d, v, n); }

CUresult cuMemcpyAsync_ptsz(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s) noexcept {
  return cuMemcpyAsync(dst, src, n, s);
}
CUresult cuMemcpyHtoDAsync_v2_ptsz(CUdeviceptr dst, const void* src, size_t n, CUstream s) noexcept {
  return cuMemcpyHtoDAsync_v2(dst, src, n, s);
}
CUresult cuMemcpyDtoHAsync_v2_ptsz(void* dst, CUdeviceptr src, size_t n, CUstream s) noexcept {
  return cuMemcpyDtoHAsync_v2(dst, src, n, s);
}
CUresult cuMemcpyDtoDAsync_v2_ptsz(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s) noexcept {
  return cuMemcpyDtoDAsync_v2(dst, src, n, s);
}
CUresult cuMemcpy2DAsync_v2_ptsz(const CUDA_MEMCPY2D* p, CUstream s) noexcept { return cuMemcpy2DAsync_v2(p, s); }
CUresult cuMemsetD8Async_ptsz(CUdeviceptr d, unsigned char v, size_t n, CUstream s) noexcept {
  return cuMemsetD8Async(d, v, n, s);
}
CUresult cuMemsetD16Async_ptsz(CUdeviceptr d, unsigned short v, size_t n, CUstream s) noexcept {
  return cuMemsetD16Async(d, v, n, s);
}
CUresult cuMemsetD32Async_ptsz(CUdeviceptr d, unsigned int v, size_t n, CUstream s) noexcept {
  return cuMemsetD32Async(d, v, n, s);
}
CUresult cuLaunchKernel_ptsz(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx,
                             unsigned int by, unsigned int bz, unsigned int shared, CUstream s, void** params,
                             void** extra) noexcept {
  return cuLaunchKernel(f, gx, gy, gz, bx, by, bz, shared, s, params, extra);
}
CUresult cuLaunchKernelEx_ptsz(const CUlaunchConfig* config, CUfunction f, void** params, void** extra) noexcept {
  return cuLaunchKernelEx(config, f, params, extra);
}
CUresult cuStreamSynchronize_ptsz(CUstream s) noexcept { return cuStreamSynchronize(s); }
CUresult cuStreamQuery_ptsz(CUstream s) noexcept { return cuStreamQuery(s); }
CUresult cuStreamWaitEvent_ptsz(CUstream s, CUevent e, unsigned int flags) noexcept {
  return cuStreamWaitEvent(s, e, flags);
}
CUresult cuEventRecord_ptsz(CUevent e, CUstream s) noexcept { return cuEventRecord(e, s); }
CUresult cuStreamGetCtx_ptsz(CUstream s, CUcontext* c) noexcept { return cuStreamGetCtx(s, c); }
CUresult cuStreamGetCtx_v2_ptsz(CUstream s, CUcontext* c, CUgreenCtx* g) noexcept { return cuStreamGetCtx_v2(s, c, g); }

}  // extern "C"
