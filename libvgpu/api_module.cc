// Modules, libraries, functions, launches and occupancy.
//
// Images: their size comes from their format (image.h); the bytes are staged with BlobPut chunks through the data
// area (several in flight), then ModuleLoad (kind 0 module, 1 library) consumes the blob. cuModuleLoad reads the
// file inside the zone. JIT options (cuModuleLoadDataEx, cuLibraryLoadData) are not forwarded: the log-size outputs
// read 0 and the log buffers are empty strings.
// Functions: ModuleGetFunction / KernelGetFunction answers carry the parameter layout, cached per function handle;
// cuLaunchKernel packs kernelParams by it (or passes an `extra` buffer through) and posts one LaunchKernel.
// cuLaunchKernelEx sends its attributes (72 bytes each, at most 8) in the tail before the parameters.
#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include "libvgpu/copy.h"
#include "libvgpu/image.h"
#include "libvgpu/state.h"

using namespace xg::vgpu;
using xg::idm::Op;
namespace idm = xg::idm;

namespace {

constexpr uint32_t kKindModule = 0, kKindLibrary = 1;

CUresult stage_blob(Session& s, const std::byte* p, uint64_t n) {
  Connection& c = s.conn();
  if (c.chunk_bytes() == 0) return CUDA_ERROR_NOT_SUPPORTED;  // a channel without a data area
  if (n == 0 || n > idm::kMaxBlobBytes) return CUDA_ERROR_INVALID_IMAGE;
  Pipeline pipe(c);
  for (uint64_t off = 0; off < n;) {
    const uint64_t len = std::min(c.chunk_bytes(), n - off);
    uint64_t at = 0;
    if (CUresult r = pipe.reserve(len, &at); r != CUDA_SUCCESS) return r;
    std::memcpy(c.data().data() + at, p + off, len);
    uint32_t seq = 0;
    if (CUresult r = c.send<Op::BlobPut>(idm::BlobPutReq{off, at, len}, {}, &seq); r != CUDA_SUCCESS) return r;
    pipe.track(seq, Piece{at, nullptr, 1, len, len});
    off += len;
  }
  return pipe.finish();
}

CUresult load_bytes(Session& s, const std::byte* p, uint64_t n, uint32_t kind, uint64_t* handle) {
  if (CUresult r = stage_blob(s, p, n); r != CUDA_SUCCESS) return r;
  Reply rep;
  if (CUresult r = s.conn().call<Op::ModuleLoad>(idm::ModuleLoadReq{s.ctx(), n, kind, 0}, {}, &rep);
      r != CUDA_SUCCESS)
    return r;
  *handle = rep.fixed<idm::U64Rsp>().value;
  return CUDA_SUCCESS;
}

CUresult load_image(Session& s, const void* image, uint32_t kind, uint64_t* handle) {
  if (image == nullptr) return CUDA_ERROR_INVALID_VALUE;
  ImageExtent e;
  if (!find_image_extent(image, kMaxImageBytes, &e)) return CUDA_ERROR_INVALID_IMAGE;
  return load_bytes(s, e.data, e.size, kind, handle);
}

// JIT options are not forwarded; outputs the caller may read are made empty rather than left undefined.
CUresult note_jit_options(unsigned n, CUjit_option* options, void** values) {
  if (n == 0) return CUDA_SUCCESS;
  if (options == nullptr || values == nullptr) return CUDA_ERROR_INVALID_VALUE;
  for (unsigned i = 0; i < n; ++i) {
    switch (raw(options[i])) {
      case CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES:
      case CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES: values[i] = nullptr; break;  // 0 bytes of log written
      case CU_JIT_WALL_TIME: {
        const float zero = 0.0f;
        std::memcpy(&values[i], &zero, sizeof zero);
        break;
      }
      default: break;
    }
  }
  for (unsigned i = 0; i < n; ++i) {
    const int o = raw(options[i]);
    if ((o == CU_JIT_INFO_LOG_BUFFER || o == CU_JIT_ERROR_LOG_BUFFER) && values[i] != nullptr) {
      // Only when the matching size option says the buffer has room.
      for (unsigned j = 0; j < n; ++j) {
        const int sz = raw(options[j]);
        if ((o == CU_JIT_INFO_LOG_BUFFER && sz == CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES) ||
            (o == CU_JIT_ERROR_LOG_BUFFER && sz == CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES))
          static_cast<char*>(values[i])[0] = '\0';
      }
    }
  }
  return CUDA_SUCCESS;
}

CUresult module_from(Session& s, CUmodule* module, const void* image) {
  if (module == nullptr) return CUDA_ERROR_INVALID_VALUE;
  uint64_t h = 0;
  if (CUresult r = load_image(s, image, kKindModule, &h); r != CUDA_SUCCESS) return r;
  *module = handle_of<CUmodule>(h);
  return CUDA_SUCCESS;
}

// A FunctionRsp (and its layout) into the cache.
CUresult remember_function(Session& s, const Reply& rep, uint64_t module, std::string name, CUfunction* out) {
  const auto f = rep.fixed<idm::FunctionRsp>();
  FunctionInfo info;
  if (!parse_layout(f, rep.tail<idm::FunctionRsp>(), &info.layout))
    return s.conn().transport_error(idm::Error::kPeerImpossible);
  info.module = module;
  info.name = std::move(name);
  s.st().functions[f.function] = std::move(info);
  *out = handle_of<CUfunction>(f.function);
  return CUDA_SUCCESS;
}

std::span<const std::byte> name_bytes(const char* name) {
  return std::as_bytes(std::span(name, strnlen(name, idm::kMaxSymbolName + 1)));
}

CUresult forget_module(Session& s, uint64_t h) {
  std::erase_if(s.st().functions, [h](const auto& kv) { return kv.second.module == h; });
  std::erase_if(s.st().kernel_functions, [&](const auto& kv) { return !s.st().functions.contains(kv.second); });
  std::erase_if(s.st().kernels, [h](const auto& kv) { return kv.second.library == h; });
  return CUDA_SUCCESS;
}

// The function a kernel means in the current context (fetched once per context).
CUresult kernel_function(Session& s, uint64_t kernel, uint64_t* out) {
  auto k = s.st().kernels.find(kernel);
  if (k == s.st().kernels.end()) return CUDA_ERROR_INVALID_HANDLE;
  if (s.ctx() == 0) return CUDA_ERROR_INVALID_CONTEXT;
  if (auto it = s.st().kernel_functions.find({kernel, s.ctx()}); it != s.st().kernel_functions.end()) {
    *out = it->second;
    return CUDA_SUCCESS;
  }
  Reply rep;
  if (CUresult r = s.conn().call<Op::KernelGetFunction>(idm::CtxHandleReq{s.ctx(), kernel}, {}, &rep);
      r != CUDA_SUCCESS)
    return r;
  CUfunction f = nullptr;
  if (CUresult r = remember_function(s, rep, k->second.library, k->second.name, &f); r != CUDA_SUCCESS) return r;
  s.st().kernel_functions[{kernel, s.ctx()}] = wire(f);
  *out = wire(f);
  return CUDA_SUCCESS;
}

// A CUfunction argument: a function this process fetched, or a CUkernel standing for its function here.
CUresult resolve_function(Session& s, CUfunction f, uint64_t* out) {
  if (f == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (s.st().functions.contains(wire(f))) {
    *out = wire(f);
    return CUDA_SUCCESS;
  }
  return kernel_function(s, wire(f), out);
}

// The handle to send the worker for a CUfunction argument: a CUkernel's function here; anything else as it is
// (the worker answers for handles it does not know).
CUresult function_for_worker(Session& s, CUfunction f, uint64_t* out) {
  *out = wire(f);
  return s.st().kernels.contains(*out) ? kernel_function(s, *out, out) : CUDA_SUCCESS;
}

CUresult check_launch_dims(const Session& s, const DeviceInfo& dev, const unsigned grid[3], const unsigned block[3]) {
  for (int i = 0; i < 3; ++i)
    if (grid[i] == 0 || block[i] == 0) return CUDA_ERROR_INVALID_VALUE;
  auto limit = [&](int attr) { return static_cast<size_t>(attr) < dev.attrs.size() ? dev.attrs[attr] : 0; };
  const int block_max[3] = {limit(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X), limit(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y),
                            limit(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z)};
  const int grid_max[3] = {limit(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X), limit(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y),
                           limit(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z)};
  for (int i = 0; i < 3; ++i) {
    if (block_max[i] > 0 && block[i] > static_cast<unsigned>(block_max[i])) return CUDA_ERROR_INVALID_VALUE;
    if (grid_max[i] > 0 && grid[i] > static_cast<unsigned>(grid_max[i])) return CUDA_ERROR_INVALID_VALUE;
  }
  const int threads = limit(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK);
  if (threads > 0 && uint64_t{block[0]} * block[1] * block[2] > static_cast<uint64_t>(threads))
    return CUDA_ERROR_INVALID_VALUE;
  return CUDA_SUCCESS;
}

CUresult launch(CUfunction f, const unsigned grid[3], const unsigned block[3], unsigned shared, CUstream stream,
                void** params, void** extra, const CUlaunchAttribute* attrs, unsigned attr_count) {
  VGPU_SESSION_WITH_CONTEXT(s);
  uint64_t fn = 0;
  if (CUresult r = resolve_function(s, f, &fn); r != CUDA_SUCCESS) return r;
  auto it = s.st().functions.find(fn);
  const auto dev = s.st().contexts.find(s.ctx());
  if (dev != s.st().contexts.end() && static_cast<size_t>(dev->second) < s.st().devices.size())
    if (CUresult r = check_launch_dims(s, s.st().devices[dev->second], grid, block); r != CUDA_SUCCESS) return r;
  if (!s.st().live_stream(wire_stream(stream))) return CUDA_ERROR_INVALID_HANDLE;
  if (attr_count > idm::kMaxLaunchAttrs) return CUDA_ERROR_NOT_SUPPORTED;  // the protocol's bound
  if (attr_count != 0 && attrs == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::vector<std::byte> packed;
  if (CUresult r = pack_params(it->second.layout, params, extra, &packed); r != CUDA_SUCCESS) return r;
  static_assert(sizeof(CUlaunchAttribute) == idm::kLaunchAttrBytes);
  std::vector<std::byte> tail(attr_count * sizeof(CUlaunchAttribute) + packed.size());
  if (attr_count != 0) std::memcpy(tail.data(), attrs, attr_count * sizeof(CUlaunchAttribute));
  if (!packed.empty()) std::memcpy(tail.data() + attr_count * sizeof(CUlaunchAttribute), packed.data(), packed.size());
  idm::LaunchReq req{s.ctx(), fn, wire_stream(stream), {grid[0], grid[1], grid[2]}, {block[0], block[1], block[2]},
                     shared, attr_count, static_cast<uint32_t>(packed.size()), 0};
  return s.conn().post<Op::LaunchKernel>(req, tail);
}

}  // namespace

extern "C" {

// --- modules ----------------------------------------------------------------------------------------------------

CUresult cuModuleLoadData(CUmodule* module, const void* image) {
  return guard([&]() -> CUresult {
    VGPU_SESSION_WITH_CONTEXT(s);
    return module_from(s, module, image);
  });
}

CUresult cuModuleLoadDataEx(CUmodule* module, const void* image, unsigned int numOptions, CUjit_option* options,
                            void** optionValues) {
  return guard([&]() -> CUresult {
    VGPU_SESSION_WITH_CONTEXT(s);
    if (CUresult r = note_jit_options(numOptions, options, optionValues); r != CUDA_SUCCESS) return r;
    return module_from(s, module, image);
  });
}

CUresult cuModuleLoadFatBinary(CUmodule* module, const void* fatCubin) {
  return guard([&]() -> CUresult {
    VGPU_SESSION_WITH_CONTEXT(s);
    return module_from(s, module, fatCubin);
  });
}

// The file is read inside the zone; a NUL is appended so PTX text arrives terminated (harmless after binaries).
CUresult cuModuleLoad(CUmodule* module, const char* fname) {
  return guard([&]() -> CUresult {
    VGPU_SESSION_WITH_CONTEXT(s);
    if (module == nullptr || fname == nullptr) return CUDA_ERROR_INVALID_VALUE;
    std::ifstream in(fname, std::ios::binary);
    if (!in) return CUDA_ERROR_FILE_NOT_FOUND;
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.empty()) return CUDA_ERROR_INVALID_IMAGE;
    bytes.push_back('\0');
    uint64_t h = 0;
    if (CUresult r = load_bytes(s, reinterpret_cast<const std::byte*>(bytes.data()), bytes.size(), kKindModule, &h);
        r != CUDA_SUCCESS)
      return r;
    *module = handle_of<CUmodule>(h);
    return CUDA_SUCCESS;
  });
}

CUresult cuModuleUnload(CUmodule hmod) {
  return guard([&]() -> CUresult {
    VGPU_SESSION_WITH_CONTEXT(s);
    if (CUresult r = s.conn().call<Op::ModuleUnload>(idm::HandleReq{wire(hmod)}); r != CUDA_SUCCESS) return r;
    return forget_module(s, wire(hmod));
  });
}

CUresult cuModuleGetFunction(CUfunction* hfunc, CUmodule hmod, const char* name) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    if (hfunc == nullptr || name == nullptr) return CUDA_ERROR_INVALID_VALUE;
    const auto n = name_bytes(name);
    if (n.empty() || n.size() > idm::kMaxSymbolName) return CUDA_ERROR_NOT_FOUND;
    Reply rep;
    if (CUresult r = s.conn().call<Op::ModuleGetFunction>(idm::NamedReq{wire(hmod)}, n, &rep); r != CUDA_SUCCESS)
      return r;
    return remember_function(s, rep, wire(hmod), name, hfunc);
  });
}

