// Streams and events: handles in the zone's table; work is ordered by the driver as usual.
#include <cstring>

#include "gpu-proxy/worker/worker.h"

namespace xg::proxy {

using namespace idm;

CUresult Worker::on(OpTag<Op::StreamCreate>, const StreamCreateReq& r, std::span<const std::byte>, Reply& reply) {
  if (CUresult e = use_ctx(r.ctx); e != CUDA_SUCCESS) return e;
  if (CUresult e = admit(Limit::streams); e != CUDA_SUCCESS) return e;
  CUstream s = nullptr;
  CUresult e = r.priority == 0 ? d_.StreamCreate(&s, r.flags) : d_.StreamCreateWithPriority(&s, r.flags, r.priority);
  if (e != CUDA_SUCCESS) return e;
  const uint64_t h = handles_.insert(ObjType::kStream, s, r.ctx);
  if (h == 0) {
    d_.StreamDestroy(s);
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  reply.set(U64Rsp{h});
  return CUDA_SUCCESS;
}

CUresult Worker::on(OpTag<Op::StreamDestroy>, const HandleReq& r, std::span<const std::byte>, Reply&) {
  auto* e = handles_.find(r.handle, ObjType::kStream);
  if (!e) return CUDA_ERROR_INVALID_HANDLE;
  if (CUresult err = use_parent_ctx(*e); err != CUDA_SUCCESS) return err;
  if (CUresult err = d_.StreamDestroy(static_cast<CUstream>(e->object)); err != CUDA_SUCCESS) return err;
  handles_.erase(r.handle);
  return CUDA_SUCCESS;
}

CUresult Worker::on(OpTag<Op::StreamSynchronize>, const StreamReq& r, std::span<const std::byte>, Reply&) {
  CUstream s = nullptr;
  if (CUresult e = stream_of(r.ctx, r.stream, s); e != CUDA_SUCCESS) return e;
  return d_.StreamSynchronize(s);
}

CUresult Worker::on(OpTag<Op::StreamQuery>, const StreamReq& r, std::span<const std::byte>, Reply&) {
  CUstream s = nullptr;
  if (CUresult e = stream_of(r.ctx, r.stream, s); e != CUDA_SUCCESS) return e;
  return d_.StreamQuery(s);
}

CUresult Worker::on(OpTag<Op::StreamWaitEvent>, const StreamWaitEventReq& r, std::span<const std::byte>, Reply&) {
  auto* ev = handles_.find(r.event, ObjType::kEvent);
  if (!ev) return CUDA_ERROR_INVALID_HANDLE;
  CUstream s = nullptr;
  if (CUresult e = stream_of(ev->parent, r.stream, s); e != CUDA_SUCCESS) return e;
  return d_.StreamWaitEvent(s, static_cast<CUevent>(ev->object), r.flags);
}

CUresult Worker::on(OpTag<Op::EventCreate>, const EventCreateReq& r, std::span<const std::byte>, Reply& reply) {
  if (CUresult e = use_ctx(r.ctx); e != CUDA_SUCCESS) return e;
  if (CUresult e = admit(Limit::events); e != CUDA_SUCCESS) return e;
  CUevent ev = nullptr;
  if (CUresult e = d_.EventCreate(&ev, r.flags); e != CUDA_SUCCESS) return e;
  const uint64_t h = handles_.insert(ObjType::kEvent, ev, r.ctx);
  if (h == 0) {
    d_.EventDestroy(ev);
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  reply.set(U64Rsp{h});
  return CUDA_SUCCESS;
}

CUresult Worker::on(OpTag<Op::EventRecord>, const EventRecordReq& r, std::span<const std::byte>, Reply&) {
  auto* ev = handles_.find(r.event, ObjType::kEvent);
  if (!ev) return CUDA_ERROR_INVALID_HANDLE;
  CUstream s = nullptr;
  if (CUresult e = stream_of(ev->parent, r.stream, s); e != CUDA_SUCCESS) return e;
  return d_.EventRecord(static_cast<CUevent>(ev->object), s);
}

CUresult Worker::on(OpTag<Op::EventSynchronize>, const HandleReq& r, std::span<const std::byte>, Reply&) {
  auto* ev = handles_.find(r.handle, ObjType::kEvent);
  if (!ev) return CUDA_ERROR_INVALID_HANDLE;
  return d_.EventSynchronize(static_cast<CUevent>(ev->object));
}

CUresult Worker::on(OpTag<Op::EventQuery>, const HandleReq& r, std::span<const std::byte>, Reply&) {
  auto* ev = handles_.find(r.handle, ObjType::kEvent);
  if (!ev) return CUDA_ERROR_INVALID_HANDLE;
  return d_.EventQuery(static_cast<CUevent>(ev->object));
}

CUresult Worker::on(OpTag<Op::EventElapsedTime>, const EventPairReq& r, std::span<const std::byte>, Reply& reply) {
  auto* a = handles_.find(r.start, ObjType::kEvent);
  auto* b = handles_.find(r.end, ObjType::kEvent);
  if (!a || !b) return CUDA_ERROR_INVALID_HANDLE;
  float ms = 0;
  if (CUresult e = d_.EventElapsedTime(&ms, static_cast<CUevent>(a->object), static_cast<CUevent>(b->object));
      e != CUDA_SUCCESS)
    return e;
  FloatRsp out{};
  std::memcpy(&out.bits, &ms, sizeof ms);
  reply.set(out);
  return CUDA_SUCCESS;
}

CUresult Worker::on(OpTag<Op::EventDestroy>, const HandleReq& r, std::span<const std::byte>, Reply&) {
  auto* ev = handles_.find(r.handle, ObjType::kEvent);
  if (!ev) return CUDA_ERROR_INVALID_HANDLE;
  if (CUresult e = d_.EventDestroy(static_cast<CUevent>(ev->object)); e != CUDA_SUCCESS) return e;
  handles_.erase(r.handle);
  return CUDA_SUCCESS;
}

}  // namespace xg::proxy
