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
CUresult cuStreamGetPriority_ptsz(CUstream s, int* p) noexcept { return cuStreamGetPriority(s, p); }
CUresult cuStreamGetFlags_ptsz(CUstream s, unsigned int* f) noexcept { return cuStreamGetFlags(s, f); }
CUresult cuStreamGetId_ptsz(CUstream s, unsigned long long* id) noexcept { return cuStreamGetId(s, id); }
CUresult cuStreamGetDevice_ptsz(CUstream s, CUdevice* d) noexcept { return cuStreamGetDevice(s, d); }
CUresult cuStreamIsCapturing_ptsz(CUstream s, CUstreamCaptureStatus* st) noexcept { return cuStreamIsCapturing(s, st); }
CUresult cuStreamGetCaptureInfo_ptsz(CUstream s, CUstreamCaptureStatus* st, cuuint64_t* id) noexcept {
  return cuStreamGetCaptureInfo(s, st, id);
}
CUresult cuStreamGetCaptureInfo_v2_ptsz(CUstream s, CUstreamCaptureStatus* st, cuuint64_t* id, CUgraph* g,
                                        const CUgraphNode** deps, size_t* n) noexcept {
  return cuStreamGetCaptureInfo_v2(s, st, id, g, deps, n);
}
CUresult cuStreamGetCaptureInfo_v3_ptsz(CUstream s, CUstreamCaptureStatus* st, cuuint64_t* id, CUgraph* g,
                                        const CUgraphNode** deps, const CUgraphEdgeData** e, size_t* n) noexcept {
  return cuStreamGetCaptureInfo_v3(s, st, id, g, deps, e, n);
}
CUresult cuStreamBeginCapture_ptsz(CUstream s) noexcept { return cuStreamBeginCapture(s); }
CUresult cuStreamBeginCapture_v2_ptsz(CUstream s, CUstreamCaptureMode m) noexcept {
  return cuStreamBeginCapture_v2(s, m);
}
CUresult cuStreamEndCapture_ptsz(CUstream s, CUgraph* g) noexcept { return cuStreamEndCapture(s, g); }
CUresult cuStreamGetCtx_ptsz(CUstream s, CUcontext* c) noexcept { return cuStreamGetCtx(s, c); }
CUresult cuStreamGetCtx_v2_ptsz(CUstream s, CUcontext* c, CUgreenCtx* g) noexcept { return cuStreamGetCtx_v2(s, c, g); }

}  // extern "C"
