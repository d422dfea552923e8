// Modules, libraries, functions and launches. Images arrive staged (BlobPut) and are handed to the driver's own
// loader: parsing a hostile cubin is the driver's job, and a crash there costs this zone its own worker only.
#include <string>

#include "gpu-proxy/worker/worker.h"

namespace xg::proxy {

namespace {
constexpr uint64_t kModulePage = 64 * 1024;  // the granule a module's image is charged in
}  // namespace

using namespace idm;

namespace {
std::string name_of(std::span<const std::byte> tail) {
  return std::string(reinterpret_cast<const char*>(tail.data()), tail.size());  // validated: printable, no NUL
}
}  // namespace

CUresult Worker::on(OpTag<Op::BlobPut>, const BlobPutReq& r, std::span<const std::byte>, Reply&) {
  if (r.blob_offset == 0) blob_.clear();
  if (r.blob_offset != blob_.size()) return CUDA_ERROR_INVALID_VALUE;  // appends only, in order
  if (r.bytes > kMaxBlobBytes || blob_.size() > kMaxBlobBytes - r.bytes) return CUDA_ERROR_INVALID_VALUE;
  std::byte* src = host_range(static_cast<uint32_t>(HostBuf::kDataArea), 0, r.data_offset, r.bytes, {});
  if (!src) return CUDA_ERROR_INVALID_VALUE;
  blob_.insert(blob_.end(), src, src + r.bytes);
  return CUDA_SUCCESS;
}

CUresult Worker::on(OpTag<Op::ModuleLoad>, const ModuleLoadReq& r, std::span<const std::byte>, Reply& reply) {
  if (r.blob_bytes != blob_.size() || blob_.empty() || r.kind > 1) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult e = admit(Limit::modules); e != CUDA_SUCCESS) {
    blob_.clear();
    return e;
  }
  // The module's code and data live in device memory: the zone's quota pays for them. What the driver places is
  // not visible to us, so the image's size (64 KiB pages) stands for it; a module that does not fit is refused
  // before the driver loads it.
  const uint64_t image_charge = (blob_.size() + kModulePage - 1) / kModulePage * kModulePage;
  if (CUresult e = charge(image_charge); e != CUDA_SUCCESS) {
    blob_.clear();
    return e;
  }
  // A NUL after the image: a PTX image without its terminator cannot make the driver read past our buffer.
  blob_.push_back(std::byte{0});
  uint64_t h = 0;
  CUresult e;
  if (r.kind == 0) {
    if (CUresult e = use_ctx(r.ctx); e != CUDA_SUCCESS) {
      blob_.clear();
      return e;
    }
    CUmodule m = nullptr;
    e = d_.ModuleLoadData(&m, blob_.data());
    if (e == CUDA_SUCCESS && (h = handles_.insert(ObjType::kModule, m, r.ctx)) == 0) {
      d_.ModuleUnload(m);
      e = CUDA_ERROR_OUT_OF_MEMORY;
    }
  } else {
    // Libraries belong to no context (the CUDA runtime loads them before it has one).
    CUlibrary lib = nullptr;
    e = d_.LibraryLoadData(&lib, blob_.data(), nullptr, nullptr, 0, nullptr, nullptr, 0);
    if (e == CUDA_SUCCESS && (h = handles_.insert(ObjType::kLibrary, lib)) == 0) {
      d_.LibraryUnload(lib);
      e = CUDA_ERROR_OUT_OF_MEMORY;
    }
  }
  blob_.clear();
  blob_.shrink_to_fit();
  if (e != CUDA_SUCCESS) {
    uncharge(image_charge);
    return e;
  }
  module_charges_[h] = image_charge;
  reply.set(U64Rsp{h});
  return CUDA_SUCCESS;
}

