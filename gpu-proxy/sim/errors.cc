// cuGetErrorName / cuGetErrorString: the driver's names and messages, from the table shared with libvgpu
// (idm/cuda_errors.cc). Both work before cuInit, as on the real driver.
#include "cuda/errors.h"
#include "sim_internal.h"

// An unknown code sets *pStr to NULL and returns CUDA_ERROR_INVALID_VALUE, as the driver does.
XG_SIM_EXPORT_C CUresult cuGetErrorName(CUresult error, const char** pStr) {
  if (pStr == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *pStr = xg::cuda::error_name(xg::sim::raw(error));
  return *pStr != nullptr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

XG_SIM_EXPORT_C CUresult cuGetErrorString(CUresult error, const char** pStr) {
  if (pStr == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *pStr = xg::cuda::error_string(xg::sim::raw(error));
  return *pStr != nullptr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}
