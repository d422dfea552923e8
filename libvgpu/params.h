// Kernel parameter layouts and packing. The worker reports each function's layout once ({offset, size} per
// parameter, from cuFuncGetParamInfo or the cubin's .nv.info); libvgpu caches it per function handle, packs
// `kernelParams` into one buffer per launch, and answers cuFuncGetParamInfo from it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "cuda/cuda_abi.h"
#include "idm/messages_cuda.h"

namespace xg::vgpu {

struct ParamSlot {
  uint32_t offset;
  uint32_t size;
};

struct ParamLayout {
  std::vector<ParamSlot> slots;
  uint32_t bytes = 0;  // packed size
  bool known = true;   // false: the proxy's driver cannot report layouts; only `extra` launches work
};

// Validates a FunctionRsp and its tail: count and total within the driver's limits, the tail exactly
// count pairs, every slot inside the packed size. false: the worker sent nonsense.
[[nodiscard]] bool parse_layout(const idm::FunctionRsp& rsp, std::span<const std::byte> tail, ParamLayout* out);

// Packs a launch's parameters as cuLaunchKernel takes them: either kernelParams (one pointer per parameter) or
// `extra` ({CU_LAUNCH_PARAM_BUFFER_POINTER, p, CU_LAUNCH_PARAM_BUFFER_SIZE, &n, CU_LAUNCH_PARAM_END}, whose
// buffer passes through), never both. Returns CUDA_ERROR_INVALID_VALUE where the driver does.
[[nodiscard]] CUresult pack_params(const ParamLayout& layout, void** kernel_params, void** extra,
                                   std::vector<std::byte>* out);

}  // namespace xg::vgpu
