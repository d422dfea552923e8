#include "libvgpu/proc_address.h"

#include <cstring>

#include "libvgpu/ptds.h"
#include "libvgpu/state.h"

namespace xg::vgpu {
namespace {

#define XG_E(base, version, symbol) {#base, version, reinterpret_cast<void*>(&symbol), nullptr}
#define XG_T(base, version, symbol, twin) \
  {#base, version, reinterpret_cast<void*>(&symbol), reinterpret_cast<void*>(&twin)}
const ProcEntry kEntries[] = {
    XG_E(cuInit, 2000, cuInit),
    XG_E(cuDriverGetVersion, 2020, cuDriverGetVersion),
    XG_E(cuGetErrorName, 6000, cuGetErrorName),
    XG_E(cuGetErrorString, 6000, cuGetErrorString),
    XG_E(cuGetProcAddress, 11030, cuGetProcAddress),
    XG_E(cuGetProcAddress, 12000, cuGetProcAddress_v2),
    // devices
    XG_E(cuDeviceGetCount, 2000, cuDeviceGetCount),
    XG_E(cuDeviceGet, 2000, cuDeviceGet),
    XG_E(cuDeviceGetName, 2000, cuDeviceGetName),
    XG_E(cuDeviceGetUuid, 9020, cuDeviceGetUuid),
    XG_E(cuDeviceGetUuid, 11040, cuDeviceGetUuid_v2),
    XG_E(cuDeviceTotalMem, 3020, cuDeviceTotalMem_v2),
    XG_E(cuDeviceGetAttribute, 2000, cuDeviceGetAttribute),
    XG_E(cuDeviceComputeCapability, 2000, cuDeviceComputeCapability),
    // primary context
    XG_E(cuDevicePrimaryCtxRetain, 7000, cuDevicePrimaryCtxRetain),
    XG_E(cuDevicePrimaryCtxRelease, 11000, cuDevicePrimaryCtxRelease_v2),
    XG_E(cuDevicePrimaryCtxReset, 11000, cuDevicePrimaryCtxReset_v2),
    XG_E(cuDevicePrimaryCtxSetFlags, 11000, cuDevicePrimaryCtxSetFlags_v2),
    XG_E(cuDevicePrimaryCtxGetState, 7000, cuDevicePrimaryCtxGetState),
    // contexts
    XG_E(cuCtxCreate, 3020, cuCtxCreate_v2),
    XG_E(cuCtxDestroy, 4000, cuCtxDestroy_v2),
    XG_E(cuCtxGetCurrent, 4000, cuCtxGetCurrent),
    XG_E(cuCtxSetCurrent, 4000, cuCtxSetCurrent),
    XG_E(cuCtxPushCurrent, 4000, cuCtxPushCurrent_v2),
    XG_E(cuCtxPopCurrent, 4000, cuCtxPopCurrent_v2),
    XG_E(cuCtxGetDevice, 2000, cuCtxGetDevice),
    XG_E(cuCtxSynchronize, 2000, cuCtxSynchronize),
    XG_E(cuCtxGetLimit, 3010, cuCtxGetLimit),
    XG_E(cuCtxSetLimit, 3010, cuCtxSetLimit),
    XG_E(cuCtxGetApiVersion, 3020, cuCtxGetApiVersion),
    XG_E(cuCtxGetFlags, 7000, cuCtxGetFlags),
    // memory
    XG_E(cuMemAlloc, 3020, cuMemAlloc_v2),
    XG_E(cuMemFree, 3020, cuMemFree_v2),
    XG_E(cuMemGetInfo, 3020, cuMemGetInfo_v2),
    XG_E(cuMemGetAddressRange, 3020, cuMemGetAddressRange_v2),
    XG_E(cuMemAllocPitch, 3020, cuMemAllocPitch_v2),
    XG_E(cuMemAllocHost, 3020, cuMemAllocHost_v2),
    XG_E(cuMemHostAlloc, 2020, cuMemHostAlloc),
    XG_E(cuMemFreeHost, 2000, cuMemFreeHost),
    XG_E(cuMemHostRegister, 6050, cuMemHostRegister_v2),
    XG_E(cuMemHostUnregister, 4000, cuMemHostUnregister),
    XG_E(cuMemHostGetDevicePointer, 3020, cuMemHostGetDevicePointer_v2),
    XG_E(cuPointerGetAttribute, 4000, cuPointerGetAttribute),
    XG_E(cuPointerGetAttributes, 7000, cuPointerGetAttributes),
    // copies and memsets
    XG_T(cuMemcpy, 4000, cuMemcpy, cuMemcpy_ptds),
    XG_T(cuMemcpyHtoD, 3020, cuMemcpyHtoD_v2, cuMemcpyHtoD_v2_ptds),
    XG_T(cuMemcpyDtoH, 3020, cuMemcpyDtoH_v2, cuMemcpyDtoH_v2_ptds),
    XG_T(cuMemcpyDtoD, 3020, cuMemcpyDtoD_v2, cuMemcpyDtoD_v2_ptds),
    XG_T(cuMemcpy2D, 3020, cuMemcpy2D_v2, cuMemcpy2D_v2_ptds),
    XG_T(cuMemcpyAsync, 4000, cuMemcpyAsync, cuMemcpyAsync_ptsz),
    XG_T(cuMemcpyHtoDAsync, 3020, cuMemcpyHtoDAsync_v2, cuMemcpyHtoDAsync_v2_ptsz),
    XG_T(cuMemcpyDtoHAsync, 3020, cuMemcpyDtoHAsync_v2, cuMemcpyDtoHAsync_v2_ptsz),
    XG_T(cuMemcpyDtoDAsync, 3020, cuMemcpyDtoDAsync_v2, cuMemcpyDtoDAsync_v2_ptsz),
    XG_T(cuMemcpy2DAsync, 3020, cuMemcpy2DAsync_v2, cuMemcpy2DAsync_v2_ptsz),
    XG_T(cuMemsetD8, 3020, cuMemsetD8_v2, cuMemsetD8_v2_ptds),
    XG_T(cuMemsetD16, 3020, cuMemsetD16_v2, cuMemsetD16_v2_ptds),
    XG_T(cuMemsetD32, 3020, cuMemsetD32_v2, cuMemsetD32_v2_ptds),
    XG_T(cuMemsetD8Async, 3020, cuMemsetD8Async, cuMemsetD8Async_ptsz),
    XG_T(cuMemsetD16Async, 3020, cuMemsetD16Async, cuMemsetD16Async_ptsz),
    XG_T(cuMemsetD32Async, 3020, cuMemsetD32Async, cuMemsetD32Async_ptsz),
    // modules, libraries, functions
    XG_E(cuModuleLoad, 2000, cuModuleLoad),
    XG_E(cuModuleLoadData, 2000, cuModuleLoadData),
    XG_E(cuModuleLoadDataEx, 2010, cuModuleLoadDataEx),
    XG_E(cuModuleLoadFatBinary, 2000, cuModuleLoadFatBinary),
    XG_E(cuModuleUnload, 2000, cuModuleUnload),
    XG_E(cuModuleGetFunction, 2000, cuModuleGetFunction),
    XG_E(cuModuleGetGlobal, 3020, cuModuleGetGlobal_v2),
    XG_E(cuLibraryLoadData, 12000, cuLibraryLoadData),
    XG_E(cuLibraryUnload, 12000, cuLibraryUnload),
    XG_E(cuLibraryGetKernel, 12000, cuLibraryGetKernel),
    XG_E(cuKernelGetFunction, 12000, cuKernelGetFunction),
    XG_E(cuFuncGetAttribute, 2020, cuFuncGetAttribute),
    XG_E(cuFuncSetAttribute, 9000, cuFuncSetAttribute),
    XG_E(cuFuncGetParamInfo, 12040, cuFuncGetParamInfo),
    // launches
    XG_T(cuLaunchKernel, 4000, cuLaunchKernel, cuLaunchKernel_ptsz),
    XG_T(cuLaunchKernelEx, 11060, cuLaunchKernelEx, cuLaunchKernelEx_ptsz),
    XG_E(cuOccupancyMaxActiveBlocksPerMultiprocessor, 6050, cuOccupancyMaxActiveBlocksPerMultiprocessor),
    XG_E(cuOccupancyMaxPotentialBlockSize, 6050, cuOccupancyMaxPotentialBlockSize),
    // streams and events
    XG_E(cuStreamCreate, 2000, cuStreamCreate),
    XG_E(cuStreamCreateWithPriority, 5050, cuStreamCreateWithPriority),
    XG_E(cuStreamDestroy, 4000, cuStreamDestroy_v2),
    XG_T(cuStreamSynchronize, 2000, cuStreamSynchronize, cuStreamSynchronize_ptsz),
    XG_T(cuStreamQuery, 2000, cuStreamQuery, cuStreamQuery_ptsz),
    XG_T(cuStreamWaitEvent, 3020, cuStreamWaitEvent, cuStreamWaitEvent_ptsz),
    XG_E(cuEventCreate, 2000, cuEventCreate),
    XG_T(cuEventRecord, 2000, cuEventRecord, cuEventRecord_ptsz),
    XG_E(cuEventQuery, 2000, cuEventQuery),
    XG_E(cuEventSynchronize, 2000, cuEventSynchronize),
    XG_E(cuEventElapsedTime, 2000, cuEventElapsedTime),
    XG_E(cuEventDestroy, 4000, cuEventDestroy_v2),
};
#undef XG_E
#undef XG_T

}  // namespace

std::span<const ProcEntry> proc_entries() noexcept { return kEntries; }

// As the driver: flags select the legacy (default) or the per-thread-default-stream flavour; cudaVersion picks the
// newest entry whose version is <= it; a known name below its first version is VERSION_NOT_SUFFICIENT.
CUresult resolve_proc(const char* symbol, void** pfn, int cuda_version, cuuint64_t flags,
                      CUdriverProcAddressQueryResult* status) noexcept {
  if (symbol == nullptr || pfn == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if ((flags & ~cuuint64_t{CU_GET_PROC_ADDRESS_LEGACY_STREAM | CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM}) != 0)
    return CUDA_ERROR_INVALID_VALUE;
  *pfn = nullptr;
  const ProcEntry* best = nullptr;
  bool known = false;
  for (const ProcEntry& e : kEntries) {
    if (std::strcmp(e.name, symbol) != 0) continue;
    known = true;
    if (e.version <= cuda_version && (best == nullptr || e.version > best->version)) best = &e;
  }
  if (best == nullptr) {
    if (status != nullptr)
      *status = known ? CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT : CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
    return CUDA_ERROR_NOT_FOUND;
  }
  const bool per_thread = (flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) != 0;
  *pfn = per_thread && best->per_thread != nullptr ? best->per_thread : best->fn;
  if (status != nullptr) *status = CU_GET_PROC_ADDRESS_SUCCESS;
  return CUDA_SUCCESS;
}

}  // namespace xg::vgpu

extern "C" {

CUresult cuGetProcAddress_v2(const char* symbol, void** pfn, int cudaVersion, cuuint64_t flags,
                             CUdriverProcAddressQueryResult* symbolStatus) {
  return xg::vgpu::resolve_proc(symbol, pfn, cudaVersion, flags, symbolStatus);
}

CUresult cuGetProcAddress(const char* symbol, void** pfn, int cudaVersion, cuuint64_t flags) {
  return xg::vgpu::resolve_proc(symbol, pfn, cudaVersion, flags, nullptr);
}

}  // extern "C"
