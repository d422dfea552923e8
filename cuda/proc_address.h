// cuGetProcAddress's resolution rules, once, for every libcuda.so.1 we build (the simulated driver and libvgpu):
// a table of (base name, version, function, per-thread-stream twin) made from cuda/entry_points.h, searched as the
// driver does. Works before cuInit.
#pragma once

#include <span>

#include "cuda/cuda_abi.h"

namespace xg::cuda {

struct ProcEntry {
  const char* name;  // base name, as passed to cuGetProcAddress
  int version;       // CUDA version from which `name` resolves to `fn`
  void* fn;
  void* per_thread;  // the _ptsz/_ptds twin (CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM), or nullptr
};

// Which entry point asks: they answer a miss differently.
enum class ProcApi {
  kV1,  // cuGetProcAddress (CUDA 11.3-11.8): CUDA_ERROR_NOT_FOUND
  kV2,  // cuGetProcAddress_v2 (CUDA 12+): CUDA_SUCCESS with *pfn = NULL, the reason in symbolStatus (documented;
        // NVIDIA's 580 driver answers an unknown name so)
};

// As the driver: `flags` selects the legacy (default) or the per-thread-default-stream flavour (an entry without
// a twin answers with its legacy function); `cuda_version` picks the newest entry whose version is <= it; a known
// name below its first version is CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT. `status` may be null.
[[nodiscard]] CUresult resolve_proc(std::span<const ProcEntry> table, const char* symbol, void** pfn,
                                    int cuda_version, cuuint64_t flags, CUdriverProcAddressQueryResult* status,
                                    ProcApi api) noexcept;

}  // namespace xg::cuda
