// Checks and translations shared by every handler group.
#include <sys/mman.h>

#include "gpu-proxy/worker/worker.h"
#include "idm/log.h"
#include "idm/messages_cuda.h"

namespace xg::proxy {

CUresult Worker::use_ctx(uint64_t ctx) {
  // The driver answers CUDA_ERROR_INVALID_CONTEXT for calls made without a (valid) current context.
  auto* e = handles_.find(ctx, ObjType::kContext);
  if (!e || !e->object) return CUDA_ERROR_INVALID_CONTEXT;
  if (ctx != current_ctx_) {
    CUresult r = d_.CtxSetCurrent(static_cast<CUcontext>(e->object));
    if (r != CUDA_SUCCESS) return r;
    current_ctx_ = ctx;
  }
  return CUDA_SUCCESS;
}

CUresult Worker::use_parent_ctx(const HandleTable::Entry& e) {
  // Walk up to the owning context (function -> module -> context, kernel -> library -> context).
  uint64_t h = e.parent;
  for (int depth = 0; depth < 4 && h != 0; ++depth) {
    const auto type = static_cast<ObjType>(h >> 56);
    if (type == ObjType::kContext) return use_ctx(h);
    auto* p = handles_.find(h, type);
    if (!p) return CUDA_ERROR_INVALID_HANDLE;
    // A library belongs to no context: its kernels' functions act in the context they were fetched in, which the
    // fetch made current.
    if (type == ObjType::kLibrary) return current_ctx_ != 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
    h = p->parent;
  }
  return CUDA_ERROR_INVALID_CONTEXT;
}

CUresult Worker::stream_of(uint64_t ctx, uint64_t stream, CUstream& out) {
  if (stream == 0) {  // the legacy default stream of the caller's context
    out = nullptr;
    return use_ctx(ctx);
  }
  auto* e = handles_.find(stream, ObjType::kStream);
  if (!e) return CUDA_ERROR_INVALID_HANDLE;
  out = static_cast<CUstream>(e->object);
  return use_parent_ctx(*e);
}

bool Worker::device_range(uint64_t ptr, uint64_t bytes) const noexcept {
  return allocs_.containing(ptr, bytes) != nullptr;
}

std::byte* Worker::host_range(uint32_t kind, uint64_t handle, uint64_t offset, uint64_t bytes,
                              std::span<const std::byte> tail) {
  switch (static_cast<idm::HostBuf>(kind)) {
    case idm::HostBuf::kTail:
      // Inline: the bytes are the request's tail (already validated to be exactly `bytes` long).
      return bytes == tail.size() ? const_cast<std::byte*>(tail.data()) : nullptr;
    case idm::HostBuf::kDataArea: {
      auto data = ch_.data();
      if (offset > data.size() || bytes > data.size() - offset) return nullptr;
      return data.data() + offset;
    }
    case idm::HostBuf::kPinned: {
      auto* e = handles_.find(handle, ObjType::kHostAlloc);
      if (!e) return nullptr;
      auto* ha = static_cast<HostAlloc*>(e->object);
      if (offset > ha->bytes() || bytes > ha->bytes() - offset) return nullptr;
      return ha->va() + offset;
    }
  }
  return nullptr;
}

bool Worker::data_area_pinned() {
  if (data_area_ctx_ != 0) return true;
  if (data_area_refused_ || current_ctx_ == 0) return false;
  auto data = ch_.data();
  const CUresult r = d_.MemHostRegister(data.data(), data.size(), CU_MEMHOSTREGISTER_PORTABLE);
  if (r == CUDA_SUCCESS || r == CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED) {
    data_area_ctx_ = current_ctx_;
    return true;
  }
  data_area_refused_ = true;
  idm::log_line("the data area could not be registered with the driver (error " + std::to_string(r) +
           "): copies through it are staged by the driver");
  return false;
}

namespace {

CUresult charge_result(ChargeResult r) {
  if (r == ChargeResult::kOk) return CUDA_SUCCESS;
  if (r == ChargeResult::kLockTimeout)
    idm::log_line("the zone's ledger stayed locked for a second (another program of the zone is stuck holding it): "
                  "allocation refused");
  return CUDA_ERROR_OUT_OF_MEMORY;
}

}  // namespace

CUresult Worker::charge(uint64_t bytes) {
  if (CUresult e = charge_result(charge_zone(*zone_, slot_, ChargeKind::kDevice, bytes)); e != CUDA_SUCCESS)
    return e;
  used_ += bytes;
  peak_ = std::max(peak_, used_);
  return CUDA_SUCCESS;
}

void Worker::uncharge(uint64_t bytes) {
  bytes = std::min(bytes, used_);
  used_ -= bytes;
  uncharge_zone(*zone_, slot_, ChargeKind::kDevice, bytes);
}

CUresult Worker::charge_context() {
  const uint64_t bytes = zone_->context_overhead_bytes.load(std::memory_order_relaxed);
  if (CUresult e = charge_result(charge_zone(*zone_, slot_, ChargeKind::kOverhead, bytes)); e != CUDA_SUCCESS) {
    idm::log_line("a new context needs " + std::to_string(bytes) + " bytes of the zone's quota, which it has not");
    return e;
  }
  ++contexts_charged_;
  return CUDA_SUCCESS;
}

void Worker::uncharge_context() {
  if (contexts_charged_ == 0) return;
  --contexts_charged_;
  uncharge_zone(*zone_, slot_, ChargeKind::kOverhead, zone_->context_overhead_bytes.load(std::memory_order_relaxed));
}

void Worker::drop_host_alloc(uint64_t handle, bool ctx_alive) {
  auto it = host_allocs_.find(handle);
  if (it == host_allocs_.end()) return;
  HostAlloc& ha = *it->second;
  // Registered pages are portable: any current context may unregister them. A destroyed context is never made
  // current again; then the call fails harmlessly if no context is current.
  if (ha.registered && (!ctx_alive || use_ctx(ha.ctx) == CUDA_SUCCESS)) d_.MemHostUnregister(ha.va());
  if (ha.made_here) pinned_used_ -= std::min(pinned_used_, ha.bytes());
  host_allocs_.erase(it);  // unmaps (lent pages go back to the zone)
}

void Worker::release_module_charge(uint64_t handle) {
  auto it = module_charges_.find(handle);
  if (it == module_charges_.end()) return;
  uncharge(it->second);
  module_charges_.erase(it);
}

void Worker::forget_children(uint64_t handle) {
  // A destroyed context may take the data area's registration with it; the next copy registers it again (or
  // finds it still registered).
  if (handle == data_area_ctx_) data_area_ctx_ = 0;
  for (const Allocation& a : allocs_.take_owned_by(handle)) uncharge(a.charged);
  for (uint64_t child : handles_.children(handle)) {
    forget_children(child);
    release_module_charge(child);
    functions_.erase(child);
    drop_host_alloc(child, /*ctx_alive=*/false);
    handles_.erase(child);
  }
}

CUresult Worker::learn_function(CUfunction f, uint64_t parent, Reply& reply) {
  uint64_t h = handles_.handle_of(ObjType::kFunction, f);
  if (h == 0) {
    if (CUresult e = admit(Limit::functions); e != CUDA_SUCCESS) return e;
    h = handles_.insert(ObjType::kFunction, f, parent);
    if (h == 0) return CUDA_ERROR_OUT_OF_MEMORY;
    FunctionInfo info;
    if (d_.has_param_info()) {
      // cuFuncGetParamInfo (CUDA 12.4+) answers CUDA_ERROR_INVALID_VALUE past the last parameter.
      for (size_t i = 0; i < idm::kMaxKernelParams; ++i) {
        size_t off = 0, size = 0;
        if (d_.FuncGetParamInfo(f, i, &off, &size) != CUDA_SUCCESS) break;
        if (off > idm::kMaxParamBytes || size > idm::kMaxParamBytes - off) break;
        info.params.emplace_back(static_cast<uint32_t>(off), static_cast<uint32_t>(size));
        info.param_bytes = std::max<uint32_t>(info.param_bytes, static_cast<uint32_t>(off + size));
      }
      info.layout_known = true;
    }
    functions_[h] = std::move(info);
  }
  const FunctionInfo& info = functions_[h];
  if (!info.layout_known) {
    reply.set(idm::FunctionRsp{h, idm::kParamLayoutUnknown, 0});
    return CUDA_SUCCESS;
  }
  reply.set(idm::FunctionRsp{h, static_cast<uint32_t>(info.params.size()), info.param_bytes});
  auto* out = reinterpret_cast<uint32_t*>(scratch_.data());
  for (size_t i = 0; i < info.params.size(); ++i) {
    out[2 * i] = info.params[i].first;
    out[2 * i + 1] = info.params[i].second;
  }
  reply.tail = std::span(scratch_).first(info.params.size() * 8);
  return CUDA_SUCCESS;
}

}  // namespace xg::proxy