CUresult Worker::on(OpTag<Op::ModuleUnload>, const HandleReq& r, std::span<const std::byte>, Reply&) {
  auto* e = handles_.find(r.handle, ObjType::kModule);
  if (!e) return CUDA_ERROR_INVALID_HANDLE;
  // A library's module (cuLibraryGetModule) belongs to the library and goes with cuLibraryUnload.
  if (library_modules_.contains(r.handle)) return CUDA_ERROR_INVALID_HANDLE;
  if (CUresult err = use_parent_ctx(*e); err != CUDA_SUCCESS) return err;
  if (CUresult err = d_.ModuleUnload(static_cast<CUmodule>(e->object)); err != CUDA_SUCCESS) return err;
  forget_children(r.handle);
  release_module_charge(r.handle);
  handles_.erase(r.handle);
  return CUDA_SUCCESS;
}

CUresult Worker::on(OpTag<Op::ModuleGetFunction>, const NamedReq& r, std::span<const std::byte> tail, Reply& reply) {
  auto* e = handles_.find(r.handle, ObjType::kModule);
  if (!e) return CUDA_ERROR_INVALID_HANDLE;
  if (CUresult err = use_parent_ctx(*e); err != CUDA_SUCCESS) return err;
  CUfunction f = nullptr;
  if (CUresult err = d_.ModuleGetFunction(&f, static_cast<CUmodule>(e->object), name_of(tail).c_str());
      err != CUDA_SUCCESS)
    return err;
  return learn_function(f, r.handle, reply);
}

CUresult Worker::on(OpTag<Op::ModuleGetGlobal>, const NamedReq& r, std::span<const std::byte> tail, Reply& reply) {
  auto* e = handles_.find(r.handle, ObjType::kModule);
  if (!e) return CUDA_ERROR_INVALID_HANDLE;
  if (CUresult err = use_parent_ctx(*e); err != CUDA_SUCCESS) return err;
  CUdeviceptr p = 0;
  size_t bytes = 0;
  if (CUresult err = d_.ModuleGetGlobal(&p, &bytes, static_cast<CUmodule>(e->object), name_of(tail).c_str());
      err != CUDA_SUCCESS)
    return err;
  // A module global is device memory the zone may copy to and from; it belongs to the module.
  if (!allocs_.containing(p, bytes)) (void)allocs_.insert({p, bytes, AllocKind::kGlobal, r.handle, 0});
  reply.set(GlobalRsp{p, bytes});
  return CUDA_SUCCESS;
}

CUresult Worker::on(OpTag<Op::LibraryUnload>, const HandleReq& r, std::span<const std::byte>, Reply&) {
  auto* e = handles_.find(r.handle, ObjType::kLibrary);
  if (!e) return CUDA_ERROR_INVALID_HANDLE;
  if (CUresult err = d_.LibraryUnload(static_cast<CUlibrary>(e->object)); err != CUDA_SUCCESS) return err;
  std::erase_if(library_modules_, [&](const auto& kv) {
    if (kv.second != r.handle) return false;
    if (handles_.find(kv.first, ObjType::kModule)) {
      forget_children(kv.first);
      handles_.erase(kv.first);
    }
    return true;
  });
  forget_children(r.handle);
  release_module_charge(r.handle);
  handles_.erase(r.handle);
  return CUDA_SUCCESS;
}

CUresult Worker::on(OpTag<Op::LibraryGetKernel>, const NamedReq& r, std::span<const std::byte> tail, Reply& reply) {
  auto* e = handles_.find(r.handle, ObjType::kLibrary);
  if (!e) return CUDA_ERROR_INVALID_HANDLE;
  CUkernel k = nullptr;
  if (CUresult err = d_.LibraryGetKernel(&k, static_cast<CUlibrary>(e->object), name_of(tail).c_str());
      err != CUDA_SUCCESS)
    return err;
  uint64_t h = handles_.handle_of(ObjType::kKernel, k);
  if (h == 0) {
    if (CUresult err = admit(Limit::functions); err != CUDA_SUCCESS) return err;
    if ((h = handles_.insert(ObjType::kKernel, k, r.handle)) == 0) return CUDA_ERROR_OUT_OF_MEMORY;
  }
  reply.set(U64Rsp{h});
  return CUDA_SUCCESS;
}

