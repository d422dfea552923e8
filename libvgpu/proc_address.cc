#include "libvgpu/proc_address.h"

#include <cstring>

#include "idm/cuda_entry_points.h"
#include "libvgpu/ptds.h"
#include "libvgpu/state.h"

namespace xg::vgpu {
namespace {

#define XG_E(base, version, symbol) {#base, version, reinterpret_cast<void*>(&symbol), nullptr}
#define XG_T(base, version, symbol, twin) \
  {#base, version, reinterpret_cast<void*>(&symbol), reinterpret_cast<void*>(&twin)}
const ProcEntry kEntries[] = {
#define XG_COMMA_E(b, v, s) XG_E(b, v, s),
#define XG_COMMA_T(b, v, s, t) XG_T(b, v, s, t),
    XG_CUDA_ENTRY_POINTS(XG_COMMA_E, XG_COMMA_T)
#undef XG_COMMA_E
#undef XG_COMMA_T
};
#undef XG_E
#undef XG_T

}  // namespace

std::span<const ProcEntry> proc_entries() noexcept { return kEntries; }

// As the driver: flags select the legacy (default) or the per-thread-default-stream flavour; cudaVersion picks the
// newest entry whose version is <= it; a known name below its first version is VERSION_NOT_SUFFICIENT.
CUresult resolve_proc(const char* symbol, void** pfn, int cuda_version, cuuint64_t flags,
                      CUdriverProcAddressQueryResult* status) noexcept {
  if (symbol == nullptr || pfn == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if ((flags & ~cuuint64_t{CU_GET_PROC_ADDRESS_LEGACY_STREAM | CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM}) != 0)
    return CUDA_ERROR_INVALID_VALUE;
  *pfn = nullptr;
  const ProcEntry* best = nullptr;
  bool known = false;
  for (const ProcEntry& e : kEntries) {
    if (std::strcmp(e.name, symbol) != 0) continue;
    known = true;
    if (e.version <= cuda_version && (best == nullptr || e.version > best->version)) best = &e;
  }
  if (best == nullptr) {
    if (status != nullptr)
      *status = known ? CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT : CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
    return CUDA_ERROR_NOT_FOUND;
  }
  const bool per_thread = (flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) != 0;
  *pfn = per_thread && best->per_thread != nullptr ? best->per_thread : best->fn;
  if (status != nullptr) *status = CU_GET_PROC_ADDRESS_SUCCESS;
  return CUDA_SUCCESS;
}

}  // namespace xg::vgpu

extern "C" {

CUresult cuGetProcAddress_v2(const char* symbol, void** pfn, int cudaVersion, cuuint64_t flags,
                             CUdriverProcAddressQueryResult* symbolStatus) {
  return xg::vgpu::resolve_proc(symbol, pfn, cudaVersion, flags, symbolStatus);
}

CUresult cuGetProcAddress(const char* symbol, void** pfn, int cudaVersion, cuuint64_t flags) {
  return xg::vgpu::resolve_proc(symbol, pfn, cudaVersion, flags, nullptr);
}

}  // extern "C"
