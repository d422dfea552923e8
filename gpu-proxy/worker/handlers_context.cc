// Primary contexts and created contexts. The zone's per-thread current-context stack lives in libvgpu; here a
// context is a handle, made current on the worker's one thread before each call that needs it.
#include "gpu-proxy/worker/worker.h"

namespace xg::proxy {

using namespace idm;

CUresult Worker::on(OpTag<Op::PrimaryCtxRetain>, const DeviceOnlyReq& r, std::span<const std::byte>,
                    Reply& reply) {
  if (r.dev < 0 || r.dev >= device_count_) return CUDA_ERROR_INVALID_DEVICE;
  Primary& p = primaries_[r.dev];
  const bool new_context = p.handle == 0 || !handles_.find(p.handle, ObjType::kContext);
  if (new_context)
    if (CUresult e = admit(Limit::contexts); e != CUDA_SUCCESS) return e;
  // The first retain makes the driver create the context: its memory counts against the zone's quota.
  const bool creates = p.retains == 0;
  if (creates)
    if (CUresult e = charge_context(); e != CUDA_SUCCESS) return e;
  CUcontext ctx = nullptr;
  if (CUresult e = d_.PrimaryCtxRetain(&ctx, r.dev); e != CUDA_SUCCESS) {
    if (creates) uncharge_context();
    return e;
  }
  if (new_context) {
    p.handle = handles_.insert(ObjType::kContext, ctx);
    if (p.handle == 0) {
      d_.PrimaryCtxRelease(r.dev);
      if (creates) uncharge_context();
      return CUDA_ERROR_OUT_OF_MEMORY;
    }
  }
  handles_.find(p.handle, ObjType::kContext)->object = ctx;
  ++p.retains;
  reply.set(CtxRsp{p.handle});
  return CUDA_SUCCESS;
}

// The device's primary context handle without retaining it (what the CUDA runtime asks for while it enumerates
// devices): the driver's context appears at the first retain; until then the handle names no driver object, and
// calls made in it answer CUDA_ERROR_INVALID_CONTEXT (use_ctx).
CUresult Worker::on(OpTag<Op::PrimaryCtxHandle>, const DeviceOnlyReq& r, std::span<const std::byte>, Reply& reply) {
  if (r.dev < 0 || r.dev >= device_count_) return CUDA_ERROR_INVALID_DEVICE;
  Primary& p = primaries_[r.dev];
  if (p.handle == 0 || !handles_.find(p.handle, ObjType::kContext)) {
    if (CUresult e = admit(Limit::contexts); e != CUDA_SUCCESS) return e;
    p.handle = handles_.insert(ObjType::kContext, nullptr);
    if (p.handle == 0) return CUDA_ERROR_OUT_OF_MEMORY;
  }
  reply.set(CtxRsp{p.handle});
  return CUDA_SUCCESS;
}

CUresult Worker::on(OpTag<Op::PrimaryCtxRelease>, const DeviceOnlyReq& r, std::span<const std::byte>, Reply&) {
  if (r.dev < 0 || r.dev >= device_count_) return CUDA_ERROR_INVALID_DEVICE;
  Primary& p = primaries_[r.dev];
  if (p.retains == 0) return CUDA_ERROR_INVALID_CONTEXT;  // released more often than retained
  if (CUresult e = d_.PrimaryCtxRelease(r.dev); e != CUDA_SUCCESS) return e;
  if (--p.retains == 0) {
    // The driver destroyed the primary context and everything in it.
    uncharge_context();
    forget_children(p.handle);
    if (current_ctx_ == p.handle) current_ctx_ = 0;
  }
  return CUDA_SUCCESS;
}

CUresult Worker::on(OpTag<Op::PrimaryCtxReset>, const DeviceOnlyReq& r, std::span<const std::byte>, Reply&) {
  if (r.dev < 0 || r.dev >= device_count_) return CUDA_ERROR_INVALID_DEVICE;
  if (CUresult e = d_.PrimaryCtxReset(r.dev); e != CUDA_SUCCESS) return e;
  Primary& p = primaries_[r.dev];
  if (p.handle) forget_children(p.handle);
  if (p.retains > 0) uncharge_context();
  p.retains = 0;
  current_ctx_ = 0;
  return CUDA_SUCCESS;
}

CUresult Worker::on(OpTag<Op::PrimaryCtxGetState>, const DeviceOnlyReq& r, std::span<const std::byte>,
                    Reply& reply) {
  if (r.dev < 0 || r.dev >= device_count_) return CUDA_ERROR_INVALID_DEVICE;
  unsigned int flags = 0;
  int active = 0;
  if (CUresult e = d_.PrimaryCtxGetState(r.dev, &flags, &active); e != CUDA_SUCCESS) return e;
  reply.set(PrimaryCtxStateRsp{flags, active});
  return CUDA_SUCCESS;
}

CUresult Worker::on(OpTag<Op::PrimaryCtxSetFlags>, const DeviceOnlyReq& r, std::span<const std::byte>, Reply&) {
  if (r.dev < 0 || r.dev >= device_count_) return CUDA_ERROR_INVALID_DEVICE;
  return d_.PrimaryCtxSetFlags(r.dev, r.flags);
}

CUresult Worker::on(OpTag<Op::CtxCreate>, const CtxCreateReq& r, std::span<const std::byte>, Reply& reply) {
  if (r.dev < 0 || r.dev >= device_count_) return CUDA_ERROR_INVALID_DEVICE;
  if (CUresult e = admit(Limit::contexts); e != CUDA_SUCCESS) return e;
  if (CUresult e = charge_context(); e != CUDA_SUCCESS) return e;
  CUcontext ctx = nullptr;
  if (CUresult e = d_.CtxCreate(&ctx, r.flags, r.dev); e != CUDA_SUCCESS) {
    uncharge_context();
    return e;
  }
  const uint64_t h = handles_.insert(ObjType::kContext, ctx);
  if (h == 0) {
    d_.CtxDestroy(ctx);
    uncharge_context();
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  current_ctx_ = h;  // cuCtxCreate makes the new context current (on our thread as on the zone's)
  reply.set(CtxRsp{h});
  return CUDA_SUCCESS;
}

CUresult Worker::on(OpTag<Op::CtxDestroy>, const CtxReq& r, std::span<const std::byte>, Reply&) {
  auto* e = handles_.find(r.ctx, ObjType::kContext);
  if (!e) return CUDA_ERROR_INVALID_CONTEXT;
  for (const Primary& p : primaries_)
    if (p.handle == r.ctx) return CUDA_ERROR_INVALID_CONTEXT;  // primary contexts are released, not destroyed
  if (CUresult err = d_.CtxDestroy(static_cast<CUcontext>(e->object)); err != CUDA_SUCCESS) return err;
  uncharge_context();
  forget_children(r.ctx);
  handles_.erase(r.ctx);
  if (current_ctx_ == r.ctx) current_ctx_ = 0;
  return CUDA_SUCCESS;
}

CUresult Worker::on(OpTag<Op::CtxSynchronize>, const CtxReq& r, std::span<const std::byte>, Reply&) {
  if (CUresult e = use_ctx(r.ctx); e != CUDA_SUCCESS) return e;
  return d_.CtxSynchronize();
}

CUresult Worker::on(OpTag<Op::CtxGetLimit>, const CtxLimitReq& r, std::span<const std::byte>, Reply& reply) {
  if (CUresult e = use_ctx(r.ctx); e != CUDA_SUCCESS) return e;
  size_t v = 0;
  if (CUresult e = d_.CtxGetLimit(&v, static_cast<CUlimit>(r.limit)); e != CUDA_SUCCESS) return e;
  reply.set(U64Rsp{v});
  return CUDA_SUCCESS;
}

CUresult Worker::on(OpTag<Op::CtxSetLimit>, const CtxLimitReq& r, std::span<const std::byte>, Reply&) {
  if (CUresult e = use_ctx(r.ctx); e != CUDA_SUCCESS) return e;
  // Limits that reserve device memory (malloc heap, stack, printf FIFO) are bounded by the zone's quota.
  if (r.value > quota()) return CUDA_ERROR_INVALID_VALUE;
  return d_.CtxSetLimit(static_cast<CUlimit>(r.limit), r.value);
}

CUresult Worker::on(OpTag<Op::CtxGetApiVersion>, const CtxReq& r, std::span<const std::byte>, Reply& reply) {
  auto* e = handles_.find(r.ctx, ObjType::kContext);
  if (!e) return CUDA_ERROR_INVALID_CONTEXT;
  unsigned int v = 0;
  if (CUresult err = d_.CtxGetApiVersion(static_cast<CUcontext>(e->object), &v); err != CUDA_SUCCESS) return err;
  reply.set(U32Rsp{v, 0});
  return CUDA_SUCCESS;
}

CUresult Worker::on(OpTag<Op::CtxGetStreamPriorityRange>, const CtxReq& r, std::span<const std::byte>,
                    Reply& reply) {
  if (CUresult e = use_ctx(r.ctx); e != CUDA_SUCCESS) return e;
  int least = 0, greatest = 0;
  if (CUresult e = d_.CtxGetStreamPriorityRange(&least, &greatest); e != CUDA_SUCCESS) return e;
  reply.set(PriorityRangeRsp{least, greatest});
  return CUDA_SUCCESS;
}

CUresult Worker::on(OpTag<Op::CtxGetFlags>, const CtxReq& r, std::span<const std::byte>, Reply& reply) {
  if (CUresult e = use_ctx(r.ctx); e != CUDA_SUCCESS) return e;
  unsigned int flags = 0;
  if (CUresult e = d_.CtxGetFlags(&flags); e != CUDA_SUCCESS) return e;
  reply.set(U32Rsp{flags, 0});
  return CUDA_SUCCESS;
}

}  // namespace xg::proxy
