// cuGetProcAddress: the table of every entry point this driver implements, by base name and the CUDA version
// from which the base name means that symbol (as the real driver resolves "cuMemAlloc" to cuMemAlloc_v2 for
// cudaVersion >= 3020). Anything absent answers CUDA_ERROR_NOT_FOUND. Works before cuInit.
// Simplification: CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM returns the same (legacy-stream) functions,
// since the simulated driver treats the per-thread default stream as the legacy one.
//
// Implementors: a new entry point goes in idm/cuda_abi.h (prototype, real symbol), in its source file here, and
// in this table with its base name and version.
#include <cstring>

#include "idm/cuda_entry_points.h"
#include "sim_internal.h"

namespace {

struct Entry {
  const char* name;  // base name, as passed to cuGetProcAddress
  int version;       // CUDA version from which `name` resolves to `fn`
  void* fn;
};

#define XG_E(base, version, symbol) {#base, version, reinterpret_cast<void*>(&symbol)}
const Entry kEntries[] = {
// The simulated driver exports no per-thread-stream twins: T rows resolve to their legacy-stream symbol.
#define XG_COMMA_E(b, v, s) XG_E(b, v, s),
#define XG_COMMA_T(b, v, s, t) XG_E(b, v, s),
    XG_CUDA_ENTRY_POINTS(XG_COMMA_E, XG_COMMA_T)
#undef XG_COMMA_E
#undef XG_COMMA_T
};
#undef XG_E

CUresult resolve(const char* symbol, void** pfn, int cudaVersion, cuuint64_t flags,
                 CUdriverProcAddressQueryResult* status) {
  if (symbol == nullptr || pfn == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (flags > (CU_GET_PROC_ADDRESS_LEGACY_STREAM | CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM))
    return CUDA_ERROR_INVALID_VALUE;
  *pfn = nullptr;
  const Entry* best = nullptr;
  bool known = false;
  for (const Entry& e : kEntries) {
    if (std::strcmp(e.name, symbol) != 0) continue;
    known = true;
    if (e.version <= cudaVersion && (best == nullptr || e.version > best->version)) best = &e;
  }
  if (best == nullptr) {
    if (status != nullptr)
      *status = known ? CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT : CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
    return CUDA_ERROR_NOT_FOUND;
  }
  *pfn = best->fn;
  if (status != nullptr) *status = CU_GET_PROC_ADDRESS_SUCCESS;
  return CUDA_SUCCESS;
}

}  // namespace

XG_SIM_EXPORT_C CUresult cuGetProcAddress_v2(const char* symbol, void** pfn, int cudaVersion, cuuint64_t flags,
                                             CUdriverProcAddressQueryResult* symbolStatus) {
  return resolve(symbol, pfn, cudaVersion, flags, symbolStatus);
}

XG_SIM_EXPORT_C CUresult cuGetProcAddress(const char* symbol, void** pfn, int cudaVersion, cuuint64_t flags) {
  return resolve(symbol, pfn, cudaVersion, flags, nullptr);
}