CUresult cuModuleGetGlobal_v2(CUdeviceptr* dptr, size_t* bytes, CUmodule hmod, const char* name) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    if (name == nullptr) return CUDA_ERROR_INVALID_VALUE;
    const auto n = name_bytes(name);
    if (n.empty() || n.size() > idm::kMaxSymbolName) return CUDA_ERROR_NOT_FOUND;
    Reply rep;
    if (CUresult r = s.conn().call<Op::ModuleGetGlobal>(idm::NamedReq{wire(hmod)}, n, &rep); r != CUDA_SUCCESS)
      return r;
    const auto g = rep.fixed<idm::GlobalRsp>();
    if (dptr != nullptr) *dptr = g.dptr;
    if (bytes != nullptr) *bytes = g.bytes;
    return CUDA_SUCCESS;
  });
}

// --- libraries and kernels --------------------------------------------------------------------------------------

CUresult cuLibraryLoadData(CUlibrary* library, const void* code, CUjit_option* jitOptions, void** jitOptionsValues,
                           unsigned int numJitOptions, CUlibraryOption* libraryOptions, void** libraryOptionValues,
                           unsigned int numLibraryOptions) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    if (library == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (CUresult r = note_jit_options(numJitOptions, jitOptions, jitOptionsValues); r != CUDA_SUCCESS) return r;
    if (numLibraryOptions != 0 && (libraryOptions == nullptr || libraryOptionValues == nullptr))
      return CUDA_ERROR_INVALID_VALUE;
    uint64_t h = 0;
    if (CUresult r = load_image(s, code, kKindLibrary, &h); r != CUDA_SUCCESS) return r;
    *library = handle_of<CUlibrary>(h);
    return CUDA_SUCCESS;
  });
}

