#include "libvgpu/state.h"

namespace xg::vgpu {
namespace {

// Never destroyed: other threads may still be inside CUDA calls while the process exits.
template <class T>
class NoDestructor {
 public:
  NoDestructor() { ::new (static_cast<void*>(storage_)) T(); }
  T& get() noexcept { return *std::launder(reinterpret_cast<T*>(storage_)); }

 private:
  alignas(T) unsigned char storage_[sizeof(T)];
};

}  // namespace

ContextStack& this_thread_contexts() noexcept {
  thread_local ContextStack stack;
  return stack;
}

std::atomic<int>& init_result() noexcept {
  static std::atomic<int> r{CUDA_ERROR_NOT_INITIALIZED};
  return r;
}

State& state() noexcept {
  static NoDestructor<State> s;
  return s.get();
}

std::pair<uintptr_t, HostRange*> State::find_host(uintptr_t p, uint64_t bytes) {
  auto it = host.upper_bound(p);
  if (it == host.begin()) return {0, nullptr};
  --it;
  const uint64_t off = p - it->first;
  if (off >= it->second.bytes || bytes > it->second.bytes - off) return {0, nullptr};
  return {it->first, &it->second};
}

void State::forget_context(uint64_t ctx) {
  std::erase_if(streams, [ctx](const auto& kv) { return kv.second == ctx; });
  std::erase_if(events, [ctx](const auto& kv) { return kv.second == ctx; });
}

CUresult check_stream(Session& s, CUstream h) {
  if (wire_stream(h) == 0) return s.ctx() != 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
  return s.st().streams.contains(wire_stream(h)) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

Session::Session() {
  if (init_result().load(std::memory_order_acquire) != CUDA_SUCCESS) return;  // NOT_INITIALIZED
  lock_ = std::unique_lock(state().conn->mu());
  status_ = state().conn->dead() ? CUDA_ERROR_DEVICE_UNAVAILABLE : CUDA_SUCCESS;
}

}  // namespace xg::vgpu
