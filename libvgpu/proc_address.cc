#include "libvgpu/proc_address.h"

#include "cuda/entry_points.h"
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
    XG_CUDA_ALL_ENTRY_POINTS(XG_COMMA_E, XG_COMMA_T)
#undef XG_COMMA_E
#undef XG_COMMA_T
};
#undef XG_E
#undef XG_T

}  // namespace

std::span<const ProcEntry> proc_entries() noexcept { return kEntries; }

CUresult resolve_proc(const char* symbol, void** pfn, int cuda_version, cuuint64_t flags,
                      CUdriverProcAddressQueryResult* status, cuda::ProcApi api) noexcept {
  const CUresult r = cuda::resolve_proc(kEntries, symbol, pfn, cuda_version, flags, status, api);
  if (trace::on()) [[unlikely]]
    trace::note("cuGetProcAddress%s %.64s %d flags=%llu -> %d status=%d found=%d", api == cuda::ProcApi::kV1 ? "" : "_v2",
                symbol != nullptr ? symbol : "(null)", cuda_version, static_cast<unsigned long long>(flags), r,
                status != nullptr ? static_cast<int>(*status) : -1, pfn != nullptr && *pfn != nullptr);
  return r;
}

}  // namespace xg::vgpu

extern "C" {

CUresult cuGetProcAddress_v2(const char* symbol, void** pfn, int cudaVersion, cuuint64_t flags,
                             CUdriverProcAddressQueryResult* symbolStatus) {
  return xg::vgpu::resolve_proc(symbol, pfn, cudaVersion, flags, symbolStatus);
}

CUresult cuGetProcAddress(const char* symbol, void** pfn, int cudaVersion, cuuint64_t flags) {
  return xg::vgpu::resolve_proc(symbol, pfn, cudaVersion, flags, nullptr, xg::cuda::ProcApi::kV1);
}

}  // extern "C"
