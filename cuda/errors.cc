#include "cuda/errors.h"

#include "cuda/cuda_abi.h"

namespace xg::cuda {
namespace {

struct ErrorText {
  CUresult code;
  const char* name;
  const char* text;
};

#define XG_ERR(code, text) {code, #code, text}
constexpr ErrorText kErrors[] = {
    XG_ERR(CUDA_SUCCESS, "no error"),
    XG_ERR(CUDA_ERROR_INVALID_VALUE, "invalid argument"),
    XG_ERR(CUDA_ERROR_OUT_OF_MEMORY, "out of memory"),
    XG_ERR(CUDA_ERROR_NOT_INITIALIZED, "initialization error"),
    XG_ERR(CUDA_ERROR_DEINITIALIZED, "driver shutting down"),
    XG_ERR(CUDA_ERROR_PROFILER_DISABLED, "profiler disabled while using external profiling tool"),
    XG_ERR(CUDA_ERROR_PROFILER_NOT_INITIALIZED, "profiler not initialized: call cudaProfilerInitialize()"),
    XG_ERR(CUDA_ERROR_PROFILER_ALREADY_STARTED, "profiler already started"),
    XG_ERR(CUDA_ERROR_PROFILER_ALREADY_STOPPED, "profiler already stopped"),
    XG_ERR(CUDA_ERROR_STUB_LIBRARY, "CUDA driver is a stub library"),
    XG_ERR(CUDA_ERROR_DEVICE_UNAVAILABLE, "CUDA-capable device(s) is/are busy or unavailable"),
    XG_ERR(CUDA_ERROR_NO_DEVICE, "no CUDA-capable device is detected"),
    XG_ERR(CUDA_ERROR_INVALID_DEVICE, "invalid device ordinal"),
    XG_ERR(CUDA_ERROR_DEVICE_NOT_LICENSED, "device doesn't have valid Grid license"),
    XG_ERR(CUDA_ERROR_INVALID_IMAGE, "device kernel image is invalid"),
    XG_ERR(CUDA_ERROR_INVALID_CONTEXT, "invalid device context"),
    XG_ERR(CUDA_ERROR_CONTEXT_ALREADY_CURRENT, "context already current"),
    XG_ERR(CUDA_ERROR_MAP_FAILED, "mapping of buffer object failed"),
    XG_ERR(CUDA_ERROR_UNMAP_FAILED, "unmapping of buffer object failed"),
    XG_ERR(CUDA_ERROR_ARRAY_IS_MAPPED, "array is mapped"),
    XG_ERR(CUDA_ERROR_ALREADY_MAPPED, "resource already mapped"),
    XG_ERR(CUDA_ERROR_NO_BINARY_FOR_GPU, "no kernel image is available for execution on the device"),
    XG_ERR(CUDA_ERROR_ALREADY_ACQUIRED, "resource already acquired"),
    XG_ERR(CUDA_ERROR_NOT_MAPPED, "resource not mapped"),
    XG_ERR(CUDA_ERROR_NOT_MAPPED_AS_ARRAY, "resource not mapped as array"),
    XG_ERR(CUDA_ERROR_NOT_MAPPED_AS_POINTER, "resource not mapped as pointer"),
    XG_ERR(CUDA_ERROR_ECC_UNCORRECTABLE, "uncorrectable ECC error encountered"),
    XG_ERR(CUDA_ERROR_UNSUPPORTED_LIMIT, "limit is not supported on this architecture"),
    XG_ERR(CUDA_ERROR_CONTEXT_ALREADY_IN_USE, "exclusive-thread device already in use by a different thread"),
    XG_ERR(CUDA_ERROR_PEER_ACCESS_UNSUPPORTED, "peer access is not supported between these two devices"),
    XG_ERR(CUDA_ERROR_INVALID_PTX, "a PTX JIT compilation failed"),
    XG_ERR(CUDA_ERROR_INVALID_GRAPHICS_CONTEXT, "invalid OpenGL or DirectX context"),
    XG_ERR(CUDA_ERROR_NVLINK_UNCORRECTABLE, "uncorrectable NVLink error detected during the execution"),
    XG_ERR(CUDA_ERROR_JIT_COMPILER_NOT_FOUND, "PTX JIT compiler library not found"),
    XG_ERR(CUDA_ERROR_UNSUPPORTED_PTX_VERSION, "the provided PTX was compiled with an unsupported toolchain."),
    XG_ERR(CUDA_ERROR_JIT_COMPILATION_DISABLED, "PTX JIT compilation was disabled"),
    XG_ERR(CUDA_ERROR_UNSUPPORTED_EXEC_AFFINITY, "the provided execution affinity is not supported"),
    XG_ERR(CUDA_ERROR_UNSUPPORTED_DEVSIDE_SYNC, "the provided PTX contains unsupported call to cudaDeviceSynchronize"),
    XG_ERR(CUDA_ERROR_INVALID_SOURCE, "device kernel image is invalid"),
    XG_ERR(CUDA_ERROR_FILE_NOT_FOUND, "file not found"),
    XG_ERR(CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND, "shared object symbol not found"),
    XG_ERR(CUDA_ERROR_SHARED_OBJECT_INIT_FAILED, "shared object initialization failed"),
    XG_ERR(CUDA_ERROR_OPERATING_SYSTEM, "OS call failed or operation not supported on this OS"),
    XG_ERR(CUDA_ERROR_INVALID_HANDLE, "invalid resource handle"),
    XG_ERR(CUDA_ERROR_ILLEGAL_STATE, "the operation cannot be performed in the present state"),
    XG_ERR(CUDA_ERROR_LOSSY_QUERY, "attempted introspection would be semantically lossy"),
    XG_ERR(CUDA_ERROR_NOT_FOUND, "named symbol not found"),
    XG_ERR(CUDA_ERROR_NOT_READY, "device not ready"),
    XG_ERR(CUDA_ERROR_ILLEGAL_ADDRESS, "an illegal memory access was encountered"),
    XG_ERR(CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES, "too many resources requested for launch"),
    XG_ERR(CUDA_ERROR_LAUNCH_TIMEOUT, "the launch timed out and was terminated"),
    XG_ERR(CUDA_ERROR_LAUNCH_INCOMPATIBLE_TEXTURING, "launch uses incompatible texturing mode"),
    XG_ERR(CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED, "peer access is already enabled"),
    XG_ERR(CUDA_ERROR_PEER_ACCESS_NOT_ENABLED, "peer access has not been enabled"),
    XG_ERR(CUDA_ERROR_PRIMARY_CONTEXT_ACTIVE, "cannot set while device is active in this process"),
    XG_ERR(CUDA_ERROR_CONTEXT_IS_DESTROYED, "context is destroyed"),
    XG_ERR(CUDA_ERROR_ASSERT, "device-side assert triggered"),
    XG_ERR(CUDA_ERROR_TOO_MANY_PEERS, "peer mapping resources exhausted"),
    XG_ERR(CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED, "part or all of the requested memory range is already mapped"),
    XG_ERR(CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED, "pointer does not correspond to a registered memory region"),
    XG_ERR(CUDA_ERROR_HARDWARE_STACK_ERROR, "hardware stack error"),
    XG_ERR(CUDA_ERROR_ILLEGAL_INSTRUCTION, "an illegal instruction was encountered"),
    XG_ERR(CUDA_ERROR_MISALIGNED_ADDRESS, "misaligned address"),
    XG_ERR(CUDA_ERROR_INVALID_ADDRESS_SPACE, "operation not supported on global/shared address space"),
    XG_ERR(CUDA_ERROR_INVALID_PC, "invalid program counter"),
    XG_ERR(CUDA_ERROR_LAUNCH_FAILED, "unspecified launch failure"),
    XG_ERR(CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE, "too many blocks in cooperative launch"),
    XG_ERR(CUDA_ERROR_NOT_PERMITTED, "operation not permitted"),
    XG_ERR(CUDA_ERROR_NOT_SUPPORTED, "operation not supported"),
    XG_ERR(CUDA_ERROR_SYSTEM_NOT_READY, "system not yet initialized"),
    XG_ERR(CUDA_ERROR_SYSTEM_DRIVER_MISMATCH, "system has unsupported display driver / cuda driver combination"),
    XG_ERR(CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE, "forward compatibility was attempted on non supported HW"),
    XG_ERR(CUDA_ERROR_MPS_CONNECTION_FAILED, "MPS client failed to connect to the MPS control daemon or the MPS server"),
    XG_ERR(CUDA_ERROR_MPS_RPC_FAILURE, "the remote procedural call between the MPS server and the MPS client failed"),
    XG_ERR(CUDA_ERROR_MPS_SERVER_NOT_READY, "MPS server is not ready to accept new MPS client requests"),
    XG_ERR(CUDA_ERROR_MPS_MAX_CLIENTS_REACHED, "the hardware resources required to create MPS client have been exhausted"),
    XG_ERR(CUDA_ERROR_MPS_MAX_CONNECTIONS_REACHED, "the hardware resources required to support device connections have been exhausted"),
    XG_ERR(CUDA_ERROR_MPS_CLIENT_TERMINATED, "the MPS client has been terminated by the server"),
    XG_ERR(CUDA_ERROR_CDP_NOT_SUPPORTED, "the module is using CUDA Dynamic Parallelism, but the current configuration, like MPS, does not support it"),
    XG_ERR(CUDA_ERROR_CDP_VERSION_MISMATCH, "the module is using a version of CUDA Dynamic Parallelism that is not supported"),
    XG_ERR(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, "operation not permitted when stream is capturing"),
    XG_ERR(CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, "operation failed due to a previous error during capture"),
    XG_ERR(CUDA_ERROR_STREAM_CAPTURE_MERGE, "operation would result in a merge of separate capture sequences"),
    XG_ERR(CUDA_ERROR_STREAM_CAPTURE_UNMATCHED, "capture was not ended in the same stream as it began"),
    XG_ERR(CUDA_ERROR_STREAM_CAPTURE_UNJOINED, "capturing stream has unjoined work"),
    XG_ERR(CUDA_ERROR_STREAM_CAPTURE_ISOLATION, "dependency created on uncaptured work in another stream"),
    XG_ERR(CUDA_ERROR_STREAM_CAPTURE_IMPLICIT, "operation would make the legacy stream depend on a capturing blocking stream"),
    XG_ERR(CUDA_ERROR_CAPTURED_EVENT, "operation not permitted on an event last recorded in a capturing stream"),
    XG_ERR(CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD, "attempt to terminate a thread-local capture sequence from another thread"),
    XG_ERR(CUDA_ERROR_TIMEOUT, "wait operation timed out"),
    XG_ERR(CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE, "the graph update was not performed because it included changes which violated constraints specific to instantiated graph update"),
    XG_ERR(CUDA_ERROR_EXTERNAL_DEVICE, "an async error has occured in external entity outside of CUDA"),
    XG_ERR(CUDA_ERROR_INVALID_CLUSTER_SIZE, "a kernel launch error has occurred due to cluster misconfiguration"),
    XG_ERR(CUDA_ERROR_FUNCTION_NOT_LOADED, "the function handle is not loaded when calling an API that requires a loaded function"),
    XG_ERR(CUDA_ERROR_INVALID_RESOURCE_TYPE, "one or more resources passed in are not valid resource types for the operation"),
    XG_ERR(CUDA_ERROR_INVALID_RESOURCE_CONFIGURATION, "one or more resources are insufficient or non-applicable for the operation"),
    XG_ERR(CUDA_ERROR_UNKNOWN, "unknown error"),
};
#undef XG_ERR

const ErrorText* find(int code) noexcept {
  for (const ErrorText& e : kErrors)
    if (static_cast<int>(e.code) == code) return &e;
  return nullptr;
}

}  // namespace

const char* error_name(int code) noexcept {
  const ErrorText* e = find(code);
  return e != nullptr ? e->name : nullptr;
}

const char* error_string(int code) noexcept {
  const ErrorText* e = find(code);
  return e != nullptr ? e->text : nullptr;
}

}  // namespace xg::cuda
