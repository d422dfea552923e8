#include "gpu-proxy/worker/worker.h"

#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <string>

#include "gpu-proxy/op_profile.h"
#include "idm/log.h"

namespace xg::proxy {

using idm::Error;
using idm::Op;

Worker::Worker(DriverApi& driver, idm::Endpoint& endpoint, WorkerLimits limits, ControlPage* control,
               ZonePage* zone, int slot)
    : d_(driver),
      ch_(endpoint.channel),
      host_pages_(endpoint.proxy_pages.get()),
      limits_(limits),
      control_(control),
      zone_(zone),
      slot_(slot) {
  if (zone_ == nullptr) {
    own_zone_ = std::make_unique<ZonePage>();
    init_zone_page(*own_zone_);
    own_zone_->quota_bytes.store(limits_.quota_bytes);
    zone_ = own_zone_.get();
    slot_ = claim_slot(*zone_);
    zone_->slots[slot_].serving.store(1);
  }
  rx_.resize(ch_.geometry().max_payload);
  scratch_.resize(64 * 1024);
}

Worker::~Worker() { release_driver_objects(); }

// Everything the zone made the driver hold, given back while the driver is alive: a worker process exits right
// after (the driver would reclaim it all anyway), but a Worker that is replaced in-process (the fuzz harness)
// must not leave contexts, with their streams and memory, behind.
void Worker::release_driver_objects() {
  // Pinned allocations first, unregistered while their context lives; then the data area's registration.
  while (!host_allocs_.empty()) drop_host_alloc(host_allocs_.begin()->first, /*ctx_alive=*/true);
  if (data_area_ctx_ != 0 && use_ctx(data_area_ctx_) == CUDA_SUCCESS) d_.MemHostUnregister(ch_.data().data());
  data_area_ctx_ = 0;
  // Created contexts: destroying one frees its memory, modules, streams and events in the driver.
  for (uint64_t h : handles_.of_type(ObjType::kContext)) {
    const bool primary = std::any_of(primaries_.begin(), primaries_.end(), [&](const Primary& p) { return p.handle == h; });
    if (!primary) d_.CtxDestroy(static_cast<CUcontext>(handles_.find(h, ObjType::kContext)->object));
  }
  for (size_t dev = 0; dev < primaries_.size(); ++dev)
    for (; primaries_[dev].retains > 0; --primaries_[dev].retains) d_.PrimaryCtxRelease(static_cast<CUdevice>(dev));
  // Libraries belong to no context.
  for (uint64_t h : handles_.of_type(ObjType::kLibrary)) d_.LibraryUnload(static_cast<CUlibrary>(handles_.find(h, ObjType::kLibrary)->object));
  d_.CtxSetCurrent(nullptr);
  current_ctx_ = 0;
}

CUresult Worker::admit(Limit l) {
  size_t live = 0;
  switch (l) {
    case Limit::contexts: live = handles_.live_count(ObjType::kContext); break;
    case Limit::streams: live = handles_.live_count(ObjType::kStream); break;
    case Limit::events: live = handles_.live_count(ObjType::kEvent); break;
    case Limit::modules: live = handles_.live_count(ObjType::kModule) + handles_.live_count(ObjType::kLibrary); break;
    case Limit::functions:
      live = handles_.live_count(ObjType::kFunction) + handles_.live_count(ObjType::kKernel);
      break;
    case Limit::host_allocs: live = handles_.live_count(ObjType::kHostAlloc); break;
    case Limit::async_ops:
    case Limit::count_: return CUDA_SUCCESS;  // not an object count (count_async_op)
  }
  if (live < limits_.objects[l]) return CUDA_SUCCESS;
  // The first refusal of each kind, then every 1000th: a zone looping on its limit cannot flood the log.
  const uint64_t n = ++limit_refusals_[static_cast<size_t>(l)];
  if (n == 1 || n % 1000 == 0)
    idm::log_line("limit " + std::string(limit_name(l)) + "=" + std::to_string(limits_.objects[l]) + " reached (" +
                  std::string(limit_what(l)) + "): CUDA_ERROR_OUT_OF_MEMORY (refusal #" + std::to_string(n) + ")");
  return CUDA_ERROR_OUT_OF_MEMORY;
}

// Asynchronous work is queued by the driver (in its push buffer; on the simulated driver, in memory), and a real
// driver blocks the caller when its queue is full. A zone that only ever posts would otherwise grow that queue
// without bound: past the limit the worker waits for all of the zone's contexts, as the driver's back-pressure
// would, then counts again. Only the zone itself waits; nothing is refused.
void Worker::count_async_op() {
  if (++async_ops_ < limits_.objects[Limit::async_ops]) return;
  async_ops_ = 0;
  const uint64_t was = current_ctx_;
  for (uint64_t h : handles_.of_type(ObjType::kContext))
    if (use_ctx(h) == CUDA_SUCCESS) d_.CtxSynchronize();
  if (was == 0 || use_ctx(was) != CUDA_SUCCESS) current_ctx_ = 0;
}

CUresult Worker::start() {
  CUresult r = d_.Init(0);
  if (r != CUDA_SUCCESS) return r;
  if (d_.DeviceGetCount) d_.DeviceGetCount(&device_count_);
  primaries_.resize(static_cast<size_t>(std::max(device_count_, 0)));
  return CUDA_SUCCESS;
}

// The grant is the zone's (zone_page.h): every program of the zone submits under it, and the time slicer
// shares GPU time between zones, not programs.
void Worker::await_grant() {
  ++submits_;
  ProgramSlot& slot = zone_->slots[slot_];
  slot.sched_submits.store(submits_, std::memory_order_relaxed);
  if (zone_->sched_grant.load(std::memory_order_acquire) != 0) return;  // the common case: one load
  slot.sched_waiting.store(1, std::memory_order_relaxed);
  while (zone_->sched_grant.load(std::memory_order_acquire) == 0 &&
         !(stop_ && stop_->load(std::memory_order_relaxed))) {
    // The daemon wakes the word when it grants; the timeout only bounds how late a SIGTERM is noticed.
    const timespec ts{0, 50'000'000};
    ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(&zone_->sched_grant), FUTEX_WAIT, 0, &ts, nullptr, 0);
  }
  slot.sched_waiting.store(0, std::memory_order_relaxed);
}

