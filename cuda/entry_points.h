// Every driver entry point xen-gpu implements, as data: (base name, the CUDA version from which the base name
// resolves to this symbol, the exported symbol) -- and, for stream-ordered calls, the per-thread-default-stream
// twin (_ptsz/_ptds). Facts of the driver ABI: the simulated driver's and libvgpu's cuGetProcAddress tables are
// made from it, the worker resolves the driver's entry points at these versions (symbol_version below), and
// libvgpu's exports.map is checked against it (vgpu_test).
//   E(base, version, symbol)          T(base, version, symbol, per_thread_twin)
#pragma once

#include <string_view>

#define XG_CUDA_ENTRY_POINTS(E, T) \
  E(cuInit, 2000, cuInit) \
  E(cuDriverGetVersion, 2020, cuDriverGetVersion) \
  E(cuGetErrorName, 6000, cuGetErrorName) \
  E(cuGetErrorString, 6000, cuGetErrorString) \
  E(cuGetProcAddress, 11030, cuGetProcAddress) \
  E(cuGetProcAddress, 12000, cuGetProcAddress_v2) \
  E(cuGetExportTable, 3000, cuGetExportTable) \
  /* devices */ \
  E(cuDeviceGetCount, 2000, cuDeviceGetCount) \
  E(cuDeviceGet, 2000, cuDeviceGet) \
  E(cuDeviceGetName, 2000, cuDeviceGetName) \
  E(cuDeviceGetUuid, 9020, cuDeviceGetUuid) \
  E(cuDeviceGetUuid, 11040, cuDeviceGetUuid_v2) \
  E(cuDeviceTotalMem, 3020, cuDeviceTotalMem_v2) \
  E(cuDeviceGetAttribute, 2000, cuDeviceGetAttribute) \
  E(cuDeviceComputeCapability, 2000, cuDeviceComputeCapability) \
  /* primary context */ \
  E(cuDevicePrimaryCtxRetain, 7000, cuDevicePrimaryCtxRetain) \
  E(cuDevicePrimaryCtxRelease, 11000, cuDevicePrimaryCtxRelease_v2) \
  E(cuDevicePrimaryCtxReset, 11000, cuDevicePrimaryCtxReset_v2) \
  E(cuDevicePrimaryCtxSetFlags, 11000, cuDevicePrimaryCtxSetFlags_v2) \
  E(cuDevicePrimaryCtxGetState, 7000, cuDevicePrimaryCtxGetState) \
  /* contexts */ \
  E(cuCtxCreate, 3020, cuCtxCreate_v2) \
  E(cuCtxCreate, 11040, cuCtxCreate_v3) \
  E(cuCtxCreate, 12050, cuCtxCreate_v4) \
  E(cuCtxDestroy, 4000, cuCtxDestroy_v2) \
  E(cuCtxGetCurrent, 4000, cuCtxGetCurrent) \
  E(cuCtxSetCurrent, 4000, cuCtxSetCurrent) \
  E(cuCtxPushCurrent, 4000, cuCtxPushCurrent_v2) \
  E(cuCtxPopCurrent, 4000, cuCtxPopCurrent_v2) \
  E(cuCtxGetDevice, 2000, cuCtxGetDevice) \
  E(cuCtxGetDevice, 13000, cuCtxGetDevice_v2) \
  E(cuCtxSynchronize, 2000, cuCtxSynchronize) \
  E(cuCtxSynchronize, 13000, cuCtxSynchronize_v2) \
  E(cuCtxGetId, 12000, cuCtxGetId) \
  E(cuCtxGetLimit, 3010, cuCtxGetLimit) \
  E(cuCtxSetLimit, 3010, cuCtxSetLimit) \
  E(cuCtxGetApiVersion, 3020, cuCtxGetApiVersion) \
  E(cuCtxGetFlags, 7000, cuCtxGetFlags) \
  E(cuCtxGetStreamPriorityRange, 5050, cuCtxGetStreamPriorityRange) \
  /* memory */ \
  E(cuMemAlloc, 3020, cuMemAlloc_v2) \
  E(cuMemFree, 3020, cuMemFree_v2) \
  E(cuMemGetInfo, 3020, cuMemGetInfo_v2) \
  E(cuMemGetAddressRange, 3020, cuMemGetAddressRange_v2) \
  E(cuMemAllocPitch, 3020, cuMemAllocPitch_v2) \
  E(cuMemAllocHost, 3020, cuMemAllocHost_v2) \
  E(cuMemHostAlloc, 2020, cuMemHostAlloc) \
  E(cuMemFreeHost, 2000, cuMemFreeHost) \
  E(cuMemHostRegister, 6050, cuMemHostRegister_v2) \
  E(cuMemHostUnregister, 4000, cuMemHostUnregister) \
  E(cuMemHostGetDevicePointer, 3020, cuMemHostGetDevicePointer_v2) \
  E(cuPointerGetAttribute, 4000, cuPointerGetAttribute) \
  E(cuPointerGetAttributes, 7000, cuPointerGetAttributes) \
  /* copies and memsets */ \
  T(cuMemcpy, 4000, cuMemcpy, cuMemcpy_ptds) \
  T(cuMemcpyHtoD, 3020, cuMemcpyHtoD_v2, cuMemcpyHtoD_v2_ptds) \
  T(cuMemcpyDtoH, 3020, cuMemcpyDtoH_v2, cuMemcpyDtoH_v2_ptds) \
  T(cuMemcpyDtoD, 3020, cuMemcpyDtoD_v2, cuMemcpyDtoD_v2_ptds) \
  T(cuMemcpy2D, 3020, cuMemcpy2D_v2, cuMemcpy2D_v2_ptds) \
  T(cuMemcpyAsync, 4000, cuMemcpyAsync, cuMemcpyAsync_ptsz) \
  T(cuMemcpyHtoDAsync, 3020, cuMemcpyHtoDAsync_v2, cuMemcpyHtoDAsync_v2_ptsz) \
  T(cuMemcpyDtoHAsync, 3020, cuMemcpyDtoHAsync_v2, cuMemcpyDtoHAsync_v2_ptsz) \
  T(cuMemcpyDtoDAsync, 3020, cuMemcpyDtoDAsync_v2, cuMemcpyDtoDAsync_v2_ptsz) \
  T(cuMemcpy2DAsync, 3020, cuMemcpy2DAsync_v2, cuMemcpy2DAsync_v2_ptsz) \
  T(cuMemsetD8, 3020, cuMemsetD8_v2, cuMemsetD8_v2_ptds) \
  T(cuMemsetD16, 3020, cuMemsetD16_v2, cuMemsetD16_v2_ptds) \
  T(cuMemsetD32, 3020, cuMemsetD32_v2, cuMemsetD32_v2_ptds) \
  T(cuMemsetD8Async, 3020, cuMemsetD8Async, cuMemsetD8Async_ptsz) \
  T(cuMemsetD16Async, 3020, cuMemsetD16Async, cuMemsetD16Async_ptsz) \
  T(cuMemsetD32Async, 3020, cuMemsetD32Async, cuMemsetD32Async_ptsz) \
  /* modules, libraries, functions */ \
  E(cuModuleLoad, 2000, cuModuleLoad) \
  E(cuModuleLoadData, 2000, cuModuleLoadData) \
  E(cuModuleLoadDataEx, 2010, cuModuleLoadDataEx) \
  E(cuModuleLoadFatBinary, 2000, cuModuleLoadFatBinary) \
  E(cuModuleUnload, 2000, cuModuleUnload) \
  E(cuModuleGetFunction, 2000, cuModuleGetFunction) \
  E(cuModuleGetGlobal, 3020, cuModuleGetGlobal_v2) \
  E(cuLibraryLoadData, 12000, cuLibraryLoadData) \
  E(cuLibraryUnload, 12000, cuLibraryUnload) \
  E(cuLibraryGetKernel, 12000, cuLibraryGetKernel) \
  E(cuLibraryGetModule, 12000, cuLibraryGetModule) \
  E(cuKernelGetFunction, 12000, cuKernelGetFunction) \
  E(cuFuncGetAttribute, 2020, cuFuncGetAttribute) \
  E(cuFuncSetAttribute, 9000, cuFuncSetAttribute) \
  E(cuFuncGetParamInfo, 12040, cuFuncGetParamInfo) \
  /* launches */ \
  T(cuLaunchKernel, 4000, cuLaunchKernel, cuLaunchKernel_ptsz) \
  T(cuLaunchKernelEx, 11060, cuLaunchKernelEx, cuLaunchKernelEx_ptsz) \
  E(cuOccupancyMaxActiveBlocksPerMultiprocessor, 6050, cuOccupancyMaxActiveBlocksPerMultiprocessor) \
  E(cuOccupancyMaxPotentialBlockSize, 6050, cuOccupancyMaxPotentialBlockSize) \
  /* streams and events */ \
  E(cuStreamCreate, 2000, cuStreamCreate) \
  E(cuStreamCreateWithPriority, 5050, cuStreamCreateWithPriority) \
  E(cuStreamDestroy, 4000, cuStreamDestroy_v2) \
  T(cuStreamSynchronize, 2000, cuStreamSynchronize, cuStreamSynchronize_ptsz) \
  T(cuStreamQuery, 2000, cuStreamQuery, cuStreamQuery_ptsz) \
  T(cuStreamWaitEvent, 3020, cuStreamWaitEvent, cuStreamWaitEvent_ptsz) \
  T(cuStreamGetCtx, 9020, cuStreamGetCtx, cuStreamGetCtx_ptsz) \
  T(cuStreamGetCtx, 12050, cuStreamGetCtx_v2, cuStreamGetCtx_v2_ptsz) \
  E(cuEventCreate, 2000, cuEventCreate) \
  T(cuEventRecord, 2000, cuEventRecord, cuEventRecord_ptsz) \
  E(cuEventQuery, 2000, cuEventQuery) \
  E(cuEventSynchronize, 2000, cuEventSynchronize) \
  E(cuEventElapsedTime, 2000, cuEventElapsedTime) \
  E(cuEventElapsedTime, 12080, cuEventElapsedTime_v2) \
  E(cuEventDestroy, 4000, cuEventDestroy_v2) \
  /* end */