CUresult cuLibraryUnload(CUlibrary library) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    if (CUresult r = s.conn().call<Op::LibraryUnload>(idm::HandleReq{wire(library)}); r != CUDA_SUCCESS) return r;
    if (auto it = s.st().library_modules.find(wire(library)); it != s.st().library_modules.end()) {
      (void)forget_module(s, it->second);  // the library's module went with it
      s.st().library_modules.erase(it);
    }
    return forget_module(s, wire(library));
  });
}

// The library's module in the current context (how the CUDA runtime finds kernels by name after a lazy load).
CUresult cuLibraryGetModule(CUmodule* pMod, CUlibrary library) {
  return guard([&]() -> CUresult {
    VGPU_SESSION_WITH_CONTEXT(s);
    if (pMod == nullptr) return CUDA_ERROR_INVALID_VALUE;
    Reply rep;
    if (CUresult r = s.conn().call<Op::LibraryGetModule>(idm::CtxHandleReq{s.ctx(), wire(library)}, {}, &rep); r != CUDA_SUCCESS)
      return r;
    const uint64_t m = rep.fixed<idm::U64Rsp>().value;
    s.st().library_modules[wire(library)] = m;
    *pMod = handle_of<CUmodule>(m);
    return CUDA_SUCCESS;
  });
}

