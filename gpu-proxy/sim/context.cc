// Contexts: the primary context, created contexts and each thread's stack of current contexts.
#include <algorithm>
#include <cstdlib>

#include "sim_internal.h"

namespace xg::sim {
namespace {

// The calling thread's context stack; back() is current. Holds handles, so a destroyed context is detected.
thread_local std::vector<uint64_t> t_stack;

constexpr std::array<size_t, kNumLimits> kDefaultLimits = {
    1024,              // STACK_SIZE
    1 << 20,           // PRINTF_FIFO_SIZE
    8 << 20,           // MALLOC_HEAP_SIZE
    2,                 // DEV_RUNTIME_SYNC_DEPTH
    2048,              // DEV_RUNTIME_PENDING_LAUNCH_COUNT
    32,                // MAX_L2_FETCH_GRANULARITY
    0,                 // PERSISTING_L2_CACHE_SIZE
};

CUresult lookup_context_locked(Driver& d, CUcontext h, std::shared_ptr<Context>* out) {
  auto c = d.contexts.get(id_of(h));
  if (!c) return CUDA_ERROR_INVALID_CONTEXT;
  *out = std::move(c);
  return CUDA_SUCCESS;
}

void remove_from_all_stacks_of_this_thread(uint64_t h) {
  t_stack.erase(std::remove(t_stack.begin(), t_stack.end(), h), t_stack.end());
}

}  // namespace

CUresult current_context_locked(Driver& d, std::shared_ptr<Context>* out) {
  if (!d.initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (t_stack.empty()) return CUDA_ERROR_INVALID_CONTEXT;
  auto c = d.contexts.get(t_stack.back());
  if (!c || !c->active) return CUDA_ERROR_CONTEXT_IS_DESTROYED;
  *out = std::move(c);
  return CUDA_SUCCESS;
}

size_t context_overhead_bytes() {
  size_t mib = 2;
  if (const char* s = std::getenv("XG_SIM_CONTEXT_OVERHEAD_MIB")) {
    char* end = nullptr;
    const unsigned long long v = std::strtoull(s, &end, 10);
    if (end != s && *end == '\0' && v <= 1024) mib = static_cast<size_t>(v);
  }
  return mib << 20;
}

CUresult activate_context_locked(Driver& d, Context& c) {
  if (const size_t bytes = context_overhead_bytes(); bytes != 0) {
    const auto base = d.arena.allocate(bytes);
    if (!base) return CUDA_ERROR_OUT_OF_MEMORY;
    c.overhead_base = *base;
    c.overhead_bytes = bytes;
  }
  c.active = true;
  c.limits = kDefaultLimits;
  c.null_stream = std::make_shared<Stream>(0, c.handle, CU_STREAM_DEFAULT, 0, /*legacy=*/true);
  return CUDA_SUCCESS;
}

void synchronize_context(std::unique_lock<std::mutex>& lk, const Context& c) {
  Driver& d = driver();
  std::vector<std::shared_ptr<Stream>> all;
  if (c.null_stream) all.push_back(c.null_stream);
  for (uint64_t h : c.streams)
    if (auto s = d.streams.get(h)) all.push_back(std::move(s));
  lk.unlock();
  for (const auto& s : all) s->sync();
  lk.lock();
}

void deactivate_context(Driver& d, std::unique_lock<std::mutex>& lk, const std::shared_ptr<Context>& c) {
  if (!c->active) return;
  synchronize_context(lk, *c);
  c->active = false;
  std::vector<std::shared_ptr<Stream>> dead;
  for (uint64_t h : c->streams)
    if (auto s = d.streams.take(h)) dead.push_back(std::move(s));
  if (c->null_stream) dead.push_back(std::move(c->null_stream));
  for (uint64_t h : c->events) d.events.take(h);
  for (uint64_t h : c->modules) unload_module_locked(d, h);
  c->streams.clear();
  c->events.clear();
  c->modules.clear();
  free_context_memory_locked(d, c->handle);
  if (c->overhead_base != 0) d.arena.release(c->overhead_base, c->overhead_bytes);
  c->overhead_base = 0;
  lk.unlock();
  for (auto& s : dead) s->shutdown();  // already drained: joins the workers
  dead.clear();
  lk.lock();
}

}  // namespace xg::sim

using namespace xg::sim;

// --- primary context -------------------------------------------------------------------------------------------

XG_SIM_EXPORT_C CUresult cuDevicePrimaryCtxRetain(CUcontext* pctx, CUdevice dev) {
  Driver& d = driver();
  std::lock_guard lk(d.mu);
  XG_SIM_REQUIRE_INIT(d);
  if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
  if (!d.primary->active)
    if (CUresult e = activate_context_locked(d, *d.primary); e != CUDA_SUCCESS) return e;
  ++d.primary->primary_refs;
  *pctx = handle_of<CUcontext>(d.primary->handle);
  return CUDA_SUCCESS;
}

XG_SIM_EXPORT_C CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev) {
  Driver& d = driver();
  std::unique_lock lk(d.mu);
  XG_SIM_REQUIRE_INIT(d);
  if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
  auto p = d.primary;
  if (p->primary_refs == 0) return CUDA_ERROR_INVALID_CONTEXT;
  if (--p->primary_refs == 0) deactivate_context(d, lk, p);
  return CUDA_SUCCESS;
}

