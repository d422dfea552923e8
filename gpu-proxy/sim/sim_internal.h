// Internal state of the simulated CUDA driver, shared by its translation units.
//
// Locking: one driver mutex (Driver::mu) guards every table below and every Context field. It is never held
// while waiting for stream work (waits use the streams' own locks), and stream operations never take it, so a
// running kernel cannot deadlock an API call.
// Handles: every object handle is a 64-bit value (type tag << 48 | serial number), never a pointer, and serial
// numbers are never reused: a destroyed or forged handle is simply absent from its table (INVALID_HANDLE).
#pragma once

#define XG_SIM_DRIVER_SIDE 1
#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "alloc_table.h"
#include "gpu-proxy/sim/sim_kernel.h"
#include "cuda/cuda_abi.h"
#include "stream_thread.h"

namespace xg::sim {

inline constexpr const char* kDeviceName = "xen-gpu simulated device";
inline constexpr int kSmCount = 132;
inline constexpr int kMaxThreadsPerBlock = 1024;
inline constexpr int kMaxThreadsPerSm = 2048;
inline constexpr int kMaxBlocksPerSm = 32;
inline constexpr int kSharedPerBlock = 48 * 1024;
inline constexpr int kSharedPerBlockOptin = 227 * 1024;
inline constexpr int kSharedPerSm = 228 * 1024;
inline constexpr int kNumLimits = 7;  // CU_LIMIT_STACK_SIZE .. CU_LIMIT_PERSISTING_L2_CACHE_SIZE

enum class Tag : uint64_t { context = 1, stream, event, module, function, library, kernel };

// Static storage that is never destroyed: stream workers may still run while the process exits.
template <class T>
class NoDestructor {
 public:
  NoDestructor() { ::new (static_cast<void*>(storage_)) T(); }
  T& get() { return *std::launder(reinterpret_cast<T*>(storage_)); }

 private:
  alignas(T) unsigned char storage_[sizeof(T)];
};

struct Context {
  uint64_t handle = 0;
  bool primary = false;
  bool active = false;  // false: destroyed (created ctx) or not retained (primary ctx)
  unsigned flags = 0;
  int primary_refs = 0;
  std::array<size_t, kNumLimits> limits{};
  std::shared_ptr<Stream> null_stream;
  std::vector<uint64_t> streams, events, modules;  // handles owned by this context
  uintptr_t overhead_base = 0;  // the context's own memory in the arena (0: none)
  size_t overhead_bytes = 0;
};

struct EventRecord {
  std::shared_ptr<Stream> stream;
  uint64_t seq = 0;
  std::shared_ptr<int64_t> stamp_ns;  // written by the stream worker before `seq` completes
};

struct Event {
  uint64_t handle = 0;
  uint64_t context = 0;
  unsigned flags = 0;
  bool recorded = false;
  EventRecord last;
};

// A loaded CPU kernel module (dlopen of a memfd holding the image).
struct Module {
  uint64_t handle = 0;
  uint64_t context = 0;  // 0 for a library (context-independent)
  uint64_t module_view = 0;
  bool foreign = false;  // NVIDIA GPU code: loaded, never run (module.cc)  // a library's module handle (cuLibraryGetModule), unloaded with the library
  void* dl = nullptr;
  int memfd = -1;
  std::unordered_map<std::string, uint64_t> functions;  // name -> function handle
  std::vector<uintptr_t> globals;                         // ranges registered in the allocation table
  ~Module();
};

struct Function {
  uint64_t handle = 0;
  std::shared_ptr<Module> module;
  const xg_sim_kernel_desc* desc = nullptr;
  int max_dynamic_shared = kSharedPerBlock;
  int carveout = -1;
  size_t packed_size() const;  // bytes of the packed parameter buffer
};

template <class T>
class Registry {
 public:
  std::shared_ptr<T> get(uint64_t h) const {
    auto it = map_.find(h);
    return it == map_.end() ? nullptr : it->second;
  }
  void put(uint64_t h, std::shared_ptr<T> p) { map_[h] = std::move(p); }
  std::shared_ptr<T> take(uint64_t h) {
    auto it = map_.find(h);
    if (it == map_.end()) return nullptr;
    auto p = std::move(it->second);
    map_.erase(it);
    return p;
  }