// Entry points libvgpu answers inside the zone from what it already knows (stream flags, names it fetched, the
// device's PCI address), or refuses on purpose (stream capture): the worker never calls them, so the simulated
// driver does not implement them.
#define XG_CUDA_ZONE_ENTRY_POINTS(E, T) \
  E(cuDeviceGetPCIBusId, 4010, cuDeviceGetPCIBusId) \
  E(cuDeviceGetByPCIBusId, 4010, cuDeviceGetByPCIBusId) \
  E(cuDeviceCanAccessPeer, 4000, cuDeviceCanAccessPeer) \
  E(cuDeviceGetP2PAttribute, 8000, cuDeviceGetP2PAttribute) \
  E(cuFuncGetName, 12030, cuFuncGetName) \
  E(cuKernelGetName, 12030, cuKernelGetName) \
  T(cuStreamGetPriority, 5050, cuStreamGetPriority, cuStreamGetPriority_ptsz) \
  T(cuStreamGetFlags, 5050, cuStreamGetFlags, cuStreamGetFlags_ptsz) \
  T(cuStreamGetId, 12000, cuStreamGetId, cuStreamGetId_ptsz) \
  T(cuStreamGetDevice, 12080, cuStreamGetDevice, cuStreamGetDevice_ptsz) \
  T(cuStreamIsCapturing, 10000, cuStreamIsCapturing, cuStreamIsCapturing_ptsz) \
  T(cuStreamGetCaptureInfo, 10010, cuStreamGetCaptureInfo, cuStreamGetCaptureInfo_ptsz) \
  T(cuStreamGetCaptureInfo, 11030, cuStreamGetCaptureInfo_v2, cuStreamGetCaptureInfo_v2_ptsz) \
  T(cuStreamGetCaptureInfo, 12030, cuStreamGetCaptureInfo_v3, cuStreamGetCaptureInfo_v3_ptsz) \
  T(cuStreamBeginCapture, 10000, cuStreamBeginCapture, cuStreamBeginCapture_ptsz) \
  T(cuStreamBeginCapture, 10010, cuStreamBeginCapture_v2, cuStreamBeginCapture_v2_ptsz) \
  T(cuStreamEndCapture, 10000, cuStreamEndCapture, cuStreamEndCapture_ptsz) \
  E(cuThreadExchangeStreamCaptureMode, 10010, cuThreadExchangeStreamCaptureMode) \
  /* end */

// Every entry point libvgpu exports: the driver's and the zone's own.
#define XG_CUDA_ALL_ENTRY_POINTS(E, T) XG_CUDA_ENTRY_POINTS(E, T) XG_CUDA_ZONE_ENTRY_POINTS(E, T)

namespace xg::cuda {

// The CUDA version from which a base name resolves to `symbol` (cuCtxCreate_v2: 3020), or 0 for a symbol not in
// the table. Asked for a base name at this version, a driver answers with exactly that variant; asked at a newer
// version it may answer with a newer variant of different parameters (NVIDIA's 580 driver gives cuCtxCreate_v3
// for "cuCtxCreate" at 12040).
constexpr int symbol_version(std::string_view symbol) noexcept {
#define XG_SV_E(base, version, sym) \
  if (symbol == #sym) return version;
#define XG_SV_T(base, version, sym, twin) XG_SV_E(base, version, sym)
  XG_CUDA_ALL_ENTRY_POINTS(XG_SV_E, XG_SV_T)
#undef XG_SV_E
#undef XG_SV_T
  return 0;
}
static_assert(symbol_version("cuCtxCreate_v2") == 3020);

}  // namespace xg::cuda
