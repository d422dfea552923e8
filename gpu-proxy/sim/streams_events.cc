// Streams (one worker thread each, in-order) and events (timestamps taken by the stream worker).
//
// Legacy default stream semantics (as documented for CU_STREAM_LEGACY): work submitted to the NULL stream waits
// for all work already submitted to the context's blocking streams (flags CU_STREAM_DEFAULT), and work submitted
// to a blocking stream waits for work already submitted to the NULL stream. CU_STREAM_NON_BLOCKING streams do
// neither. Simplification: CU_STREAM_PER_THREAD is treated as the legacy NULL stream.
#include <algorithm>

#include "sim_internal.h"

namespace xg::sim {

CUresult resolve_stream_locked(Driver& d, const Context& c, CUstream h, std::shared_ptr<Stream>* out) {
  if (h == nullptr || h == CU_STREAM_LEGACY || h == CU_STREAM_PER_THREAD) {
    *out = c.null_stream;
    return CUDA_SUCCESS;
  }
  auto s = d.streams.get(id_of(h));
  if (!s) return CUDA_ERROR_INVALID_HANDLE;
  *out = std::move(s);
  return CUDA_SUCCESS;
}

uint64_t submit_locked(Driver& d, const Context& c, const std::shared_ptr<Stream>& s, Stream::Op op) {
  // Dependencies are captured before enqueueing and always point at earlier work: the wait graph is acyclic.
  std::vector<std::pair<std::shared_ptr<Stream>, uint64_t>> deps;
  if (s->legacy) {
    for (uint64_t h : c.streams) {
      auto other = d.streams.get(h);
      if (other && (other->flags & CU_STREAM_NON_BLOCKING) == 0) deps.emplace_back(other, other->last_enqueued());
    }
  } else if ((s->flags & CU_STREAM_NON_BLOCKING) == 0 && c.null_stream) {
    deps.emplace_back(c.null_stream, c.null_stream->last_enqueued());
  }
  std::erase_if(deps, [](const auto& dep) { return dep.first->done(dep.second); });
  if (deps.empty()) return s->enqueue(std::move(op));
  return s->enqueue([deps = std::move(deps), op = std::move(op)] {
    for (const auto& [other, seq] : deps) other->wait(seq);
    op();
  });
}

}  // namespace xg::sim

using namespace xg::sim;

namespace {

CUresult create_stream(CUstream* ph, unsigned flags, int priority) {
  Driver& d = driver();
  std::lock_guard lk(d.mu);
  std::shared_ptr<Context> c;
  if (CUresult r = current_context_locked(d, &c); r != CUDA_SUCCESS) return r;
  if (ph == nullptr || (flags & ~unsigned(CU_STREAM_NON_BLOCKING)) != 0) return CUDA_ERROR_INVALID_VALUE;
  priority = std::clamp(priority, -5, 0);  // the device's range is [-5, 0]; values outside are clamped
  const uint64_t h = d.new_handle(Tag::stream);
  d.streams.put(h, std::make_shared<Stream>(h, c->handle, flags, priority, /*legacy=*/false));
  c->streams.push_back(h);
  *ph = handle_of<CUstream>(h);
  return CUDA_SUCCESS;
}

// Resolves the current context and an event handle.
CUresult lookup_event_locked(Driver& d, CUevent h, std::shared_ptr<Event>* out) {
  XG_SIM_REQUIRE_INIT(d);
  auto e = d.events.get(id_of(h));
  if (!e) return CUDA_ERROR_INVALID_HANDLE;
  *out = std::move(e);
  return CUDA_SUCCESS;
}

}  // namespace

// --- streams ---------------------------------------------------------------------------------------------------

XG_SIM_EXPORT_C CUresult cuStreamCreate(CUstream* phStream, unsigned int flags) {
  return create_stream(phStream, flags, 0);
}

XG_SIM_EXPORT_C CUresult cuCtxGetStreamPriorityRange(int* least, int* greatest) {
  Driver& d = driver();
  std::lock_guard lk(d.mu);
  std::shared_ptr<Context> c;
  if (CUresult r = current_context_locked(d, &c); r != CUDA_SUCCESS) return r;
  if (least != nullptr) *least = 0;  // the range create_stream clamps to
  if (greatest != nullptr) *greatest = -5;
  return CUDA_SUCCESS;
}

