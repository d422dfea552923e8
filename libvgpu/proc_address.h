// cuGetProcAddress: every entry point libvgpu implements, by the base name the driver resolves and the CUDA version
// from which that base name means the symbol (as the driver resolves "cuMemAlloc" to cuMemAlloc_v2 from 3020),
// with its per-thread-default-stream twin where the driver has one. Anything else is CUDA_ERROR_NOT_FOUND.
//
// Implementors: a new entry point goes in cuda/cuda_abi.h (prototype, real symbol), in one of the api_*.cc files,
// in the table in proc_address.cc, and in exports.map (a _ptsz/_ptds twin also in ptds.{h,cc}).
#pragma once

#include <span>

#include "cuda/cuda_abi.h"
#include "cuda/proc_address.h"

namespace xg::vgpu {

using cuda::ProcEntry;

[[nodiscard]] std::span<const ProcEntry> proc_entries() noexcept;

// cuGetProcAddress_v2 over libvgpu's table (cuda/proc_address.h: the driver's rules; status may be null).
[[nodiscard]] CUresult resolve_proc(const char* symbol, void** pfn, int cuda_version, cuuint64_t flags,
                                    CUdriverProcAddressQueryResult* status,
                                    cuda::ProcApi api = cuda::ProcApi::kV2) noexcept;

}  // namespace xg::vgpu