CUresult cuLibraryGetKernel(CUkernel* pKernel, CUlibrary library, const char* name) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    if (pKernel == nullptr || name == nullptr) return CUDA_ERROR_INVALID_VALUE;
    const auto n = name_bytes(name);
    if (n.empty() || n.size() > idm::kMaxSymbolName) return CUDA_ERROR_NOT_FOUND;
    Reply rep;
    if (CUresult r = s.conn().call<Op::LibraryGetKernel>(idm::NamedReq{wire(library)}, n, &rep); r != CUDA_SUCCESS)
      return r;
    const uint64_t k = rep.fixed<idm::U64Rsp>().value;
    s.st().kernels[k] = KernelInfo{wire(library), std::string(name, n.size())};
    *pKernel = handle_of<CUkernel>(k);
    return CUDA_SUCCESS;
  });
}

CUresult cuKernelGetFunction(CUfunction* pFunc, CUkernel kernel) {
  return guard([&]() -> CUresult {
    VGPU_SESSION_WITH_CONTEXT(s);
    if (pFunc == nullptr) return CUDA_ERROR_INVALID_VALUE;
    uint64_t f = 0;
    if (CUresult r = kernel_function(s, wire(kernel), &f); r != CUDA_SUCCESS) return r;
    *pFunc = handle_of<CUfunction>(f);
    return CUDA_SUCCESS;
  });
}

