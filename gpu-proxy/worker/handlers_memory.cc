// Device memory (quota-accounted), pinned host memory (shared pages), address queries.
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include "gpu-proxy/worker/worker.h"
#include "idm/log.h"

namespace xg::proxy {

using namespace idm;

namespace {
constexpr uint64_t kMaxPinnedBytes = 16ull << 30;  // per allocation; the driver refuses far less anyway
constexpr uint64_t kPage = 4096;
}  // namespace

CUresult Worker::on(OpTag<Op::MemAlloc>, const MemAllocReq& r, std::span<const std::byte>, Reply& reply) {
  if (CUresult e = use_ctx(r.ctx); e != CUDA_SUCCESS) return e;
  if (r.bytes == 0) return CUDA_ERROR_INVALID_VALUE;  // cuMemAlloc: bytesize 0 is invalid
  if (CUresult e = charge(r.bytes); e != CUDA_SUCCESS) return e;
  CUdeviceptr p = 0;
  if (CUresult e = d_.MemAlloc(&p, r.bytes); e != CUDA_SUCCESS) {
    uncharge(r.bytes);
    return e;
  }
  if (!allocs_.insert({p, r.bytes, AllocKind::kDevice, r.ctx, r.bytes})) {
    d_.MemFree(p);  // the driver handed out an overlapping range: never trust it into our map
    uncharge(r.bytes);
    return CUDA_ERROR_UNKNOWN;
  }
  reply.set(U64Rsp{p});
  return CUDA_SUCCESS;
}

CUresult Worker::on(OpTag<Op::MemAllocPitch>, const MemAllocPitchReq& r, std::span<const std::byte>, Reply& reply) {
  if (CUresult e = use_ctx(r.ctx); e != CUDA_SUCCESS) return e;
  // cuMemAllocPitch: ElementSizeBytes must be 4, 8 or 16; zero sizes are invalid.
  if (r.element_bytes != 4 && r.element_bytes != 8 && r.element_bytes != 16) return CUDA_ERROR_INVALID_VALUE;
  if (r.width_bytes == 0 || r.height == 0) return CUDA_ERROR_INVALID_VALUE;
  uint64_t rough = 0;
  if (__builtin_mul_overflow(r.width_bytes, r.height, &rough)) return CUDA_ERROR_OUT_OF_MEMORY;
  if (CUresult e = charge(rough); e != CUDA_SUCCESS) return e;  // a first check before the driver pads rows
  uncharge(rough);
  CUdeviceptr p = 0;
  size_t pitch = 0;
  if (CUresult e = d_.MemAllocPitch(&p, &pitch, r.width_bytes, r.height, r.element_bytes); e != CUDA_SUCCESS)
    return e;
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(uint64_t{pitch}, r.height, &bytes) || charge(bytes) != CUDA_SUCCESS) {
    d_.MemFree(p);
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  if (!allocs_.insert({p, bytes, AllocKind::kPitched, r.ctx, bytes})) {
    d_.MemFree(p);
    uncharge(bytes);
    return CUDA_ERROR_UNKNOWN;
  }
  reply.set(MemPitchRsp{p, pitch});
  return CUDA_SUCCESS;
}

CUresult Worker::on(OpTag<Op::MemFree>, const PtrReq& r, std::span<const std::byte>, Reply&) {
  // cuMemFree(0) does nothing, successfully (the CUDA runtime's cudaFree(NULL) relies on it).
  if (r.dptr == 0) return use_ctx(r.ctx);
  const Allocation* a = allocs_.containing(r.dptr, 0);
  // cuMemFree takes the base of an allocation; anything else (an interior pointer, a global, another zone's
  // address) is CUDA_ERROR_INVALID_VALUE.
  if (!a || a->base != r.dptr || (a->kind != AllocKind::kDevice && a->kind != AllocKind::kPitched))
    return CUDA_ERROR_INVALID_VALUE;
  if (CUresult e = use_ctx(a->owner); e != CUDA_SUCCESS) return e;
  if (CUresult e = d_.MemFree(r.dptr); e != CUDA_SUCCESS) return e;
  auto gone = allocs_.take(r.dptr);
  uncharge(gone->charged);
  return CUDA_SUCCESS;
}

CUresult Worker::on(OpTag<Op::MemGetInfo>, const CtxReq& r, std::span<const std::byte>, Reply& reply) {
  if (CUresult e = use_ctx(r.ctx); e != CUDA_SUCCESS) return e;
  size_t free = 0, total = 0;
  if (CUresult e = d_.MemGetInfo(&free, &total); e != CUDA_SUCCESS) return e;
  // The zone's view: its quota is the total; free is what all of its programs left of it (or less, if the GPU is
  // fuller).
  const uint64_t quota_total = std::min<uint64_t>(total, quota());
  const uint64_t used = zone_usage(*zone_).total();
  const uint64_t quota_free = quota_total > used ? quota_total - used : 0;
  reply.set(MemInfoRsp{std::min<uint64_t>(free, quota_free), quota_total});
  return CUDA_SUCCESS;
}

CUresult Worker::on(OpTag<Op::MemGetAddressRange>, const PtrReq& r, std::span<const std::byte>, Reply& reply) {
  const Allocation* a = allocs_.containing(r.dptr, 0);
  if (!a) return CUDA_ERROR_NOT_FOUND;  // cuMemGetAddressRange on an address that is not allocated
  reply.set(RangeRsp{a->base, a->size});
  return CUDA_SUCCESS;
}

CUresult Worker::on(OpTag<Op::MemHostAlloc>, const MemHostAllocReq& r, std::span<const std::byte> tail,
                    Reply& reply) {
  if (CUresult e = use_ctx(r.ctx); e != CUDA_SUCCESS) return e;
  constexpr uint32_t kKnown = CU_MEMHOSTALLOC_PORTABLE | CU_MEMHOSTALLOC_DEVICEMAP | CU_MEMHOSTALLOC_WRITECOMBINED;
  if (r.bytes == 0 || r.bytes > kMaxPinnedBytes || (r.flags & ~kKnown)) return CUDA_ERROR_INVALID_VALUE;
  // The zone names the pages its transport shares (idm/host_pages.h); the other kind is not on this transport.
  if (host_pages_ == nullptr || r.pages_from != static_cast<uint32_t>(host_pages_->kind()))
    return CUDA_ERROR_NOT_SUPPORTED;
  if (CUresult e = admit(Limit::host_allocs); e != CUDA_SUCCESS) return e;
  // Pages we allocate are driver-domain RAM; pages the zone lends are its own.
  const bool made_here = host_pages_->kind() == HostPages::kProxy;
  const uint64_t rounded = (r.bytes + kPage - 1) / kPage * kPage;
  if (made_here && rounded > limits_.pinned_bytes - std::min(pinned_used_, limits_.pinned_bytes))
    return CUDA_ERROR_OUT_OF_MEMORY;  // the zone's allowance of driver-domain RAM
  auto pages = host_pages_->obtain(r.bytes, tail);
  if (!pages)  // pages the zone cannot lend us (logged), or memory we cannot get
    return pages.error() == Error::kInvalidField ? CUDA_ERROR_INVALID_VALUE : CUDA_ERROR_OUT_OF_MEMORY;
  auto ha = std::make_unique<HostAlloc>();
  ha->pages = std::move(pages.value());
  ha->ctx = r.ctx;
  ha->made_here = made_here;
  // Registered with the driver, the shared pages are DMA-able: copies from/to them need no staging copy.
  unsigned reg_flags = CU_MEMHOSTREGISTER_PORTABLE;
  if (r.flags & CU_MEMHOSTALLOC_DEVICEMAP) reg_flags |= CU_MEMHOSTREGISTER_DEVICEMAP;
  CUresult reg = d_.MemHostRegister(ha->va(), ha->bytes(), reg_flags);
  ha->registered = reg == CUDA_SUCCESS;
  if (!ha->registered) {
    log_line("pinned allocation could not be registered with the driver (copies still work, staged)");
    if (r.flags & CU_MEMHOSTALLOC_DEVICEMAP) return reg;
  }
  auto unregister = [&] {
    if (ha->registered) d_.MemHostUnregister(ha->va());
  };
  if (r.flags & CU_MEMHOSTALLOC_DEVICEMAP) {
    CUdeviceptr dp = 0;
    if (CUresult e = d_.MemHostGetDevicePointer(&dp, ha->va(), 0); e != CUDA_SUCCESS) {
      unregister();
      return e;
    }
    ha->device_ptr = dp;
  }
  const uint64_t h = handles_.insert(ObjType::kHostAlloc, ha.get(), r.ctx);
  if (h == 0) {
    unregister();
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  if (ha->device_ptr) (void)allocs_.insert({ha->device_ptr, ha->bytes(), AllocKind::kHostMapped, h, 0});
  // The zone's view of pages made here goes first (shm: the memfd on the socket), the answer on the ring after.
  if (host_pages_->hand_over(h, *ha->pages) != Error::kOk) {
    unregister();
    (void)allocs_.take_owned_by(h);
    handles_.erase(h);
    return CUDA_ERROR_OPERATING_SYSTEM;
  }
  reply.set(MemHostAllocRsp{h, ha->bytes(), ha->device_ptr});
  if (made_here) pinned_used_ += ha->bytes();
  host_allocs_[h] = std::move(ha);
  return CUDA_SUCCESS;
}

CUresult Worker::on(OpTag<Op::MemFreeHost>, const HandleReq& r, std::span<const std::byte>, Reply&) {
  auto* e = handles_.find(r.handle, ObjType::kHostAlloc);
  if (!e) return CUDA_ERROR_INVALID_VALUE;  // cuMemFreeHost of something that is not a pinned allocation
  drop_host_alloc(r.handle, /*ctx_alive=*/true);
  (void)allocs_.take_owned_by(r.handle);
  handles_.erase(r.handle);
  return CUDA_SUCCESS;
}

CUresult Worker::on(OpTag<Op::PointerGetAttribute>, const PointerAttrReq& r, std::span<const std::byte>,
                    Reply& reply) {
  const Allocation* a = allocs_.containing(r.ptr, 0);
  if (!a) return CUDA_ERROR_INVALID_VALUE;  // not memory of this zone
  uint64_t value = 0;
  switch (r.attrib) {
    case CU_POINTER_ATTRIBUTE_CONTEXT: {
      // Answer with the zone's handle, never the driver's pointer.
      value = a->kind == AllocKind::kGlobal ? 0 : a->owner;
      if (a->kind == AllocKind::kHostMapped) {
        auto* e = handles_.find(a->owner, ObjType::kHostAlloc);
        value = e ? e->parent : 0;
      }
      if (value == 0) {
        CUcontext c = nullptr;
        if (CUresult e = d_.PointerGetAttribute(&c, CU_POINTER_ATTRIBUTE_CONTEXT, r.ptr); e != CUDA_SUCCESS) return e;
        value = handles_.handle_of(ObjType::kContext, c);
      }
      break;
    }
    case CU_POINTER_ATTRIBUTE_MEMORY_TYPE:
    case CU_POINTER_ATTRIBUTE_DEVICE_POINTER:
    case CU_POINTER_ATTRIBUTE_BUFFER_ID:
    case CU_POINTER_ATTRIBUTE_IS_MANAGED:
    case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL:
    case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR:
    case CU_POINTER_ATTRIBUTE_RANGE_SIZE:
    case CU_POINTER_ATTRIBUTE_MAPPED: {
      if (a->kind == AllocKind::kDevice || a->kind == AllocKind::kPitched)
        if (CUresult e = use_ctx(a->owner); e != CUDA_SUCCESS) return e;
      if (CUresult e = d_.PointerGetAttribute(&value, static_cast<CUpointer_attribute>(r.attrib), r.ptr);
          e != CUDA_SUCCESS)
        return e;
      break;
    }
    default:
      return CUDA_ERROR_NOT_SUPPORTED;  // attributes that would expose host addresses or IPC state
  }
  reply.set(PointerAttrRsp{value});
  return CUDA_SUCCESS;
}

}  // namespace xg::proxy
