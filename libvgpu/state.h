// libvgpu's process-wide state: the connection, what cuInit learned about the devices, the contexts, zone host
// memory and function layouts this process knows, plus each thread's context stack.
//
// Locking: one mutex, the connection's (Session holds it), guards everything here but the thread-local stacks.
// Entry points: every exported function runs its body through guard() (no exception crosses the C ABI) and, except
// the few the driver documents as working before cuInit, opens a Session first.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

#include "cuda/cuda_abi.h"
#include "libvgpu/connection.h"
#include "libvgpu/params.h"
#include "libvgpu/trace.h"

namespace xg::vgpu {

// The CUDA version whose entry points libvgpu implements (cuDriverGetVersion reports min(this, the proxy's)).
inline constexpr int kImplementedVersion = CUDA_VERSION;

// The calling thread's stack of current contexts (handles from the worker; back() is current, 0 = none).
class ContextStack {
 public:
  [[nodiscard]] uint64_t current() const noexcept { return s_.empty() ? 0 : s_.back(); }
  [[nodiscard]] size_t depth() const noexcept { return s_.size(); }
  void push(uint64_t ctx) { s_.push_back(ctx); }
  // Pops the current context; false when the stack is empty.
  bool pop(uint64_t* out) noexcept {
    if (s_.empty()) return false;
    if (out != nullptr) *out = s_.back();
    s_.pop_back();
    return true;
  }
  // cuCtxSetCurrent: replaces the top (pushes onto an empty stack); 0 pops the current context, if any.
  void set(uint64_t ctx) {
    if (ctx == 0) {
      if (!s_.empty()) s_.pop_back();
    } else if (s_.empty()) {
      s_.push_back(ctx);
    } else {
      s_.back() = ctx;
    }
  }
  // A destroyed context leaves this thread's stack entirely.
  void remove(uint64_t ctx) noexcept { std::erase(s_, ctx); }

 private:
  std::vector<uint64_t> s_;
};
ContextStack& this_thread_contexts() noexcept;

struct DeviceInfo {
  std::string name;
  CUuuid uuid{};
  uint64_t total_mem = 0;  // the zone's quota view
  int cc_major = 0, cc_minor = 0;
  std::vector<int32_t> attrs;  // index = CUdevice_attribute
};

// Host memory of this zone known to libvgpu: pinned allocations (shared with the worker) and registered ranges.
struct HostRange {
  uint64_t bytes = 0;
  uint64_t handle = 0;      // pinned: the worker's handle; registered: 0
  uint64_t device_ptr = 0;  // pinned with CU_MEMHOSTALLOC_DEVICEMAP: the device address of the first byte
  uint64_t ctx = 0;
  uint64_t buffer_id = 0;
  unsigned flags = 0;
  bool pinned = false;
  std::shared_ptr<idm::SharedMemory> pages;  // pinned: our mapping of the pages shared with the worker
};

struct FunctionInfo {
  ParamLayout layout;
  uint64_t module = 0;  // the module or library it came from
  std::string name;     // the kernel's name (cuFuncGetName)
};

// A kernel of a library (cuLibraryGetKernel); since CUDA 12 a CUkernel may be passed wherever a CUfunction is
// (the CUDA runtime launches kernels that way), meaning the kernel's function in the current context.
struct KernelInfo {
  uint64_t library = 0;
  std::string name;
};

struct State {
  std::unique_ptr<Connection> conn;
  int driver_version = 0;
  std::vector<DeviceInfo> devices;
  std::unordered_map<uint64_t, int> contexts;  // known context handle -> device ordinal
  std::map<uintptr_t, HostRange> host;         // by base address
  std::unordered_map<uint64_t, FunctionInfo> functions;
  // Live streams and events -> their context, so posts naming a destroyed one fail at once (INVALID_HANDLE), as on
  // the driver, instead of at the next synchronising call.
  std::unordered_map<uint64_t, uint64_t> streams, events;
  // Library -> its module (cuLibraryGetModule), whose functions are forgotten when the library is unloaded.
  std::unordered_map<uint64_t, uint64_t> library_modules;
  std::unordered_map<uint64_t, KernelInfo> kernels;
  // Created streams' flags and (clamped) priority, for cuStreamGetFlags/GetPriority; the device's priority range,
  // asked once.
  struct StreamProps {
    unsigned flags = 0;
    int priority = 0;
  };
  std::unordered_map<uint64_t, StreamProps> stream_props;
  bool priority_range_known = false;
  int least_priority = 0, greatest_priority = 0;
  std::map<std::pair<uint64_t, uint64_t>, uint64_t> kernel_functions;  // (kernel, context) -> function
  uint64_t next_buffer_id = 1;

