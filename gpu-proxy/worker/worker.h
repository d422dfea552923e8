// The zone worker: one process per zone, the only reader of that zone's rings. It copies each request out of
// shared memory, decodes and validates it (idm/codec.h), translates handles through the zone's own table, checks
// every device range against the zone's allocations and every host range against the channel, enforces the
// quota, and calls the driver. It owns the zone's CUDA contexts: when it exits, the driver reclaims everything.
//
// Implementors (a new opcode): declare its handler below (the macro does it), define it in the handlers_*.cc
// that matches its group, cite the driver behaviour each check mirrors (the table's `effect` column says whether
// it synchronises or submits GPU work), and add malformed cases to idm/testdata/malformed/.
#pragma once

#include <array>
#include <atomic>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "gpu-proxy/alloc_map.h"
#include "gpu-proxy/control.h"
#include "gpu-proxy/driver_api.h"
#include "gpu-proxy/handle_table.h"
#include "gpu-proxy/object_limits.h"
#include "gpu-proxy/zone_page.h"
#include "idm/channel.h"
#include "idm/codec.h"
#include "idm/unique_fd.h"

namespace xg::proxy {

// The response a handler builds: a fixed part and an optional tail (pointing at worker-owned memory).
struct Reply {
  alignas(8) std::array<std::byte, 512> fixed{};
  size_t fixed_len = 0;
  std::span<const std::byte> tail;
  template <typename T>
  void set(const T& v) noexcept {
    static_assert(sizeof(T) <= sizeof(fixed));
    std::memcpy(fixed.data(), &v, sizeof v);
    fixed_len = idm::kWireSize<T>;
  }
};

struct WorkerLimits {
  uint64_t quota_bytes = 1ull << 30;  // a worker without a zone page (tests): its own quota
  uint32_t zone_id = 0;
  // Pinned host memory the worker allocates for the zone (driver-domain RAM; shm zones). Pages a Xen zone lends
  // are its own RAM and not counted.
  uint64_t pinned_bytes = 4ull << 30;
  ObjectLimits objects{};  // driver objects the zone may create (object_limits.h)
};

class Worker {
 public:
  // Serves `endpoint`'s channel; pinned host memory comes from the endpoint's transport (its proxy_pages; none:
  // CUDA_ERROR_NOT_SUPPORTED). `control` may be null (tests). `zone` is the zone's page shared with its other
  // programs' workers and `slot` this program's slot in it; null (tests): a private ledger with limits.quota_bytes.
  // The endpoint and the pages outlive the worker.
  Worker(DriverApi& driver, idm::Endpoint& endpoint, WorkerLimits limits, ControlPage* control,
         ZonePage* zone = nullptr, int slot = 0);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Initialises the driver (cuInit). Errors are returned as the driver gave them.
  [[nodiscard]] CUresult start();
  // Serves requests until the zone dies, breaks the ring contract, or `stop` is set. Returns why it stopped.
  idm::Error serve(const std::atomic<bool>& stop);
  // Handles one message already copied out of the ring (exposed for the fuzz target and tests).
  idm::Error handle_message(std::span<const std::byte> bytes);

  [[nodiscard]] uint64_t used_bytes() const noexcept { return used_; }
  [[nodiscard]] const HandleTable& handles() const noexcept { return handles_; }

  // One handler per opcode, generated from the table.
#define XG_WORKER_HANDLER(name, code, kind, effect, req, rsp, req_tail, rsp_tail) \
  CUresult on(idm::OpTag<idm::Op::name>, const idm::req& r, std::span<const std::byte> tail, Reply& reply);
  IDM_CORE_MESSAGES(XG_WORKER_HANDLER)
  IDM_CUDA_MESSAGES(XG_WORKER_HANDLER)
#undef XG_WORKER_HANDLER
  // The zone control channel's opcodes (shim <-> a pod zone's init) are never the worker's: answered
  // CUDA_ERROR_NOT_SUPPORTED and logged (handlers_core.cc).
#define XG_WORKER_NOT_MINE(name, code, kind, effect, req, rsp, req_tail, rsp_tail) \
  CUresult on(idm::OpTag<idm::Op::name>, const idm::req&, std::span<const std::byte>, Reply&) {     \
    return not_a_worker_op(idm::Op::name);                                                          \
  }
  IDM_ZONECTL_MESSAGES(XG_WORKER_NOT_MINE)
#undef XG_WORKER_NOT_MINE
  CUresult not_a_worker_op(idm::Op op);

 private:
  struct FunctionInfo {
    std::vector<std::pair<uint32_t, uint32_t>> params;  // {offset, size}
    uint32_t param_bytes = 0;                             // end of the last parameter
    bool layout_known = false;
  };
  struct HostAlloc {
    std::unique_ptr<idm::SharedMemory> pages;  // pages we made, or the zone's lent pages, mapped
    [[nodiscard]] std::byte* va() const noexcept { return pages->bytes().data(); }
    [[nodiscard]] uint64_t bytes() const noexcept { return pages->bytes().size(); }
    bool registered = false;
    uint64_t device_ptr = 0;
    uint64_t ctx = 0;
    bool made_here = false;  // driver-domain RAM we allocated (counted in pinned_used_), not the zone's own pages
  };
  struct Primary {
    uint64_t handle = 0;
    int retains = 0;
  };

