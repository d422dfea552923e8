// cuGetProcAddress: the table of every entry point this driver implements, by base name and the CUDA version
// from which the base name means that symbol (as the real driver resolves "cuMemAlloc" to cuMemAlloc_v2 for
// cudaVersion >= 3020). Anything absent answers CUDA_ERROR_NOT_FOUND. Works before cuInit.
// Simplification: CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM returns the same (legacy-stream) functions,
// since the simulated driver treats the per-thread default stream as the legacy one. The rules themselves are
// cuda/proc_address.cc's, shared with libvgpu.
//
// Implementors: a new entry point goes in cuda/cuda_abi.h (prototype, real symbol), in its source file here, and
// in cuda/entry_points.h with its base name and version.
#include "cuda/entry_points.h"
#include "cuda/proc_address.h"
#include "sim_internal.h"

namespace {

// The simulated driver exports no per-thread-stream twins: T rows resolve to their legacy-stream symbol.
#define XG_E(base, version, symbol) {#base, version, reinterpret_cast<void*>(&symbol), nullptr},
#define XG_T(base, version, symbol, twin) XG_E(base, version, symbol)
const xg::cuda::ProcEntry kEntries[] = {XG_CUDA_ENTRY_POINTS(XG_E, XG_T)};
#undef XG_E
#undef XG_T

CUresult resolve(const char* symbol, void** pfn, int cudaVersion, cuuint64_t flags,
                 CUdriverProcAddressQueryResult* status, xg::cuda::ProcApi api) {
  return xg::cuda::resolve_proc(kEntries, symbol, pfn, cudaVersion, flags, status, api);
}

}  // namespace

XG_SIM_EXPORT_C CUresult cuGetProcAddress_v2(const char* symbol, void** pfn, int cudaVersion, cuuint64_t flags,
                                             CUdriverProcAddressQueryResult* symbolStatus) {
  return resolve(symbol, pfn, cudaVersion, flags, symbolStatus, xg::cuda::ProcApi::kV2);
}

XG_SIM_EXPORT_C CUresult cuGetProcAddress(const char* symbol, void** pfn, int cudaVersion, cuuint64_t flags) {
  return resolve(symbol, pfn, cudaVersion, flags, nullptr, xg::cuda::ProcApi::kV1);
}