XG_SIM_EXPORT_C CUresult cuDevicePrimaryCtxReset_v2(CUdevice dev) {
  Driver& d = driver();
  std::unique_lock lk(d.mu);
  XG_SIM_REQUIRE_INIT(d);
  if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
  auto p = d.primary;
  p->primary_refs = 0;
  deactivate_context(d, lk, p);
  return CUDA_SUCCESS;
}

XG_SIM_EXPORT_C CUresult cuDevicePrimaryCtxSetFlags_v2(CUdevice dev, unsigned int flags) {
  Driver& d = driver();
  std::lock_guard lk(d.mu);
  XG_SIM_REQUIRE_INIT(d);
  if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
  if ((flags & ~unsigned(CU_CTX_FLAGS_MASK)) != 0) return CUDA_ERROR_INVALID_VALUE;
  d.primary->flags = flags;
  return CUDA_SUCCESS;
}

XG_SIM_EXPORT_C CUresult cuDevicePrimaryCtxGetState(CUdevice dev, unsigned int* flags, int* active) {
  Driver& d = driver();
  std::lock_guard lk(d.mu);
  XG_SIM_REQUIRE_INIT(d);
  if (flags == nullptr || active == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
  *flags = d.primary->flags;
  *active = d.primary->active ? 1 : 0;
  return CUDA_SUCCESS;
}

// --- created contexts ------------------------------------------------------------------------------------------

XG_SIM_EXPORT_C CUresult cuCtxCreate_v2(CUcontext* pctx, unsigned int flags, CUdevice dev) {
  Driver& d = driver();
  std::lock_guard lk(d.mu);
  XG_SIM_REQUIRE_INIT(d);
  if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if ((flags & ~unsigned(CU_CTX_FLAGS_MASK)) != 0) return CUDA_ERROR_INVALID_VALUE;
  if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
  auto c = std::make_shared<Context>();
  c->handle = d.new_handle(Tag::context);
  c->flags = flags;
  if (CUresult e = activate_context_locked(d, *c); e != CUDA_SUCCESS) return e;
  d.contexts.put(c->handle, c);
  t_stack.push_back(c->handle);  // the new context becomes current
  *pctx = handle_of<CUcontext>(c->handle);
  return CUDA_SUCCESS;
}

XG_SIM_EXPORT_C CUresult cuCtxDestroy_v2(CUcontext ctx) {
  Driver& d = driver();
  std::unique_lock lk(d.mu);
  XG_SIM_REQUIRE_INIT(d);
  std::shared_ptr<Context> c;
  if (CUresult r = lookup_context_locked(d, ctx, &c); r != CUDA_SUCCESS) return r;
  if (c->primary) return CUDA_ERROR_INVALID_CONTEXT;  // primary contexts go through Release/Reset
  deactivate_context(d, lk, c);
  d.contexts.take(c->handle);
  // Popped from the calling thread's stack; other threads holding it current get CONTEXT_IS_DESTROYED.
  remove_from_all_stacks_of_this_thread(c->handle);
  return CUDA_SUCCESS;
}

XG_SIM_EXPORT_C CUresult cuCtxGetCurrent(CUcontext* pctx) {
  XG_SIM_REQUIRE_INIT(driver());
  if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *pctx = t_stack.empty() ? nullptr : handle_of<CUcontext>(t_stack.back());
  return CUDA_SUCCESS;
}

XG_SIM_EXPORT_C CUresult cuCtxSetCurrent(CUcontext ctx) {
  Driver& d = driver();
  std::lock_guard lk(d.mu);
  XG_SIM_REQUIRE_INIT(d);
  if (ctx == nullptr) {  // unbinds: pops the current context, if any
    if (!t_stack.empty()) t_stack.pop_back();
    return CUDA_SUCCESS;
  }
  std::shared_ptr<Context> c;
  if (CUresult r = lookup_context_locked(d, ctx, &c); r != CUDA_SUCCESS) return r;
  if (t_stack.empty()) {
    t_stack.push_back(c->handle);
  } else {
    t_stack.back() = c->handle;
  }
  return CUDA_SUCCESS;
}

XG_SIM_EXPORT_C CUresult cuCtxPushCurrent_v2(CUcontext ctx) {
  Driver& d = driver();
  std::lock_guard lk(d.mu);
  XG_SIM_REQUIRE_INIT(d);
  std::shared_ptr<Context> c;
  if (CUresult r = lookup_context_locked(d, ctx, &c); r != CUDA_SUCCESS) return r;
  t_stack.push_back(c->handle);
  return CUDA_SUCCESS;
}

XG_SIM_EXPORT_C CUresult cuCtxPopCurrent_v2(CUcontext* pctx) {
  XG_SIM_REQUIRE_INIT(driver());
  if (t_stack.empty()) return CUDA_ERROR_INVALID_CONTEXT;
  if (pctx != nullptr) *pctx = handle_of<CUcontext>(t_stack.back());
  t_stack.pop_back();
  return CUDA_SUCCESS;
}

XG_SIM_EXPORT_C CUresult cuCtxGetDevice(CUdevice* device) {
  Driver& d = driver();
  std::lock_guard lk(d.mu);
  std::shared_ptr<Context> c;
  if (CUresult r = current_context_locked(d, &c); r != CUDA_SUCCESS) return r;
  if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *device = 0;
  return CUDA_SUCCESS;
}

XG_SIM_EXPORT_C CUresult cuCtxSynchronize(void) {
  Driver& d = driver();
  std::unique_lock lk(d.mu);
  std::shared_ptr<Context> c;
  if (CUresult r = current_context_locked(d, &c); r != CUDA_SUCCESS) return r;
  synchronize_context(lk, *c);
  return CUDA_SUCCESS;
}

XG_SIM_EXPORT_C CUresult cuCtxGetLimit(size_t* pvalue, CUlimit limit) {
  Driver& d = driver();
  std::lock_guard lk(d.mu);
  std::shared_ptr<Context> c;
  if (CUresult r = current_context_locked(d, &c); r != CUDA_SUCCESS) return r;
  if (pvalue == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const int l = raw(limit);
  if (l < 0 || l >= kNumLimits) return CUDA_ERROR_UNSUPPORTED_LIMIT;
  *pvalue = c->limits[l];
  return CUDA_SUCCESS;
}

XG_SIM_EXPORT_C CUresult cuCtxSetLimit(CUlimit limit, size_t value) {
  Driver& d = driver();
  std::lock_guard lk(d.mu);
  std::shared_ptr<Context> c;
  if (CUresult r = current_context_locked(d, &c); r != CUDA_SUCCESS) return r;
  const int l = raw(limit);
  if (l < 0 || l >= kNumLimits) return CUDA_ERROR_UNSUPPORTED_LIMIT;
  if (l == CU_LIMIT_MAX_L2_FETCH_GRANULARITY && value > 128) return CUDA_ERROR_INVALID_VALUE;
  c->limits[l] = value;
  return CUDA_SUCCESS;
}

XG_SIM_EXPORT_C CUresult cuCtxGetApiVersion(CUcontext ctx, unsigned int* version) {
  Driver& d = driver();
  std::lock_guard lk(d.mu);
  XG_SIM_REQUIRE_INIT(d);
  if (version == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::shared_ptr<Context> c;
  CUresult r = ctx == nullptr ? current_context_locked(d, &c) : lookup_context_locked(d, ctx, &c);
  if (r != CUDA_SUCCESS) return r;
  *version = 3020;  // contexts created through the _v2 API report 3020, as on the real driver
  return CUDA_SUCCESS;
}

XG_SIM_EXPORT_C CUresult cuCtxGetFlags(unsigned int* flags) {
  Driver& d = driver();
  std::lock_guard lk(d.mu);
  std::shared_ptr<Context> c;
  if (CUresult r = current_context_locked(d, &c); r != CUDA_SUCCESS) return r;
  if (flags == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *flags = c->flags;
  return CUDA_SUCCESS;
}