XG_SIM_EXPORT_C CUresult cuStreamCreateWithPriority(CUstream* phStream, unsigned int flags, int priority) {
  return create_stream(phStream, flags, priority);
}

// Simplification: waits for the stream's pending work before returning (the driver returns at once and frees
// the stream later); the observable results are the same.
XG_SIM_EXPORT_C CUresult cuStreamDestroy_v2(CUstream hStream) {
  Driver& d = driver();
  std::unique_lock lk(d.mu);
  XG_SIM_REQUIRE_INIT(d);
  if (hStream == nullptr || hStream == CU_STREAM_LEGACY || hStream == CU_STREAM_PER_THREAD)
    return CUDA_ERROR_INVALID_HANDLE;
  auto s = d.streams.take(id_of(hStream));
  if (!s) return CUDA_ERROR_INVALID_HANDLE;
  if (auto c = d.contexts.get(s->context)) std::erase(c->streams, s->handle);
  lk.unlock();
  s->shutdown();
  return CUDA_SUCCESS;
}

XG_SIM_EXPORT_C CUresult cuStreamSynchronize(CUstream hStream) {
  Driver& d = driver();
  std::unique_lock lk(d.mu);
  std::shared_ptr<Context> c;
  if (CUresult r = current_context_locked(d, &c); r != CUDA_SUCCESS) return r;
  std::shared_ptr<Stream> s;
  if (CUresult r = resolve_stream_locked(d, *c, hStream, &s); r != CUDA_SUCCESS) return r;
  lk.unlock();
  s->sync();
  return CUDA_SUCCESS;
}

XG_SIM_EXPORT_C CUresult cuStreamQuery(CUstream hStream) {
  Driver& d = driver();
  std::lock_guard lk(d.mu);
  std::shared_ptr<Context> c;
  if (CUresult r = current_context_locked(d, &c); r != CUDA_SUCCESS) return r;
  std::shared_ptr<Stream> s;
  if (CUresult r = resolve_stream_locked(d, *c, hStream, &s); r != CUDA_SUCCESS) return r;
  return s->done(s->last_enqueued()) ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;
}

XG_SIM_EXPORT_C CUresult cuStreamWaitEvent(CUstream hStream, CUevent hEvent, unsigned int flags) {
  Driver& d = driver();
  std::lock_guard lk(d.mu);
  std::shared_ptr<Context> c;
  if (CUresult r = current_context_locked(d, &c); r != CUDA_SUCCESS) return r;
  if (flags & ~unsigned(CU_EVENT_WAIT_EXTERNAL)) return CUDA_ERROR_INVALID_VALUE;
  std::shared_ptr<Stream> s;
  if (CUresult r = resolve_stream_locked(d, *c, hStream, &s); r != CUDA_SUCCESS) return r;
  std::shared_ptr<Event> e;
  if (CUresult r = lookup_event_locked(d, hEvent, &e); r != CUDA_SUCCESS) return r;
  if (!e->recorded) return CUDA_SUCCESS;  // waiting on a never-recorded event is a no-op
  EventRecord rec = e->last;
  if (rec.stream == s) return CUDA_SUCCESS;  // same stream: already ordered
  submit_locked(d, *c, s, [rec] { rec.stream->wait(rec.seq); });
  return CUDA_SUCCESS;
}

// --- events ----------------------------------------------------------------------------------------------------

XG_SIM_EXPORT_C CUresult cuEventCreate(CUevent* phEvent, unsigned int flags) {
  Driver& d = driver();
  std::lock_guard lk(d.mu);
  std::shared_ptr<Context> c;
  if (CUresult r = current_context_locked(d, &c); r != CUDA_SUCCESS) return r;
  constexpr unsigned kKnown = CU_EVENT_BLOCKING_SYNC | CU_EVENT_DISABLE_TIMING | CU_EVENT_INTERPROCESS;
  if (phEvent == nullptr || (flags & ~kKnown) != 0) return CUDA_ERROR_INVALID_VALUE;
  // The driver requires DISABLE_TIMING with INTERPROCESS.
  if ((flags & CU_EVENT_INTERPROCESS) && !(flags & CU_EVENT_DISABLE_TIMING)) return CUDA_ERROR_INVALID_VALUE;
  auto e = std::make_shared<Event>();
  e->handle = d.new_handle(Tag::event);
  e->context = c->handle;
  e->flags = flags;
  d.events.put(e->handle, e);
  c->events.push_back(e->handle);
  *phEvent = handle_of<CUevent>(e->handle);
  return CUDA_SUCCESS;
}

