// Modules and libraries. The simulated driver's module format is an x86_64 ELF shared object built with
// sim_kernel.h. The image bytes (from cuModuleLoadData, or read from the file given to cuModuleLoad) are copied
// into a memfd and dlopened as /proc/self/fd/N, so each load gets its own copy of the module's globals, as each
// load of a real module does. Real GPU code (PTX text, cubin ELF, fatbinary) is recognised and loaded as a foreign
// module: this driver cannot run it, so fetching a kernel or global from it answers CUDA_ERROR_NOT_SUPPORTED.
#include <dlfcn.h>
#include <elf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <cstring>
#include <fstream>
#include <string_view>
#include <iterator>

#include "sim_internal.h"

namespace xg::sim {

Module::~Module() {
  if (dl != nullptr) dlclose(dl);
  if (memfd >= 0) close(memfd);  // kept open while loaded: no other module can get the same /proc path
}

size_t Function::packed_size() const {
  size_t end = 0;
  for (uint32_t i = 0; i < desc->num_params; ++i) end = std::max(end, desc->params[i].offset + desc->params[i].size);
  return end;
}

void unload_module_locked(Driver& d, uint64_t handle) {
  auto m = d.modules.take(handle);
  if (!m) return;
  if (m->module_view != 0) d.modules.take(m->module_view);
  for (const auto& [name, fh] : m->functions) d.functions.take(fh);
  for (uintptr_t g : m->globals) d.table.erase(g);
  // `m` may still be referenced by a queued launch; the last reference dlcloses.
}

}  // namespace xg::sim

using namespace xg::sim;

namespace {

constexpr uint32_t kFatbinMagic = 0xBA55ED50u;        // fatbinary container
constexpr uint32_t kFatbinWrapperMagic = 0x466243B1u;  // __fatBinC_Wrapper_t from nvcc host code
constexpr uint16_t kEmCuda = 190;                       // EM_CUDA

enum class ImageKind { cpu_module, gpu_code, invalid };

// Size of an ELF image held in memory (cuModuleLoadData gets no length): the furthest byte any header names.
size_t elf_size(const unsigned char* image) {
  Elf64_Ehdr eh;
  std::memcpy(&eh, image, sizeof eh);
  size_t end = std::max<size_t>(sizeof eh, eh.e_shoff + size_t(eh.e_shnum) * eh.e_shentsize);
  end = std::max<size_t>(end, eh.e_phoff + size_t(eh.e_phnum) * eh.e_phentsize);
  for (unsigned i = 0; i < eh.e_shnum && eh.e_shentsize == sizeof(Elf64_Shdr); ++i) {
    Elf64_Shdr sh;
    std::memcpy(&sh, image + eh.e_shoff + size_t(i) * sizeof sh, sizeof sh);
    if (sh.sh_type != SHT_NOBITS) end = std::max<size_t>(end, sh.sh_offset + sh.sh_size);
  }
  return end;
}

ImageKind classify(const unsigned char* image, size_t* size) {
  const char* text = reinterpret_cast<const char*>(image);
  if (strnlen(text, 4) < 4) return ImageKind::invalid;  // read no further than a short string
  uint32_t magic = 0;
  std::memcpy(&magic, image, sizeof magic);
  if (magic == kFatbinMagic || magic == kFatbinWrapperMagic) return ImageKind::gpu_code;
  if (std::memcmp(image, ELFMAG, SELFMAG) == 0) {
    Elf64_Ehdr eh;
    std::memcpy(&eh, image, sizeof eh);
    if (eh.e_machine == kEmCuda) return ImageKind::gpu_code;  // cubin
    if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64 || eh.e_type != ET_DYN)
      return ImageKind::invalid;
    *size = elf_size(image);
    return ImageKind::cpu_module;
  }
  // PTX is NUL-terminated text with a .version directive near the top.
  const size_t n = strnlen(text, 1 << 16);
  if (n < (1 << 16) && std::string_view(text, n).find(".version") != std::string_view::npos)
    return ImageKind::gpu_code;
  return ImageKind::invalid;
}