Error Worker::handle_message(std::span<const std::byte> bytes) {
  auto m = idm::decode(bytes, idm::Direction::kRequest, idm::Path::kRing);
  if (!m) {
    ++rejected_;
    ++errors_logged_;
    if (errors_logged_ > 100 && errors_logged_ % 1000 != 0) return Error::kOk;
    // We cannot trust the header enough to answer (it may be what failed); the zone's call times out on its side
    // only if it sent garbage, which a real libvgpu never does.
    idm::log_line(std::string("rejected request: ") + std::string(idm::error_name(m.error())));
    return Error::kOk;
  }
  if (idm::submits_gpu_work(m->info->effect)) await_grant();
  const auto t0 = std::chrono::steady_clock::now();
  Reply reply;
  CUresult r = idm::dispatch(*m, [&](auto tag, const idm::MsgHeader&, const auto& req,
                                     std::span<const std::byte> tail) { return on(tag, req, tail, reply); });
  const auto ns = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count());
  busy_ns_ += ns;
  if (control_) record_op(*control_, m->info, ns);
  if (r != CUDA_SUCCESS && r != CUDA_ERROR_NOT_READY) {
    // One line per refused call, rate-limited so a hostile zone cannot flood the log: the first 100, then
    // every 1000th.
    if (++errors_logged_ <= 100 || errors_logged_ % 1000 == 0)
      idm::log_line(std::string(m->info->name) + " -> CUresult " + std::to_string(r) + " (error #" +
                    std::to_string(errors_logged_) + ")");
  }
  if (m->info->kind == idm::Kind::kPost) {
    ++posts_;
    if (r == CUDA_SUCCESS) count_async_op();
    if (r != CUDA_SUCCESS && pending_ == CUDA_SUCCESS) pending_ = r;
    return Error::kOk;
  }
  ++calls_;
  if (idm::synchronises(m->info->effect) && pending_ != CUDA_SUCCESS && (r == CUDA_SUCCESS || r == CUDA_ERROR_NOT_READY)) {
    r = pending_;  // an asynchronous call failed earlier: report it here, as the driver would
    pending_ = CUDA_SUCCESS;
  }
  if (r == CUDA_ERROR_OUT_OF_MEMORY) ++oom_;
  if (r != CUDA_SUCCESS && r != CUDA_ERROR_NOT_READY && control_) count_result(*control_, r);
  return idm::send_response_bytes(ch_.tx(), m->header, r, std::span(reply.fixed).first(reply.fixed_len),
                                  reply.tail);
}

void Worker::publish_counters() {
  if (!control_) return;
  control_->used_bytes.store(used_, std::memory_order_relaxed);
  control_->peak_bytes.store(peak_, std::memory_order_relaxed);
  control_->calls.store(calls_, std::memory_order_relaxed);
  control_->posts.store(posts_, std::memory_order_relaxed);
  control_->rejected.store(rejected_, std::memory_order_relaxed);
  control_->oom_refusals.store(oom_, std::memory_order_relaxed);
  control_->handles.store(handles_.live_count(), std::memory_order_relaxed);
  control_->busy_ns.store(busy_ns_, std::memory_order_relaxed);
}

Error Worker::serve(const std::atomic<bool>& stop) {
  stop_ = &stop;
  uint64_t since_publish = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    auto n = ch_.rx().pop(rx_, std::chrono::steady_clock::now() + std::chrono::milliseconds(200));
    if (!n) {
      if (n.error() == Error::kTimeout) {
        publish_counters();
        continue;
      }
      publish_counters();
      return n.error();
    }
    Error e = handle_message(std::span(rx_).first(*n));
    if (e != Error::kOk) {
      publish_counters();
      return e;
    }
    if (++since_publish == 64) {
      since_publish = 0;
      publish_counters();
    }
  }
  publish_counters();
  return Error::kOk;
}

}  // namespace xg::proxy