// --- functions --------------------------------------------------------------------------------------------------

CUresult cuFuncGetAttribute(int* pi, CUfunction_attribute attrib, CUfunction hfunc) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    if (pi == nullptr) return CUDA_ERROR_INVALID_VALUE;
    uint64_t fn = 0;
    if (CUresult r = function_for_worker(s, hfunc, &fn); r != CUDA_SUCCESS) return r;
    Reply rep;
    if (CUresult r = s.conn().call<Op::FuncGetAttribute>(idm::FuncAttrReq{fn, raw(attrib), 0}, {}, &rep);
        r != CUDA_SUCCESS)
      return r;
    *pi = rep.fixed<idm::I32Rsp>().value;
    return CUDA_SUCCESS;
  });
}

CUresult cuFuncSetAttribute(CUfunction hfunc, CUfunction_attribute attrib, int value) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    uint64_t fn = 0;
    if (CUresult r = function_for_worker(s, hfunc, &fn); r != CUDA_SUCCESS) return r;
    return s.conn().call<Op::FuncSetAttribute>(idm::FuncAttrReq{fn, raw(attrib), value});
  });
}

// Answered from the layout cached when the function handle was obtained.
CUresult cuFuncGetParamInfo(CUfunction func, size_t paramIndex, size_t* paramOffset, size_t* paramSize) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    uint64_t fn = 0;
    if (CUresult r = resolve_function(s, func, &fn); r != CUDA_SUCCESS) return r;
    auto it = s.st().functions.find(fn);
    if (paramOffset == nullptr || paramSize == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (!it->second.layout.known) return CUDA_ERROR_NOT_SUPPORTED;  // the proxy's driver predates CUDA 12.4
    const auto& slots = it->second.layout.slots;
    if (paramIndex >= slots.size()) return CUDA_ERROR_INVALID_VALUE;
    *paramOffset = slots[paramIndex].offset;
    *paramSize = slots[paramIndex].size;
    return CUDA_SUCCESS;
  });
}

// --- launches and occupancy -------------------------------------------------------------------------------------

