// cuGetProcAddress: the table of every entry point this driver implements, by base name and the CUDA version
// from which the base name means that symbol (as the real driver resolves "cuMemAlloc" to cuMemAlloc_v2 for
// cudaVersion >= 3020). Anything absent answers CUDA_ERROR_NOT_FOUND. Works before cuInit.
// Simplification: CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM returns the same (legacy-stream) functions,
// since the simulated driver treats the per-thread default stream as the legacy one.
//
// Implementors: a new entry point goes in idm/cuda_abi.h (prototype, real symbol), in its source file here, and
// in this table with its base name and version.
#include <cstring>

#include "sim_internal.h"

namespace {

struct Entry {
  const char* name;  // base name, as passed to cuGetProcAddress
  int version;       // CUDA version from which `name` resolves to `fn`
  void* fn;
};

#define XG_E(base, version, symbol) {#base, version, reinterpret_cast<void*>(&symbol)}
const Entry kEntries[] = {
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
    XG_E(cuMemcpy, 4000, cuMemcpy),
    XG_E(cuMemcpyHtoD, 3020, cuMemcpyHtoD_v2),
    XG_E(cuMemcpyDtoH, 3020, cuMemcpyDtoH_v2),
    XG_E(cuMemcpyDtoD, 3020, cuMemcpyDtoD_v2),
    XG_E(cuMemcpy2D, 3020, cuMemcpy2D_v2),
    XG_E(cuMemcpyAsync, 4000, cuMemcpyAsync),
    XG_E(cuMemcpyHtoDAsync, 3020, cuMemcpyHtoDAsync_v2),
    XG_E(cuMemcpyDtoHAsync, 3020, cuMemcpyDtoHAsync_v2),
    XG_E(cuMemcpyDtoDAsync, 3020, cuMemcpyDtoDAsync_v2),
    XG_E(cuMemcpy2DAsync, 3020, cuMemcpy2DAsync_v2),
    XG_E(cuMemsetD8, 3020, cuMemsetD8_v2),
    XG_E(cuMemsetD16, 3020, cuMemsetD16_v2),
    XG_E(cuMemsetD32, 3020, cuMemsetD32_v2),
    XG_E(cuMemsetD8Async, 3020, cuMemsetD8Async),
    XG_E(cuMemsetD16Async, 3020, cuMemsetD16Async),
    XG_E(cuMemsetD32Async, 3020, cuMemsetD32Async),
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
    XG_E(cuLaunchKernel, 4000, cuLaunchKernel),
    XG_E(cuLaunchKernelEx, 11060, cuLaunchKernelEx),
    XG_E(cuOccupancyMaxActiveBlocksPerMultiprocessor, 6050, cuOccupancyMaxActiveBlocksPerMultiprocessor),
    XG_E(cuOccupancyMaxPotentialBlockSize, 6050, cuOccupancyMaxPotentialBlockSize),
    // streams and events
    XG_E(cuStreamCreate, 2000, cuStreamCreate),
    XG_E(cuStreamCreateWithPriority, 5050, cuStreamCreateWithPriority),
    XG_E(cuStreamDestroy, 4000, cuStreamDestroy_v2),
    XG_E(cuStreamSynchronize, 2000, cuStreamSynchronize),
    XG_E(cuStreamQuery, 2000, cuStreamQuery),
    XG_E(cuStreamWaitEvent, 3020, cuStreamWaitEvent),
    XG_E(cuEventCreate, 2000, cuEventCreate),
    XG_E(cuEventRecord, 2000, cuEventRecord),
    XG_E(cuEventQuery, 2000, cuEventQuery),
    XG_E(cuEventSynchronize, 2000, cuEventSynchronize),
    XG_E(cuEventElapsedTime, 2000, cuEventElapsedTime),
    XG_E(cuEventDestroy, 4000, cuEventDestroy_v2),
};
#undef XG_E

CUresult resolve(const char* symbol, void** pfn, int cudaVersion, cuuint64_t flags,
                 CUdriverProcAddressQueryResult* status) {
  if (symbol == nullptr || pfn == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (flags > (CU_GET_PROC_ADDRESS_LEGACY_STREAM | CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM))
    return CUDA_ERROR_INVALID_VALUE;
  *pfn = nullptr;
  const Entry* best = nullptr;
  bool known = false;
  for (const Entry& e : kEntries) {
    if (std::strcmp(e.name, symbol) != 0) continue;
    known = true;
    if (e.version <= cudaVersion && (best == nullptr || e.version > best->version)) best = &e;
  }
  if (best == nullptr) {
    if (status != nullptr)
      *status = known ? CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT : CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
    return CUDA_ERROR_NOT_FOUND;
  }
  *pfn = best->fn;
  if (status != nullptr) *status = CU_GET_PROC_ADDRESS_SUCCESS;
  return CUDA_SUCCESS;
}

}  // namespace

XG_SIM_EXPORT_C CUresult cuGetProcAddress_v2(const char* symbol, void** pfn, int cudaVersion, cuuint64_t flags,
                                             CUdriverProcAddressQueryResult* symbolStatus) {
  return resolve(symbol, pfn, cudaVersion, flags, symbolStatus);
}

XG_SIM_EXPORT_C CUresult cuGetProcAddress(const char* symbol, void** pfn, int cudaVersion, cuuint64_t flags) {
  return resolve(symbol, pfn, cudaVersion, flags, nullptr);
}