XG_SIM_EXPORT_C CUresult cuEventRecord(CUevent hEvent, CUstream hStream) {
  Driver& d = driver();
  std::lock_guard lk(d.mu);
  std::shared_ptr<Context> c;
  if (CUresult r = current_context_locked(d, &c); r != CUDA_SUCCESS) return r;
  std::shared_ptr<Event> e;
  if (CUresult r = lookup_event_locked(d, hEvent, &e); r != CUDA_SUCCESS) return r;
  std::shared_ptr<Stream> s;
  if (CUresult r = resolve_stream_locked(d, *c, hStream, &s); r != CUDA_SUCCESS) return r;
  auto stamp = std::make_shared<int64_t>(0);
  const uint64_t seq = submit_locked(d, *c, s, [stamp] { *stamp = now_ns(); });
  e->recorded = true;
  e->last = EventRecord{s, seq, std::move(stamp)};
  return CUDA_SUCCESS;
}

XG_SIM_EXPORT_C CUresult cuEventQuery(CUevent hEvent) {
  Driver& d = driver();
  std::lock_guard lk(d.mu);
  std::shared_ptr<Event> e;
  if (CUresult r = lookup_event_locked(d, hEvent, &e); r != CUDA_SUCCESS) return r;
  if (!e->recorded) return CUDA_SUCCESS;
  return e->last.stream->done(e->last.seq) ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;
}

XG_SIM_EXPORT_C CUresult cuEventSynchronize(CUevent hEvent) {
  Driver& d = driver();
  std::unique_lock lk(d.mu);
  std::shared_ptr<Event> e;
  if (CUresult r = lookup_event_locked(d, hEvent, &e); r != CUDA_SUCCESS) return r;
  if (!e->recorded) return CUDA_SUCCESS;
  EventRecord rec = e->last;
  lk.unlock();
  rec.stream->wait(rec.seq);
  return CUDA_SUCCESS;
}

XG_SIM_EXPORT_C CUresult cuEventElapsedTime(float* pMilliseconds, CUevent hStart, CUevent hEnd) {
  Driver& d = driver();
  std::lock_guard lk(d.mu);
  if (pMilliseconds == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::shared_ptr<Event> a, b;
  if (CUresult r = lookup_event_locked(d, hStart, &a); r != CUDA_SUCCESS) return r;
  if (CUresult r = lookup_event_locked(d, hEnd, &b); r != CUDA_SUCCESS) return r;
  if ((a->flags | b->flags) & CU_EVENT_DISABLE_TIMING) return CUDA_ERROR_INVALID_HANDLE;
  if (!a->recorded || !b->recorded) return CUDA_ERROR_INVALID_HANDLE;
  if (!a->last.stream->done(a->last.seq) || !b->last.stream->done(b->last.seq)) return CUDA_ERROR_NOT_READY;
  // done() synchronised with the worker's completion, so the stamps are visible.
  *pMilliseconds = static_cast<float>(double(*b->last.stamp_ns - *a->last.stamp_ns) / 1e6);
  return CUDA_SUCCESS;
}

XG_SIM_EXPORT_C CUresult cuEventDestroy_v2(CUevent hEvent) {
  Driver& d = driver();
  std::lock_guard lk(d.mu);
  XG_SIM_REQUIRE_INIT(d);
  auto e = d.events.take(id_of(hEvent));
  if (!e) return CUDA_ERROR_INVALID_HANDLE;
  if (auto c = d.contexts.get(e->context)) std::erase(c->events, e->handle);
  return CUDA_SUCCESS;
}