CUresult cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY, unsigned int gridDimZ,
                        unsigned int blockDimX, unsigned int blockDimY, unsigned int blockDimZ,
                        unsigned int sharedMemBytes, CUstream hStream, void** kernelParams, void** extra) {
  return guard([&]() -> CUresult {
    const unsigned grid[3] = {gridDimX, gridDimY, gridDimZ};
    const unsigned block[3] = {blockDimX, blockDimY, blockDimZ};
    return launch(f, grid, block, sharedMemBytes, hStream, kernelParams, extra, nullptr, 0);
  });
}

CUresult cuLaunchKernelEx(const CUlaunchConfig* config, CUfunction f, void** kernelParams, void** extra) {
  return guard([&]() -> CUresult {
    if (config == nullptr) return CUDA_ERROR_INVALID_VALUE;
    const CUlaunchConfig cfg = *config;
    const unsigned grid[3] = {cfg.gridDimX, cfg.gridDimY, cfg.gridDimZ};
    const unsigned block[3] = {cfg.blockDimX, cfg.blockDimY, cfg.blockDimZ};
    return launch(f, grid, block, cfg.sharedMemBytes, cfg.hStream, kernelParams, extra, cfg.attrs, cfg.numAttrs);
  });
}

// The name of a function or kernel this process fetched; the string lives as long as the function.
CUresult cuFuncGetName(const char** name, CUfunction hfunc) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    if (name == nullptr) return CUDA_ERROR_INVALID_VALUE;
    auto it = s.st().functions.find(wire(hfunc));
    if (it == s.st().functions.end()) return CUDA_ERROR_INVALID_HANDLE;
    *name = it->second.name.c_str();
    return CUDA_SUCCESS;
  });
}

CUresult cuKernelGetName(const char** name, CUkernel hfunc) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    if (name == nullptr) return CUDA_ERROR_INVALID_VALUE;
    auto it = s.st().kernels.find(wire(hfunc));
    if (it == s.st().kernels.end()) return CUDA_ERROR_INVALID_HANDLE;
    *name = it->second.name.c_str();
    return CUDA_SUCCESS;
  });
}

CUresult cuOccupancyMaxActiveBlocksPerMultiprocessor(int* numBlocks, CUfunction func, int blockSize,
                                                     size_t dynamicSMemSize) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    if (numBlocks == nullptr) return CUDA_ERROR_INVALID_VALUE;
    uint64_t fn = 0;
    if (CUresult r = function_for_worker(s, func, &fn); r != CUDA_SUCCESS) return r;
    Reply rep;
    const idm::OccupancyReq req{fn, blockSize, 0, dynamicSMemSize, 0, 0};
    if (CUresult r = s.conn().call<Op::OccupancyMaxActiveBlocks>(req, {}, &rep); r != CUDA_SUCCESS) return r;
    *numBlocks = rep.fixed<idm::OccupancyRsp>().a;
    return CUDA_SUCCESS;
  });
}

// A blockSizeToDynamicSMemSize callback cannot cross to the worker: CUDA_ERROR_NOT_SUPPORTED with one.
CUresult cuOccupancyMaxPotentialBlockSize(int* minGridSize, int* blockSize, CUfunction func,
                                          CUoccupancyB2DSize blockSizeToDynamicSMemSize, size_t dynamicSMemSize,
                                          int blockSizeLimit) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    if (minGridSize == nullptr || blockSize == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (blockSizeToDynamicSMemSize != nullptr) return CUDA_ERROR_NOT_SUPPORTED;
    uint64_t fn = 0;
    if (CUresult r = function_for_worker(s, func, &fn); r != CUDA_SUCCESS) return r;
    Reply rep;
    const idm::OccupancyReq req{fn, 0, 0, dynamicSMemSize, blockSizeLimit, 0};
    if (CUresult r = s.conn().call<Op::OccupancyMaxPotentialBlockSize>(req, {}, &rep); r != CUDA_SUCCESS) return r;
    const auto o = rep.fixed<idm::OccupancyRsp>();
    *minGridSize = o.a;
    *blockSize = o.b;
    return CUDA_SUCCESS;
  });
}

}  // extern "C"