CUresult register_module(Driver& d, std::shared_ptr<Module> m, uint64_t context, Tag tag, uint64_t* out) {
  std::lock_guard lk(d.mu);
  m->handle = d.new_handle(tag);
  m->context = context;
  d.modules.put(m->handle, m);
  if (context != 0)
    if (auto c = d.contexts.get(context)) c->modules.push_back(m->handle);
  *out = m->handle;
  return CUDA_SUCCESS;
}

CUresult load_image(const void* image, uint64_t context, Tag tag, uint64_t* out) {
  Driver& d = driver();
  if (image == nullptr) return CUDA_ERROR_INVALID_VALUE;
  size_t size = 0;
  switch (classify(static_cast<const unsigned char*>(image), &size)) {
    case ImageKind::gpu_code: break;  // loaded as code this driver cannot run (Module::foreign)
    case ImageKind::invalid: return CUDA_ERROR_INVALID_IMAGE;
    case ImageKind::cpu_module: break;
  }
  auto m = std::make_shared<Module>();
  if (size == 0) {
    m->foreign = true;
    return register_module(d, std::move(m), context, tag, out);
  }
  m->memfd = memfd_create("xg-sim-module", MFD_CLOEXEC);
  if (m->memfd < 0) return CUDA_ERROR_OPERATING_SYSTEM;
  const auto* bytes = static_cast<const char*>(image);
  for (size_t done = 0; done < size;) {
    ssize_t w = write(m->memfd, bytes + done, size - done);
    if (w <= 0) return CUDA_ERROR_OPERATING_SYSTEM;
    done += size_t(w);
  }
  const std::string path = "/proc/self/fd/" + std::to_string(m->memfd);
  m->dl = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (m->dl == nullptr) return CUDA_ERROR_SHARED_OBJECT_INIT_FAILED;
  return register_module(d, std::move(m), context, tag, out);
}

CUresult load_module(CUmodule* module, const void* image) {
  Driver& d = driver();
  std::shared_ptr<Context> c;
  {
    std::lock_guard lk(d.mu);
    if (CUresult r = current_context_locked(d, &c); r != CUDA_SUCCESS) return r;
  }
  if (module == nullptr) return CUDA_ERROR_INVALID_VALUE;
  uint64_t h = 0;
  if (CUresult r = load_image(image, c->handle, Tag::module, &h); r != CUDA_SUCCESS) return r;
  *module = handle_of<CUmodule>(h);
  return CUDA_SUCCESS;
}

// Looks up (and caches) the function `name` of module `m`. Caller holds the driver lock.
// NVIDIA GPU code loads (so a CUDA runtime that registers its images at start-up keeps going), but nothing in it
// can run here: the first use of a kernel or global says so, once per process, and answers NOT_SUPPORTED.
CUresult refuse_foreign_code(const char* what, const char* name) {
  static std::once_flag once;
  std::call_once(once, [&] {
    std::fprintf(stderr, "xg-sim: %s '%s' is NVIDIA GPU code (fatbinary, cubin or PTX); the simulated driver runs "
                         "only its own CPU modules (CUDA_ERROR_NOT_SUPPORTED)\n", what, name);
  });
  return CUDA_ERROR_NOT_SUPPORTED;
}

CUresult get_function_locked(Driver& d, const std::shared_ptr<Module>& m, const char* name, uint64_t* out) {
  if (name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (auto it = m->functions.find(name); it != m->functions.end()) {
    *out = it->second;
    return CUDA_SUCCESS;
  }
  if (m->foreign) return refuse_foreign_code("kernel", name);
  const std::string sym = std::string(XG_SIM_KERNEL_PREFIX) + name;
  auto* desc = static_cast<const xg_sim_kernel_desc*>(dlsym(m->dl, sym.c_str()));
  if (desc == nullptr) return CUDA_ERROR_NOT_FOUND;
  if (desc->abi_version != XG_SIM_ABI_VERSION) return CUDA_ERROR_INVALID_IMAGE;
  auto f = std::make_shared<Function>();
  f->handle = d.new_handle(Tag::function);
  f->module = m;
  f->desc = desc;
  d.functions.put(f->handle, f);
  m->functions.emplace(name, f->handle);
  *out = f->handle;
  return CUDA_SUCCESS;
}

std::shared_ptr<Module> lookup_module_locked(Driver& d, uint64_t h, Tag tag) {
  if ((h >> 48) != static_cast<uint64_t>(tag)) return nullptr;
  return d.modules.get(h);
}

}  // namespace

