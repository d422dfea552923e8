// cuLaunchKernel's `extra` array, once, for every libcuda.so.1 we build: {CU_LAUNCH_PARAM_BUFFER_POINTER, p,
// CU_LAUNCH_PARAM_BUFFER_SIZE, &n, CU_LAUNCH_PARAM_END}, keys in any order.
#pragma once

#include <cstddef>

#include "cuda/cuda_abi.h"

namespace xg::cuda {

// An unterminated array is refused after this many slots (keys and values), instead of reading on.
inline constexpr size_t kMaxExtraSlots = 64;

struct ExtraBuffer {
  const void* buffer = nullptr;       // CU_LAUNCH_PARAM_BUFFER_POINTER's value, or null if absent
  const size_t* buffer_size = nullptr;  // CU_LAUNCH_PARAM_BUFFER_SIZE's value, or null if absent
};

// CUDA_ERROR_INVALID_VALUE for an unknown key or no CU_LAUNCH_PARAM_END within kMaxExtraSlots slots.
[[nodiscard]] CUresult parse_extra(void* const* extra, ExtraBuffer* out) noexcept;

}  // namespace xg::cuda