CUresult Worker::on(OpTag<Op::LibraryGetModule>, const CtxHandleReq& r, std::span<const std::byte>, Reply& reply) {
  auto* e = handles_.find(r.handle, ObjType::kLibrary);
  if (!e) return CUDA_ERROR_INVALID_HANDLE;
  if (CUresult err = use_ctx(r.ctx); err != CUDA_SUCCESS) return err;
  CUmodule m = nullptr;
  if (CUresult err = d_.LibraryGetModule(&m, static_cast<CUlibrary>(e->object)); err != CUDA_SUCCESS) return err;
  uint64_t h = handles_.handle_of(ObjType::kModule, m);
  if (h == 0) {
    if (CUresult err = admit(Limit::modules); err != CUDA_SUCCESS) return err;
    if ((h = handles_.insert(ObjType::kModule, m, r.ctx)) == 0) return CUDA_ERROR_OUT_OF_MEMORY;
    library_modules_[h] = r.handle;
  }
  reply.set(U64Rsp{h});
  return CUDA_SUCCESS;
}

CUresult Worker::on(OpTag<Op::KernelGetFunction>, const CtxHandleReq& r, std::span<const std::byte>, Reply& reply) {
  auto* e = handles_.find(r.handle, ObjType::kKernel);
  if (!e) return CUDA_ERROR_INVALID_HANDLE;
  if (CUresult err = use_ctx(r.ctx); err != CUDA_SUCCESS) return err;  // a kernel's function in the caller's context
  CUfunction f = nullptr;
  if (CUresult err = d_.KernelGetFunction(&f, static_cast<CUkernel>(e->object)); err != CUDA_SUCCESS) return err;
  return learn_function(f, r.handle, reply);
}

CUresult Worker::on(OpTag<Op::FuncGetAttribute>, const FuncAttrReq& r, std::span<const std::byte>, Reply& reply) {
  auto* e = handles_.find(r.function, ObjType::kFunction);
  if (!e) return CUDA_ERROR_INVALID_HANDLE;
  if (r.attrib < 0 || r.attrib >= CU_FUNC_ATTRIBUTE_MAX) return CUDA_ERROR_INVALID_VALUE;
  int v = 0;
  if (CUresult err = d_.FuncGetAttribute(&v, static_cast<CUfunction_attribute>(r.attrib),
                                         static_cast<CUfunction>(e->object));
      err != CUDA_SUCCESS)
    return err;
  reply.set(I32Rsp{v, 0});
  return CUDA_SUCCESS;
}

CUresult Worker::on(OpTag<Op::FuncSetAttribute>, const FuncAttrReq& r, std::span<const std::byte>, Reply&) {
  auto* e = handles_.find(r.function, ObjType::kFunction);
  if (!e) return CUDA_ERROR_INVALID_HANDLE;
  if (r.attrib < 0 || r.attrib >= CU_FUNC_ATTRIBUTE_MAX) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult err = use_parent_ctx(*e); err != CUDA_SUCCESS) return err;
  return d_.FuncSetAttribute(static_cast<CUfunction>(e->object), static_cast<CUfunction_attribute>(r.attrib),
                             r.value);
}

namespace {
// Launch attributes a zone may set: plain values, no pointers or handles inside.
bool attribute_allowed(uint32_t id) {
  switch (id) {
    case CU_LAUNCH_ATTRIBUTE_IGNORE:
    case CU_LAUNCH_ATTRIBUTE_COOPERATIVE:
    case CU_LAUNCH_ATTRIBUTE_SYNCHRONIZATION_POLICY:
    case CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION:
    case CU_LAUNCH_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE:
    case CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION:
    case CU_LAUNCH_ATTRIBUTE_PRIORITY:
    case CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN:
      return true;
    default:
      return false;  // access-policy windows carry addresses; events carry handles: not forwarded
  }
}
}  // namespace

