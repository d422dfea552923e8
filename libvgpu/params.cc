#include "libvgpu/params.h"

#include <cstring>

#include "cuda/launch_params.h"

namespace xg::vgpu {

bool parse_layout(const idm::FunctionRsp& rsp, std::span<const std::byte> tail, ParamLayout* out) {
  if (rsp.param_count == idm::kParamLayoutUnknown) {
    if (!tail.empty() || rsp.param_bytes != 0) return false;
    *out = ParamLayout{{}, 0, false};
    return true;
  }
  if (rsp.param_count > idm::kMaxKernelParams || rsp.param_bytes > idm::kMaxParamBytes) return false;
  if (tail.size() != size_t{rsp.param_count} * sizeof(ParamSlot)) return false;
  ParamLayout l;
  l.bytes = rsp.param_bytes;
  l.slots.resize(rsp.param_count);
  if (!tail.empty()) std::memcpy(l.slots.data(), tail.data(), tail.size());
  for (const ParamSlot& s : l.slots)
    if (s.offset > l.bytes || s.size > l.bytes - s.offset) return false;
  *out = std::move(l);
  return true;
}

CUresult pack_params(const ParamLayout& layout, void** kernel_params, void** extra, std::vector<std::byte>* out) {
  if (kernel_params != nullptr && extra != nullptr) return CUDA_ERROR_INVALID_VALUE;
  // Without the layout we cannot know where kernelParams[i] goes nor how big it is: refuse rather than guess.
  if (!layout.known && kernel_params != nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  out->assign(layout.bytes, std::byte{0});
  if (kernel_params != nullptr) {
    for (size_t i = 0; i < layout.slots.size(); ++i) {
      if (kernel_params[i] == nullptr) return CUDA_ERROR_INVALID_VALUE;
      std::memcpy(out->data() + layout.slots[i].offset, kernel_params[i], layout.slots[i].size);
    }
    return CUDA_SUCCESS;
  }
  if (extra != nullptr) {
    cuda::ExtraBuffer x;
    if (CUresult e = cuda::parse_extra(extra, &x); e != CUDA_SUCCESS) return e;
    const void* buffer = x.buffer;
    const size_t* buffer_size = x.buffer_size;
    if (!layout.known) {  // the caller packed the buffer; pass it through as the driver would take it
      if (buffer == nullptr || buffer_size == nullptr || *buffer_size > idm::kMaxParamBytes) return CUDA_ERROR_INVALID_VALUE;
      out->assign(static_cast<const std::byte*>(buffer), static_cast<const std::byte*>(buffer) + *buffer_size);
      return CUDA_SUCCESS;
    }
    if (layout.bytes == 0) return CUDA_SUCCESS;
    if (buffer == nullptr || buffer_size == nullptr || *buffer_size < layout.bytes) return CUDA_ERROR_INVALID_VALUE;
    std::memcpy(out->data(), buffer, layout.bytes);
    return CUDA_SUCCESS;
  }
  return layout.slots.empty() ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

}  // namespace xg::vgpu
