#include "cuda/launch_params.h"

namespace xg::cuda {

CUresult parse_extra(void* const* extra, ExtraBuffer* out) noexcept {
  *out = {};
  for (size_t i = 0;; i += 2) {
    if (i >= kMaxExtraSlots) return CUDA_ERROR_INVALID_VALUE;  // no terminator in sight: read no further
    if (extra[i] == CU_LAUNCH_PARAM_END) break;
    if (extra[i] == CU_LAUNCH_PARAM_BUFFER_POINTER) {
      out->buffer = extra[i + 1];
    } else if (extra[i] == CU_LAUNCH_PARAM_BUFFER_SIZE) {
      out->buffer_size = static_cast<const size_t*>(extra[i + 1]);
    } else {
      return CUDA_ERROR_INVALID_VALUE;
    }
  }
  return CUDA_SUCCESS;
}

}  // namespace xg::cuda