CUresult Worker::on(OpTag<Op::LaunchKernel>, const LaunchReq& r, std::span<const std::byte> tail, Reply&) {
  auto* e = handles_.find(r.function, ObjType::kFunction);
  if (!e) return CUDA_ERROR_INVALID_HANDLE;
  const FunctionInfo& info = functions_[r.function];
  // The packed parameters must cover the function's layout, or the driver would read past our buffer.
  if (info.layout_known && r.param_bytes < info.param_bytes) return CUDA_ERROR_INVALID_VALUE;
  CUstream s = nullptr;
  if (CUresult err = stream_of(r.ctx, r.stream, s); err != CUDA_SUCCESS) return err;
  auto params = tail.subspan(size_t{r.attr_count} * kLaunchAttrBytes, r.param_bytes);
  size_t param_size = params.size();
  void* param_ptr = const_cast<std::byte*>(params.data());
  void* extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, param_ptr, CU_LAUNCH_PARAM_BUFFER_SIZE, &param_size,
                   CU_LAUNCH_PARAM_END};
  auto f = static_cast<CUfunction>(e->object);
  if (r.attr_count == 0) {
    return d_.LaunchKernel(f, r.grid[0], r.grid[1], r.grid[2], r.block[0], r.block[1], r.block[2], r.shared_bytes, s,
                           nullptr, param_size ? extra : nullptr);
  }
  CUlaunchAttribute attrs[kMaxLaunchAttrs];
  static_assert(sizeof(CUlaunchAttribute) == kLaunchAttrBytes);
  std::memcpy(attrs, tail.data(), size_t{r.attr_count} * kLaunchAttrBytes);
  for (uint32_t i = 0; i < r.attr_count; ++i)
    if (!attribute_allowed(attrs[i].id)) return CUDA_ERROR_NOT_SUPPORTED;
  CUlaunchConfig cfg{};
  cfg.gridDimX = r.grid[0];
  cfg.gridDimY = r.grid[1];
  cfg.gridDimZ = r.grid[2];
  cfg.blockDimX = r.block[0];
  cfg.blockDimY = r.block[1];
  cfg.blockDimZ = r.block[2];
  cfg.sharedMemBytes = r.shared_bytes;
  cfg.hStream = s;
  cfg.attrs = attrs;
  cfg.numAttrs = r.attr_count;
  return d_.LaunchKernelEx(&cfg, f, nullptr, param_size ? extra : nullptr);
}

CUresult Worker::on(OpTag<Op::OccupancyMaxActiveBlocks>, const OccupancyReq& r, std::span<const std::byte>,
                    Reply& reply) {
  auto* e = handles_.find(r.function, ObjType::kFunction);
  if (!e) return CUDA_ERROR_INVALID_HANDLE;
  if (r.flags != 0) return CUDA_ERROR_NOT_SUPPORTED;
  int blocks = 0;
  if (CUresult err = d_.OccupancyMaxActiveBlocks(&blocks, static_cast<CUfunction>(e->object), r.block_size,
                                                 r.dynamic_smem);
      err != CUDA_SUCCESS)
    return err;
  reply.set(OccupancyRsp{blocks, 0});
  return CUDA_SUCCESS;
}

CUresult Worker::on(OpTag<Op::OccupancyMaxPotentialBlockSize>, const OccupancyReq& r, std::span<const std::byte>,
                    Reply& reply) {
  auto* e = handles_.find(r.function, ObjType::kFunction);
  if (!e) return CUDA_ERROR_INVALID_HANDLE;
  if (r.flags != 0) return CUDA_ERROR_NOT_SUPPORTED;
  int grid = 0, block = 0;
  if (CUresult err = d_.OccupancyMaxPotentialBlockSize(&grid, &block, static_cast<CUfunction>(e->object), nullptr,
                                                       r.dynamic_smem, r.block_size_limit);
      err != CUDA_SUCCESS)
    return err;
  reply.set(OccupancyRsp{grid, block});
  return CUDA_SUCCESS;
}

}  // namespace xg::proxy