  // The default streams (wire 0), or a stream this process created and has not destroyed.
  [[nodiscard]] bool live_stream(uint64_t wire_stream) const { return wire_stream == 0 || streams.contains(wire_stream); }
  // Forgets what a destroyed context owned.
  void forget_context(uint64_t ctx);

  // The range containing [p, p + bytes) entirely, or nullptr.
  [[nodiscard]] std::pair<uintptr_t, HostRange*> find_host(uintptr_t p, uint64_t bytes = 1);
};

// cuInit's outcome: CUDA_ERROR_NOT_INITIALIZED before it ran, then its result (cached, as the driver does).
std::atomic<int>& init_result() noexcept;
State& state() noexcept;

// Holds the connection for one API call, after checking that cuInit succeeded and the channel is alive.
class Session {
 public:
  Session();
  [[nodiscard]] CUresult status() const noexcept { return status_; }
  [[nodiscard]] State& st() noexcept { return state(); }
  [[nodiscard]] Connection& conn() noexcept { return *state().conn; }
  [[nodiscard]] uint64_t ctx() const noexcept { return this_thread_contexts().current(); }

 private:
  CUresult status_ = CUDA_ERROR_NOT_INITIALIZED;
  std::unique_lock<std::mutex> lock_;
};

// A stream this process can name: a default stream (with a current context: INVALID_CONTEXT without one) or one
// it created (INVALID_HANDLE otherwise).
[[nodiscard]] CUresult check_stream(Session& s, CUstream h);

// The device's stream priority range (least, greatest), asked of the worker once; needs a current context.
[[nodiscard]] CUresult priority_range(Session& s);

// The zone's share as its proxy worker sees it now (IDM op ZoneInfo): quota, use over all of the zone's programs,
// GPU-time share; `programs` (optional) receives the per-program tail. libvgpu/api_zone.cc.
[[nodiscard]] CUresult query_zone_info(Session& s, idm::ZoneInfoRsp* info,
                                       std::vector<idm::ZoneProgramInfo>* programs = nullptr);

// Common prologue of entry points that need a current context (the driver answers INVALID_CONTEXT without one).
#define VGPU_SESSION_WITH_CONTEXT(s)                 \
  ::xg::vgpu::Session s;                             \
  if (s.status() != CUDA_SUCCESS) return s.status(); \
  if (s.ctx() == 0) return CUDA_ERROR_INVALID_CONTEXT

// Runs an entry point's body: a C++ exception never crosses the C ABI. With XEN_GPU_TRACE set, the call is recorded
// under the name of the function that calls guard() (the entry point or table slot).
template <typename F>
CUresult run_guarded(F& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return CUDA_ERROR_OUT_OF_MEMORY;
  } catch (...) {
    return CUDA_ERROR_UNKNOWN;
  }
}
// (__builtin_FUNCTION as a default argument names the caller; std::source_location is not there for every
// compiler we build with: clang 14 with libstdc++ 12.)
template <typename F>
CUresult guard(F&& body, const char* where = __builtin_FUNCTION()) noexcept {
  if (trace::on()) [[unlikely]] {
    const uint64_t start = trace::now_us();
    const CUresult r = run_guarded(body);
    trace::call(where, r, start);
    return r;
  }
  return run_guarded(body);
}

// The wire form of a stream: NULL, CU_STREAM_LEGACY and CU_STREAM_PER_THREAD all name the legacy default stream
// (0). libvgpu has no per-thread default stream: it is mapped to the legacy one (stronger ordering than the driver
// gives, never weaker), and so are the _ptsz/_ptds entry points' implicit streams.
[[nodiscard]] inline uint64_t wire_stream(CUstream s) noexcept {
  const auto v = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(s));
  return v <= 2 ? 0 : v;
}
template <typename H>
[[nodiscard]] uint64_t wire(H h) noexcept {
  return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(h));
}
template <typename H>
[[nodiscard]] H handle_of(uint64_t v) noexcept {
  return reinterpret_cast<H>(static_cast<uintptr_t>(v));
}
// An enum received from the caller, read as an int (UBSan rejects loading an out-of-range enum value).
template <class E>
[[nodiscard]] int raw(const E& e) noexcept {
  static_assert(sizeof(E) == sizeof(int));
  int v;
  std::memcpy(&v, &e, sizeof v);
  return v;
}

}  // namespace xg::vgpu
