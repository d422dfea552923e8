// cuGetProcAddress: every entry point libvgpu implements, by the base name the driver resolves and the CUDA version
// from which that base name means the symbol (as the driver resolves "cuMemAlloc" to cuMemAlloc_v2 from 3020),
// with its per-thread-default-stream twin where the driver has one. Anything else is CUDA_ERROR_NOT_FOUND.
//
// Implementors: a new entry point goes in idm/cuda_abi.h (prototype, real symbol), in one of the api_*.cc files,
// in the table in proc_address.cc, and in exports.map (a _ptsz/_ptds twin also in ptds.{h,cc}).
#pragma once

#include <span>

#include "idm/cuda_abi.h"

namespace xg::vgpu {

struct ProcEntry {
  const char* name;  // base name, as passed to cuGetProcAddress
  int version;       // CUDA version from which `name` resolves to `fn`
  void* fn;
  void* per_thread;  // the _ptsz/_ptds twin (CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM), or nullptr
};

[[nodiscard]] std::span<const ProcEntry> proc_entries() noexcept;

// The resolution rules of cuGetProcAddress_v2 (status may be null). Works before cuInit.
[[nodiscard]] CUresult resolve_proc(const char* symbol, void** pfn, int cuda_version, cuuint64_t flags,
                                    CUdriverProcAddressQueryResult* status) noexcept;

}  // namespace xg::vgpu