XG_SIM_EXPORT_C CUresult cuModuleLoadData(CUmodule* module, const void* image) { return load_module(module, image); }

XG_SIM_EXPORT_C CUresult cuModuleLoadDataEx(CUmodule* module, const void* image, unsigned int numOptions,
                                            CUjit_option* options, void** optionValues) {
  if (numOptions != 0 && (options == nullptr || optionValues == nullptr)) return CUDA_ERROR_INVALID_VALUE;
  return load_module(module, image);  // JIT options do not apply to CPU modules
}

XG_SIM_EXPORT_C CUresult cuModuleLoadFatBinary(CUmodule* module, const void* fatCubin) {
  return load_module(module, fatCubin);
}

XG_SIM_EXPORT_C CUresult cuModuleLoad(CUmodule* module, const char* fname) {
  XG_SIM_REQUIRE_INIT(driver());
  if (fname == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::ifstream in(fname, std::ios::binary);
  if (!in) return CUDA_ERROR_FILE_NOT_FOUND;
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  bytes.resize(std::max<size_t>(bytes.size(), sizeof(Elf64_Ehdr)) + 1, '\0');  // NUL-terminate PTX, pad headers
  return load_module(module, bytes.data());
}

XG_SIM_EXPORT_C CUresult cuModuleUnload(CUmodule hmod) {
  Driver& d = driver();
  std::unique_lock lk(d.mu);
  std::shared_ptr<Context> c;
  if (CUresult r = current_context_locked(d, &c); r != CUDA_SUCCESS) return r;
  auto m = lookup_module_locked(d, id_of(hmod), Tag::module);
  if (!m) return CUDA_ERROR_INVALID_HANDLE;
  if (m->module_view == id_of(hmod)) return CUDA_ERROR_INVALID_HANDLE;  // a library's module goes with the library
  synchronize_context(lk, *c);  // no queued launch may outlive its code
  if (auto owner = d.contexts.get(m->context)) std::erase(owner->modules, m->handle);
  unload_module_locked(d, m->handle);
  return CUDA_SUCCESS;
}

XG_SIM_EXPORT_C CUresult cuModuleGetFunction(CUfunction* hfunc, CUmodule hmod, const char* name) {
  Driver& d = driver();
  std::lock_guard lk(d.mu);
  XG_SIM_REQUIRE_INIT(d);
  if (hfunc == nullptr) return CUDA_ERROR_INVALID_VALUE;
  auto m = lookup_module_locked(d, id_of(hmod), Tag::module);
  if (!m) return CUDA_ERROR_INVALID_HANDLE;
  uint64_t h = 0;
  if (CUresult r = get_function_locked(d, m, name, &h); r != CUDA_SUCCESS) return r;
  *hfunc = handle_of<CUfunction>(h);
  return CUDA_SUCCESS;
}

// The global's storage lives in the module's data segment; the first lookup registers it in the allocation
// table (owned by the module) so copies to and from it pass the range checks.
XG_SIM_EXPORT_C CUresult cuModuleGetGlobal_v2(CUdeviceptr* dptr, size_t* bytes, CUmodule hmod, const char* name) {
  Driver& d = driver();
  std::lock_guard lk(d.mu);
  XG_SIM_REQUIRE_INIT(d);
  if (name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  auto m = lookup_module_locked(d, id_of(hmod), Tag::module);
  if (!m) return CUDA_ERROR_INVALID_HANDLE;
  if (m->foreign) return refuse_foreign_code("global", name);
  const std::string sym = std::string(XG_SIM_GLOBAL_PREFIX) + name;
  auto* g = static_cast<const xg_sim_global_desc*>(dlsym(m->dl, sym.c_str()));
  if (g == nullptr || g->abi_version != XG_SIM_ABI_VERSION || g->size == 0) return CUDA_ERROR_NOT_FOUND;
  const uintptr_t base = addr_of(g->address);
  if (d.table.find(base) == nullptr) {
    Allocation a{base, g->size, MemKind::module_global, m->context, m->handle, d.next_buffer_id++, 0, false};
    if (!d.table.insert(a)) return CUDA_ERROR_INVALID_IMAGE;
    m->globals.push_back(base);
  }
  if (dptr != nullptr) *dptr = base;
  if (bytes != nullptr) *bytes = g->size;
  return CUDA_SUCCESS;
}

// --- library API: context-independent modules (simplified: kernels are functions usable in any context) ----

XG_SIM_EXPORT_C CUresult cuLibraryLoadData(CUlibrary* library, const void* code, CUjit_option* jitOptions,
                                           void** jitOptionsValues, unsigned int numJitOptions,
                                           CUlibraryOption* libraryOptions, void** libraryOptionValues,
                                           unsigned int numLibraryOptions) {
  XG_SIM_REQUIRE_INIT(driver());
  if (library == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (numJitOptions != 0 && (jitOptions == nullptr || jitOptionsValues == nullptr)) return CUDA_ERROR_INVALID_VALUE;
  if (numLibraryOptions != 0 && (libraryOptions == nullptr || libraryOptionValues == nullptr))
    return CUDA_ERROR_INVALID_VALUE;
  uint64_t h = 0;
  if (CUresult r = load_image(code, 0, Tag::library, &h); r != CUDA_SUCCESS) return r;
  *library = handle_of<CUlibrary>(h);
  return CUDA_SUCCESS;
}

XG_SIM_EXPORT_C CUresult cuLibraryUnload(CUlibrary library) {
  Driver& d = driver();
  std::unique_lock lk(d.mu);
  XG_SIM_REQUIRE_INIT(d);
  auto m = lookup_module_locked(d, id_of(library), Tag::library);
  if (!m) return CUDA_ERROR_INVALID_HANDLE;
  unload_module_locked(d, m->handle);  // queued launches keep the code mapped until they finish
  return CUDA_SUCCESS;
}

XG_SIM_EXPORT_C CUresult cuLibraryGetKernel(CUkernel* pKernel, CUlibrary library, const char* name) {
  Driver& d = driver();
  std::lock_guard lk(d.mu);
  XG_SIM_REQUIRE_INIT(d);
  if (pKernel == nullptr) return CUDA_ERROR_INVALID_VALUE;
  auto m = lookup_module_locked(d, id_of(library), Tag::library);
  if (!m) return CUDA_ERROR_INVALID_HANDLE;
  uint64_t h = 0;
  if (CUresult r = get_function_locked(d, m, name, &h); r != CUDA_SUCCESS) return r;
  *pKernel = handle_of<CUkernel>(h);  // a CUkernel is the function's own handle
  return CUDA_SUCCESS;
}

// The library's module for the current context: one module handle per library, unloaded with it.
XG_SIM_EXPORT_C CUresult cuLibraryGetModule(CUmodule* pMod, CUlibrary library) {
  Driver& d = driver();
  std::lock_guard lk(d.mu);
  std::shared_ptr<Context> c;
  if (CUresult r = current_context_locked(d, &c); r != CUDA_SUCCESS) return r;
  if (pMod == nullptr) return CUDA_ERROR_INVALID_VALUE;
  auto m = lookup_module_locked(d, id_of(library), Tag::library);
  if (!m) return CUDA_ERROR_INVALID_HANDLE;
  if (m->module_view == 0) {
    m->module_view = d.new_handle(Tag::module);
    d.modules.put(m->module_view, m);
  }
  *pMod = handle_of<CUmodule>(m->module_view);
  return CUDA_SUCCESS;
}

XG_SIM_EXPORT_C CUresult cuKernelGetFunction(CUfunction* pFunc, CUkernel kernel) {
  Driver& d = driver();
  std::lock_guard lk(d.mu);
  std::shared_ptr<Context> c;
  if (CUresult r = current_context_locked(d, &c); r != CUDA_SUCCESS) return r;
  if (pFunc == nullptr) return CUDA_ERROR_INVALID_VALUE;
  auto f = d.functions.get(id_of(kernel));
  if (!f || f->module->context != 0) return CUDA_ERROR_INVALID_HANDLE;
  *pFunc = handle_of<CUfunction>(f->handle);
  return CUDA_SUCCESS;
}
