// The per-thread-default-stream entry points (what cuda.h's CUDA_API_PER_THREAD_DEFAULT_STREAM / nvcc
// --default-stream per-thread select): `_ptsz` for calls that take a stream (a NULL stream there means the
// per-thread stream), `_ptds` for synchronous copies and memsets (which run on the per-thread stream instead of
// the legacy one).
// libvgpu has no per-thread default stream: it maps that stream to the legacy default stream, so these are the same
// functions as their legacy twins. The legacy stream orders more than the per-thread one (it synchronises with
// blocking streams), so programs written for per-thread streams stay correct; they may lose some overlap.
#pragma once

#include "cuda/cuda_abi.h"

extern "C" {
XG_CUDA_API CUresult cuMemcpy_ptds(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount) noexcept;
XG_CUDA_API CUresult cuMemcpyHtoD_v2_ptds(CUdeviceptr dstDevice, const void* srcHost, size_t ByteCount) noexcept;
XG_CUDA_API CUresult cuMemcpyDtoH_v2_ptds(void* dstHost, CUdeviceptr srcDevice, size_t ByteCount) noexcept;
XG_CUDA_API CUresult cuMemcpyDtoD_v2_ptds(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount) noexcept;
XG_CUDA_API CUresult cuMemcpy2D_v2_ptds(const CUDA_MEMCPY2D* pCopy) noexcept;
XG_CUDA_API CUresult cuMemsetD8_v2_ptds(CUdeviceptr dstDevice, unsigned char uc, size_t N) noexcept;
XG_CUDA_API CUresult cuMemsetD16_v2_ptds(CUdeviceptr dstDevice, unsigned short us, size_t N) noexcept;
XG_CUDA_API CUresult cuMemsetD32_v2_ptds(CUdeviceptr dstDevice, unsigned int ui, size_t N) noexcept;

XG_CUDA_API CUresult cuMemcpyAsync_ptsz(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount, CUstream hStream) noexcept;
XG_CUDA_API CUresult cuMemcpyHtoDAsync_v2_ptsz(CUdeviceptr dstDevice, const void* srcHost, size_t ByteCount,
                                               CUstream hStream) noexcept;
XG_CUDA_API CUresult cuMemcpyDtoHAsync_v2_ptsz(void* dstHost, CUdeviceptr srcDevice, size_t ByteCount,
                                               CUstream hStream) noexcept;
XG_CUDA_API CUresult cuMemcpyDtoDAsync_v2_ptsz(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount,
                                               CUstream hStream) noexcept;
XG_CUDA_API CUresult cuMemcpy2DAsync_v2_ptsz(const CUDA_MEMCPY2D* pCopy, CUstream hStream) noexcept;
XG_CUDA_API CUresult cuMemsetD8Async_ptsz(CUdeviceptr dstDevice, unsigned char uc, size_t N, CUstream hStream) noexcept;
XG_CUDA_API CUresult cuMemsetD16Async_ptsz(CUdeviceptr dstDevice, unsigned short us, size_t N,
                                           CUstream hStream) noexcept;
XG_CUDA_API CUresult cuMemsetD32Async_ptsz(CUdeviceptr dstDevice, unsigned int ui, size_t N, CUstream hStream) noexcept;
XG_CUDA_API CUresult cuLaunchKernel_ptsz(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                                         unsigned int gridDimZ, unsigned int blockDimX, unsigned int blockDimY,
                                         unsigned int blockDimZ, unsigned int sharedMemBytes, CUstream hStream,
                                         void** kernelParams, void** extra) noexcept;
XG_CUDA_API CUresult cuLaunchKernelEx_ptsz(const CUlaunchConfig* config, CUfunction f, void** kernelParams,
                                           void** extra) noexcept;
XG_CUDA_API CUresult cuStreamSynchronize_ptsz(CUstream hStream) noexcept;
XG_CUDA_API CUresult cuStreamQuery_ptsz(CUstream hStream) noexcept;
XG_CUDA_API CUresult cuStreamWaitEvent_ptsz(CUstream hStream, CUevent hEvent, unsigned int Flags) noexcept;
XG_CUDA_API CUresult cuEventRecord_ptsz(CUevent hEvent, CUstream hStream) noexcept;
XG_CUDA_API CUresult cuStreamGetPriority_ptsz(CUstream hStream, int* priority) noexcept;
XG_CUDA_API CUresult cuStreamGetFlags_ptsz(CUstream hStream, unsigned int* flags) noexcept;
XG_CUDA_API CUresult cuStreamGetId_ptsz(CUstream hStream, unsigned long long* streamId) noexcept;
XG_CUDA_API CUresult cuStreamGetDevice_ptsz(CUstream hStream, CUdevice* device) noexcept;
XG_CUDA_API CUresult cuStreamIsCapturing_ptsz(CUstream hStream, CUstreamCaptureStatus* status) noexcept;
XG_CUDA_API CUresult cuStreamGetCaptureInfo_ptsz(CUstream hStream, CUstreamCaptureStatus* status,
                                                 cuuint64_t* id) noexcept;
XG_CUDA_API CUresult cuStreamGetCaptureInfo_v2_ptsz(CUstream hStream, CUstreamCaptureStatus* status, cuuint64_t* id,
                                                    CUgraph* graph, const CUgraphNode** deps,
                                                    size_t* num_deps) noexcept;
XG_CUDA_API CUresult cuStreamGetCaptureInfo_v3_ptsz(CUstream hStream, CUstreamCaptureStatus* status, cuuint64_t* id,
                                                    CUgraph* graph, const CUgraphNode** deps,
                                                    const CUgraphEdgeData** edges, size_t* num_deps) noexcept;
XG_CUDA_API CUresult cuStreamBeginCapture_ptsz(CUstream hStream) noexcept;
XG_CUDA_API CUresult cuStreamBeginCapture_v2_ptsz(CUstream hStream, CUstreamCaptureMode mode) noexcept;
XG_CUDA_API CUresult cuStreamEndCapture_ptsz(CUstream hStream, CUgraph* phGraph) noexcept;
XG_CUDA_API CUresult cuStreamGetCtx_ptsz(CUstream hStream, CUcontext* pctx) noexcept;
XG_CUDA_API CUresult cuStreamGetCtx_v2_ptsz(CUstream hStream, CUcontext* pctx, CUgreenCtx* pGreenCtx) noexcept;
}
