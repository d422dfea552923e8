// The one backend: a libcuda.so.1 loaded with dlopen (the host's real driver, or our simulated one), every entry
// point resolved through cuGetProcAddress by base name, exactly as a CUDA runtime does. The proxy cannot tell
// which driver it loaded. An entry point the driver lacks is bound to a stub answering CUDA_ERROR_NOT_SUPPORTED,
// so every member is always callable.
#pragma once

#include <memory>
#include <string>

#include "cuda/cuda_abi.h"

namespace xg::proxy {

// (member, base name, prototype symbol in cuda_abi.h). The base name is what cuGetProcAddress resolves.
#define XG_DRIVER_ENTRIES(X)                                              \
  X(Init, cuInit, cuInit)                                                 \
  X(DriverGetVersion, cuDriverGetVersion, cuDriverGetVersion)             \
  X(DeviceGetCount, cuDeviceGetCount, cuDeviceGetCount)                   \
  X(DeviceGet, cuDeviceGet, cuDeviceGet)                                  \
  X(DeviceGetName, cuDeviceGetName, cuDeviceGetName)                      \
  X(DeviceGetUuid, cuDeviceGetUuid, cuDeviceGetUuid_v2)                   \
  X(DeviceTotalMem, cuDeviceTotalMem, cuDeviceTotalMem_v2)                \
  X(DeviceGetAttribute, cuDeviceGetAttribute, cuDeviceGetAttribute)       \
  X(PrimaryCtxRetain, cuDevicePrimaryCtxRetain, cuDevicePrimaryCtxRetain) \
  X(PrimaryCtxRelease, cuDevicePrimaryCtxRelease, cuDevicePrimaryCtxRelease_v2) \
  X(PrimaryCtxReset, cuDevicePrimaryCtxReset, cuDevicePrimaryCtxReset_v2) \
  X(PrimaryCtxGetState, cuDevicePrimaryCtxGetState, cuDevicePrimaryCtxGetState) \
  X(PrimaryCtxSetFlags, cuDevicePrimaryCtxSetFlags, cuDevicePrimaryCtxSetFlags_v2) \
  X(CtxCreate, cuCtxCreate, cuCtxCreate_v2)                               \
  X(CtxDestroy, cuCtxDestroy, cuCtxDestroy_v2)                            \
  X(CtxSetCurrent, cuCtxSetCurrent, cuCtxSetCurrent)                      \
  X(CtxSynchronize, cuCtxSynchronize, cuCtxSynchronize)                   \
  X(CtxGetLimit, cuCtxGetLimit, cuCtxGetLimit)                            \
  X(CtxSetLimit, cuCtxSetLimit, cuCtxSetLimit)                            \
  X(CtxGetApiVersion, cuCtxGetApiVersion, cuCtxGetApiVersion)             \
  X(CtxGetFlags, cuCtxGetFlags, cuCtxGetFlags)                            \
  X(CtxGetStreamPriorityRange, cuCtxGetStreamPriorityRange, cuCtxGetStreamPriorityRange) \
  X(MemAlloc, cuMemAlloc, cuMemAlloc_v2)                                  \
  X(MemAllocPitch, cuMemAllocPitch, cuMemAllocPitch_v2)                   \
  X(MemFree, cuMemFree, cuMemFree_v2)                                     \
  X(MemGetInfo, cuMemGetInfo, cuMemGetInfo_v2)                            \
  X(MemHostRegister, cuMemHostRegister, cuMemHostRegister_v2)             \
  X(MemHostUnregister, cuMemHostUnregister, cuMemHostUnregister)          \
  X(MemHostGetDevicePointer, cuMemHostGetDevicePointer, cuMemHostGetDevicePointer_v2) \
  X(PointerGetAttribute, cuPointerGetAttribute, cuPointerGetAttribute)    \
  X(MemcpyHtoD, cuMemcpyHtoD, cuMemcpyHtoD_v2)                            \
  X(MemcpyDtoH, cuMemcpyDtoH, cuMemcpyDtoH_v2)                            \
  X(MemcpyDtoD, cuMemcpyDtoD, cuMemcpyDtoD_v2)                            \
  X(Memcpy2D, cuMemcpy2D, cuMemcpy2D_v2)                                  \
  X(MemcpyHtoDAsync, cuMemcpyHtoDAsync, cuMemcpyHtoDAsync_v2)             \
  X(MemcpyDtoHAsync, cuMemcpyDtoHAsync, cuMemcpyDtoHAsync_v2)             \
  X(MemcpyDtoDAsync, cuMemcpyDtoDAsync, cuMemcpyDtoDAsync_v2)             \
  X(Memcpy2DAsync, cuMemcpy2DAsync, cuMemcpy2DAsync_v2)                   \
  X(MemsetD8, cuMemsetD8, cuMemsetD8_v2)                                  \
  X(MemsetD16, cuMemsetD16, cuMemsetD16_v2)                               \
  X(MemsetD32, cuMemsetD32, cuMemsetD32_v2)                               \
  X(MemsetD8Async, cuMemsetD8Async, cuMemsetD8Async)                      \
  X(MemsetD16Async, cuMemsetD16Async, cuMemsetD16Async)                   \
  X(MemsetD32Async, cuMemsetD32Async, cuMemsetD32Async)                   \
  X(ModuleLoadData, cuModuleLoadData, cuModuleLoadData)                   \
  X(ModuleUnload, cuModuleUnload, cuModuleUnload)                         \
  X(ModuleGetFunction, cuModuleGetFunction, cuModuleGetFunction)          \
  X(ModuleGetGlobal, cuModuleGetGlobal, cuModuleGetGlobal_v2)             \
  X(LibraryLoadData, cuLibraryLoadData, cuLibraryLoadData)                \
  X(LibraryUnload, cuLibraryUnload, cuLibraryUnload)                      \
  X(LibraryGetKernel, cuLibraryGetKernel, cuLibraryGetKernel)             \
  X(LibraryGetModule, cuLibraryGetModule, cuLibraryGetModule)             \
  X(KernelGetFunction, cuKernelGetFunction, cuKernelGetFunction)          \
  X(FuncGetAttribute, cuFuncGetAttribute, cuFuncGetAttribute)             \
  X(FuncSetAttribute, cuFuncSetAttribute, cuFuncSetAttribute)             \
  X(FuncGetParamInfo, cuFuncGetParamInfo, cuFuncGetParamInfo)             \
  X(LaunchKernel, cuLaunchKernel, cuLaunchKernel)                         \
  X(LaunchKernelEx, cuLaunchKernelEx, cuLaunchKernelEx)                   \
  X(OccupancyMaxActiveBlocks, cuOccupancyMaxActiveBlocksPerMultiprocessor, \
    cuOccupancyMaxActiveBlocksPerMultiprocessor)                          \
  X(OccupancyMaxPotentialBlockSize, cuOccupancyMaxPotentialBlockSize, cuOccupancyMaxPotentialBlockSize) \
  X(StreamCreate, cuStreamCreate, cuStreamCreate)                         \
  X(StreamCreateWithPriority, cuStreamCreateWithPriority, cuStreamCreateWithPriority) \
  X(StreamDestroy, cuStreamDestroy, cuStreamDestroy_v2)                   \
  X(StreamSynchronize, cuStreamSynchronize, cuStreamSynchronize)          \
  X(StreamQuery, cuStreamQuery, cuStreamQuery)                            \
  X(StreamWaitEvent, cuStreamWaitEvent, cuStreamWaitEvent)                \
  X(EventCreate, cuEventCreate, cuEventCreate)                            \
  X(EventRecord, cuEventRecord, cuEventRecord)                            \
  X(EventSynchronize, cuEventSynchronize, cuEventSynchronize)             \
  X(EventQuery, cuEventQuery, cuEventQuery)                               \
  X(EventElapsedTime, cuEventElapsedTime, cuEventElapsedTime)             \
  X(EventDestroy, cuEventDestroy, cuEventDestroy_v2)

class DriverApi {
 public:
  // Loads `path` (a file path or a soname for the dynamic loader) and resolves every entry point.
  // On failure, `error` says why and the result is null.
  [[nodiscard]] static std::unique_ptr<DriverApi> load(const std::string& path, std::string& error);
  ~DriverApi();
  DriverApi(const DriverApi&) = delete;
  DriverApi& operator=(const DriverApi&) = delete;

#define XG_DRIVER_MEMBER(member, base, symbol) decltype(&::symbol) member = nullptr;
  XG_DRIVER_ENTRIES(XG_DRIVER_MEMBER)
#undef XG_DRIVER_MEMBER

  [[nodiscard]] int resolved_count() const noexcept { return resolved_; }
  // cuFuncGetParamInfo arrived in CUDA 12.4 drivers; without it, kernel parameter layouts are unknown.
  [[nodiscard]] bool has_param_info() const noexcept { return has_param_info_; }
  [[nodiscard]] const std::string& path() const noexcept { return path_; }

 private:
  DriverApi() = default;
  void* handle_ = nullptr;
  int resolved_ = 0;
  bool has_param_info_ = false;
  std::string path_;
};

}  // namespace xg::proxy
