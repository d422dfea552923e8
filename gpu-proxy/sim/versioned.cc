// Newer ABI variants of entry points the simulated driver already has (CUDA 12.x-13.0 headers bind the plain names
// to them), expressed through the older variant, plus cuGetExportTable. What the simulated driver cannot do (SM
// affinity, CIG contexts, green contexts, the private tables of NVIDIA's runtime) is refused with a real error.
#include "sim_internal.h"

namespace {

CUresult create_with_affinity(CUcontext* pctx, const CUexecAffinityParam* params, int n, unsigned flags,
                              CUdevice dev) {
  if (n < 0 || (n > 0 && params == nullptr)) return CUDA_ERROR_INVALID_VALUE;
  if (n > 0) return CUDA_ERROR_NOT_SUPPORTED;  // no SM partitioning in the simulated device
  return cuCtxCreate_v2(pctx, flags, dev);
}

}  // namespace

XG_SIM_EXPORT_C CUresult cuCtxCreate_v3(CUcontext* pctx, CUexecAffinityParam* params, int n, unsigned int flags,
                                        CUdevice dev) {
  return create_with_affinity(pctx, params, n, flags, dev);
}

XG_SIM_EXPORT_C CUresult cuCtxCreate_v4(CUcontext* pctx, CUctxCreateParams* p, unsigned int flags, CUdevice dev) {
  if (p == nullptr) return cuCtxCreate_v2(pctx, flags, dev);
  if (p->cigParams != nullptr) return CUDA_ERROR_NOT_SUPPORTED;  // CUDA-in-graphics sharing needs a graphics API
  return create_with_affinity(pctx, p->execAffinityParams, p->numExecAffinityParams, flags, dev);
}

XG_SIM_EXPORT_C CUresult cuCtxGetDevice_v2(CUdevice* device, CUcontext ctx) {
  if (ctx == nullptr) return cuCtxGetDevice(device);
  unsigned v = 0;
  if (CUresult r = cuCtxGetApiVersion(ctx, &v); r != CUDA_SUCCESS) return r;  // validates the handle
  if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *device = 0;
  return CUDA_SUCCESS;
}

XG_SIM_EXPORT_C CUresult cuCtxSynchronize_v2(CUcontext ctx) {
  if (ctx == nullptr) return cuCtxSynchronize();
  if (CUresult r = cuCtxPushCurrent_v2(ctx); r != CUDA_SUCCESS) return r;
  const CUresult r = cuCtxSynchronize();
  CUcontext popped = nullptr;
  (void)cuCtxPopCurrent_v2(&popped);
  return r;
}

// Context handles of this driver are never reused within a process, so the handle is the unique ID.
XG_SIM_EXPORT_C CUresult cuCtxGetId(CUcontext ctx, unsigned long long* id) {
  if (id == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (ctx == nullptr) {
    if (CUresult r = cuCtxGetCurrent(&ctx); r != CUDA_SUCCESS) return r;
    if (ctx == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
  }
  unsigned v = 0;
  if (CUresult r = cuCtxGetApiVersion(ctx, &v); r != CUDA_SUCCESS) return r;
  *id = static_cast<unsigned long long>(reinterpret_cast<uintptr_t>(ctx));
  return CUDA_SUCCESS;
}

// Streams resolve within the current context here, so a stream's context is the current one.
XG_SIM_EXPORT_C CUresult cuStreamGetCtx(CUstream s, CUcontext* pctx) {
  if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUcontext c = nullptr;
  if (CUresult r = cuCtxGetCurrent(&c); r != CUDA_SUCCESS) return r;
  if (c == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
  if (CUresult r = cuStreamQuery(s); r != CUDA_SUCCESS && r != CUDA_ERROR_NOT_READY) return r;
  *pctx = c;
  return CUDA_SUCCESS;
}

XG_SIM_EXPORT_C CUresult cuStreamGetCtx_v2(CUstream s, CUcontext* pctx, CUgreenCtx* pGreenCtx) {
  if (pGreenCtx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = cuStreamGetCtx(s, pctx); r != CUDA_SUCCESS) return r;
  *pGreenCtx = nullptr;  // no green contexts
  return CUDA_SUCCESS;
}

XG_SIM_EXPORT_C CUresult cuEventElapsedTime_v2(float* ms, CUevent start, CUevent end) {
  return cuEventElapsedTime(ms, start, end);
}

// The private tables belong to NVIDIA's runtime and driver; this driver has none (a CUDA runtime cannot run on it
// directly; in a zone, libvgpu answers them). The answer is the one for an unknown table.
XG_SIM_EXPORT_C CUresult cuGetExportTable(const void** ppExportTable, const CUuuid* id) {
  if (ppExportTable == nullptr || id == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *ppExportTable = nullptr;
  return CUDA_ERROR_INVALID_VALUE;
}
