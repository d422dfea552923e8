#include "gpu-proxy/driver_api.h"

#include <dlfcn.h>

#include "cuda/entry_points.h"

namespace xg::proxy {

namespace {

// Stands in for an entry point the loaded driver lacks, so every member is callable: the call answers
// CUDA_ERROR_NOT_SUPPORTED instead of jumping through a null pointer.
template <typename F>
struct NotSupported;
template <typename... A>
struct NotSupported<CUresult (*)(A...)> {
  static CUresult fn(A...) { return CUDA_ERROR_NOT_SUPPORTED; }
};

}  // namespace

std::unique_ptr<DriverApi> DriverApi::load(const std::string& path, std::string& error) {
  // RTLD_LOCAL: the driver's symbols must not satisfy anyone else's lookups in this process.
  void* h = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char* e = ::dlerror();
    error = e ? e : "dlopen failed";
    return nullptr;
  }
  std::unique_ptr<DriverApi> api(new DriverApi());
  api->handle_ = h;
  api->path_ = path;
  using GetProc = CUresult (*)(const char*, void**, int, cuuint64_t, CUdriverProcAddressQueryResult*);
  using GetProcV1 = CUresult (*)(const char*, void**, int, cuuint64_t);
  auto get_v2 = reinterpret_cast<GetProc>(::dlsym(h, "cuGetProcAddress_v2"));
  auto get_v1 = reinterpret_cast<GetProcV1>(::dlsym(h, "cuGetProcAddress"));
  if (!get_v2 && !get_v1) {
    error = path + " exports no cuGetProcAddress: not a CUDA driver (or older than CUDA 11.3)";
    return nullptr;
  }
  auto resolve = [&](const char* name, int version = CUDA_VERSION) -> void* {
    void* fn = nullptr;
    CUresult r;
    if (get_v2) {
      CUdriverProcAddressQueryResult status{};
      r = get_v2(name, &fn, version, CU_GET_PROC_ADDRESS_DEFAULT, &status);
    } else {
      r = get_v1(name, &fn, version, CU_GET_PROC_ADDRESS_DEFAULT);
    }
    return r == CUDA_SUCCESS ? fn : nullptr;
  };
  // Each base name is asked for at the version that introduced the variant we call (cuda::symbol_version): asked
  // at our ABI's version, a newer driver answers with the newest variant up to it, whose parameters may differ.
  // Every symbol here is in the entry-point table (static_assert).
#define XG_DRIVER_RESOLVE(member, base, symbol)                                                          \
  static_assert(cuda::symbol_version(#symbol) != 0, #symbol " is not in cuda/entry_points.h");           \
  api->member = reinterpret_cast<decltype(&::symbol)>(resolve(#base, cuda::symbol_version(#symbol)));    \
  api->resolved_ += api->member != nullptr;                                     \
  if (!api->member) api->member = &NotSupported<decltype(&::symbol)>::fn;
  XG_DRIVER_ENTRIES(XG_DRIVER_RESOLVE)
#undef XG_DRIVER_RESOLVE
  api->has_param_info_ = resolve("cuFuncGetParamInfo") != nullptr;
  if (!resolve("cuInit") || !resolve("cuCtxSetCurrent")) {
    error = path + ": cuInit/cuCtxSetCurrent did not resolve";
    return nullptr;
  }
  return api;
}

// The driver stays loaded for the life of the worker process (unloading a CUDA driver is not supported), so the
// destructor deliberately does not dlclose.
DriverApi::~DriverApi() = default;

}  // namespace xg::proxy