 private:
  std::unordered_map<uint64_t, std::shared_ptr<T>> map_;
};

struct Driver {
  std::mutex mu;
  std::atomic<bool> initialized{false};
  uint64_t next_serial = 1;
  uint64_t next_buffer_id = 1;
  size_t total_mem = 0;
  Arena arena;
  AllocTable table;
  std::shared_ptr<Context> primary;  // the one device's primary context (always in `contexts`)
  Registry<Context> contexts;
  Registry<Stream> streams;
  Registry<Event> events;
  Registry<Module> modules;     // modules and libraries
  Registry<Function> functions; // functions and kernels (a CUkernel handle maps to the same object)

  uint64_t new_handle(Tag t) { return (static_cast<uint64_t>(t) << 48) | next_serial++; }
};

Driver& driver();

// The integer value of an enum received from a caller, read without an enum-typed load: a caller may pass any
// value, and UBSan (-fsanitize=enum) rightly rejects loading an out-of-range one as the enum type.
template <class E>
int raw(const E& e) {
  static_assert(sizeof(E) == sizeof(int));
  int v;
  std::memcpy(&v, &e, sizeof v);
  return v;
}

template <class H>
uint64_t id_of(H h) {
  return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(h));
}
template <class H>
H handle_of(uint64_t id) {
  return reinterpret_cast<H>(static_cast<uintptr_t>(id));
}
template <class T>
uintptr_t addr_of(T p) {
  if constexpr (std::is_pointer_v<T>) {
    return reinterpret_cast<uintptr_t>(p);
  } else {
    return static_cast<uintptr_t>(p);
  }
}

// --- context.cc ---
// The calling thread's current context, active. NOT_INITIALIZED / INVALID_CONTEXT / CONTEXT_IS_DESTROYED.
CUresult current_context_locked(Driver& d, std::shared_ptr<Context>* out);
// Makes `c` usable; it takes the context's own device memory (context_overhead_bytes) from the arena, as a real
// driver's context does: CUDA_ERROR_OUT_OF_MEMORY when the device has no room for it.
[[nodiscard]] CUresult activate_context_locked(Driver& d, Context& c);
// What one context costs in device memory: XG_SIM_CONTEXT_OVERHEAD_MIB (0..1024), default 2 MiB.
[[nodiscard]] size_t context_overhead_bytes();
// Frees everything the context owns; its streams are drained first. Called with the lock held by `lk`,
// which it releases while waiting for work.
void deactivate_context(Driver& d, std::unique_lock<std::mutex>& lk, const std::shared_ptr<Context>& c);
// Waits for all work in the context's streams (lock released while waiting).
void synchronize_context(std::unique_lock<std::mutex>& lk, const Context& c);

// --- streams_events.cc ---
// Resolves a stream handle (NULL, CU_STREAM_LEGACY and CU_STREAM_PER_THREAD mean the context's NULL stream).
CUresult resolve_stream_locked(Driver& d, const Context& c, CUstream h, std::shared_ptr<Stream>* out);
// Enqueues `op` on `s` with the legacy-stream ordering rules applied. Returns the operation's number.
uint64_t submit_locked(Driver& d, const Context& c, const std::shared_ptr<Stream>& s, Stream::Op op);

// --- memory.cc ---
void free_context_memory_locked(Driver& d, uint64_t context);

// --- module.cc ---
void unload_module_locked(Driver& d, uint64_t handle);

int64_t now_ns();

}  // namespace xg::sim

#define XG_SIM_EXPORT_C extern "C" XG_CUDA_API

// Every entry point but the few documented to work before cuInit starts with this.
#define XG_SIM_REQUIRE_INIT(d) \
  do {                         \
    if (!(d).initialized) return CUDA_ERROR_NOT_INITIALIZED; \
  } while (0)