  // --- helpers shared by the handler groups (worker_util.cc)
  CUresult use_ctx(uint64_t ctx);                     // validates the handle and makes it current
  CUresult use_parent_ctx(const HandleTable::Entry& e);
  CUresult stream_of(uint64_t ctx, uint64_t stream, CUstream& out);
  [[nodiscard]] bool device_range(uint64_t ptr, uint64_t bytes) const noexcept;
  // Host side of a copy: resolves (kind, handle, offset, bytes) to worker memory, or null if out of bounds.
  std::byte* host_range(uint32_t kind, uint64_t handle, uint64_t offset, uint64_t bytes,
                        std::span<const std::byte> tail);
  // Device memory against the zone's ledger (zone_page.h); a refusal is CUDA_ERROR_OUT_OF_MEMORY.
  CUresult charge(uint64_t bytes);
  void uncharge(uint64_t bytes);
  // One driver context's own memory (the zone page's measured overhead), when the driver creates or destroys one.
  CUresult charge_context();
  void uncharge_context();
  [[nodiscard]] uint64_t quota() const noexcept { return zone_->quota_bytes.load(std::memory_order_relaxed); }
  void forget_children(uint64_t handle);              // cascade: handles and allocations owned by `handle`
  void release_module_charge(uint64_t handle);        // a module or library is gone: its image's charge returns
  void drop_host_alloc(uint64_t handle, bool ctx_alive);  // unregisters and unmaps a pinned allocation, if one
  CUresult learn_function(CUfunction f, uint64_t parent, Reply& reply);
  CUresult htod(const idm::MemcpyHtoDReq& r, std::span<const std::byte> tail, bool async);
  // Whether the channel's data area is registered with the driver (page-locked), registering it on first use (a
  // context must be current). Registered, a copy through it is one DMA instead of the driver's staging copy; and
  // an async copy from it is then truly asynchronous, so its handler waits for it before the zone may reuse the
  // bytes (see handlers_copy.cc).
  bool data_area_pinned();
  CUresult memset(const idm::MemsetReq& r, bool async);
  // CUDA_SUCCESS if the zone may create one more object counted by `l`; else CUDA_ERROR_OUT_OF_MEMORY and a
  // (rate-limited) log line naming the limit.
  CUresult admit(Limit l);
  // Counts a queued asynchronous operation; past the async_ops limit, waits for all of the zone's queued work.
  void count_async_op();
  void release_driver_objects();  // at the end: host allocations, the data area, contexts, primary contexts
  void publish_counters();
  // Waits until the daemon's time slicer lets this zone submit GPU work (at once while it holds a grant).
  void await_grant();

  DriverApi& d_;
  idm::Channel& ch_;
  idm::ProxyHostPages* host_pages_;  // the endpoint's; null: no pinned host memory on this transport
  WorkerLimits limits_;
  ControlPage* control_;
  std::unique_ptr<ZonePage> own_zone_;  // the private ledger of a worker given no zone page
  ZonePage* zone_;
  int slot_;
  HandleTable handles_;
  AllocMap allocs_;
  uint64_t used_ = 0, peak_ = 0;  // this program's device bytes (its slot's device_bytes)
  uint32_t contexts_charged_ = 0;  // driver contexts alive, each charged the zone's context overhead
  uint64_t pinned_used_ = 0;  // pinned pages allocated here (not the zone's), against limits_.pinned_bytes
  uint64_t current_ctx_ = 0;
  uint64_t data_area_ctx_ = 0;      // the context that registered the data area; 0: not registered
  bool data_area_refused_ = false;  // the driver refused to register it: copies through it stay staged
  uint64_t async_ops_ = 0;          // asynchronous operations queued since the worker last drained them
  std::array<uint64_t, kLimitCount> limit_refusals_{};
  CUresult pending_ = CUDA_SUCCESS;  // first error of a fire-and-forget call, reported at the next sync point
  int device_count_ = 0;
  std::vector<Primary> primaries_;
  // A library's module in a context (cuLibraryGetModule) -> the library: it goes with the library, not with
  // cuModuleUnload.
  std::unordered_map<uint64_t, uint64_t> library_modules_;
  std::unordered_map<uint64_t, FunctionInfo> functions_;
  std::unordered_map<uint64_t, uint64_t> module_charges_;  // module/library handle -> bytes charged for its image
  std::unordered_map<uint64_t, std::unique_ptr<HostAlloc>> host_allocs_;
  std::vector<std::byte> blob_;      // staged module image
  std::vector<std::byte> rx_;        // the current request, copied out of the ring
  std::vector<std::byte> scratch_;   // response tails
  uint64_t calls_ = 0, posts_ = 0, rejected_ = 0, oom_ = 0, busy_ns_ = 0, errors_logged_ = 0, submits_ = 0;
  const std::atomic<bool>* stop_ = nullptr;  // serve()'s stop flag, for await_grant
};

}  // namespace xg::proxy
