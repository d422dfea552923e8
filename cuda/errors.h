// The CUDA driver's error names and messages (cuGetErrorName / cuGetErrorString), once, for every libcuda.so.1
// we build: the simulated driver (gpu-proxy/sim) and the zone's libvgpu. Pure data; works before cuInit.
#pragma once

namespace xg::cuda {

// The driver's name for `code` ("CUDA_ERROR_INVALID_VALUE"), or nullptr for a code the driver does not define.
[[nodiscard]] const char* error_name(int code) noexcept;
// The driver's message for `code` ("invalid argument"), or nullptr for a code the driver does not define.
[[nodiscard]] const char* error_string(int code) noexcept;

}  // namespace xg::cuda
