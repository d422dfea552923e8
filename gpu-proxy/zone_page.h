// One page per zone, shared by the daemon and every worker of the zone (one worker per program): the zone's
// memory ledger and its time-slicer grant. A zone's quota and weight are the zone's, not a program's, so every
// worker charges this one ledger before it asks the driver for memory, and the time slicer grants the zone.
//
// The ledger: one slot per program. A worker charges only its own slot, under the page's lock, after summing all
// live slots against the quota, so concurrent programs never exceed it together. The daemon never takes the lock
// (a worker could hold it forever and would then stall only its own zone's allocations): it marks a slot live
// before it starts the slot's worker and dead once it has reaped that worker, whose memory the driver has then
// freed; a dead slot counts for nothing, so a worker's death returns exactly its bytes. The lock is robust: a
// worker that dies holding it leaves nothing half-done that matters (only its own slot, now dead).
//
// Trust: the workers write this page, so its worker-written fields are only as true as the zone's least honest
// worker. A compromised worker can already allocate without charging; what it cannot do is reach another zone's
// page. The daemon reads the page with relaxed loads and clamps what it shows.
#pragma once

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "idm/messages_core.h"

namespace xg::proxy {

inline constexpr uint32_t kZonePageMagic = 0x5a474758;  // "XGGZ"
inline constexpr size_t kMaxProgramsPerZone = idm::kMaxZonePrograms;
inline constexpr size_t kZonePageBytes = 8192;

struct ProgramSlot {
  std::atomic<uint32_t> live;            // daemon: 1 from before the worker starts until it is reaped
  std::atomic<uint32_t> zone_pid;        // worker: the program's pid in its zone (Hello), 0 if unknown
  std::atomic<uint64_t> device_bytes;    // worker: allocations, pitch padding, module images
  std::atomic<uint64_t> overhead_bytes;  // worker: its contexts' own memory (contexts x the measured overhead)
  std::atomic<uint32_t> sched_waiting;   // worker: 1 while blocked for want of the zone's grant
  std::atomic<uint32_t> serving;         // worker: 1 once it serves a program (a Xen zone's waiting worker: 0)
  std::atomic<uint64_t> sched_submits;   // worker: gated submissions so far (free-running)
};

struct ZonePage {
  uint32_t magic;
  uint32_t version;
  pthread_mutex_t lock;  // robust, process-shared: held only by workers, while charging
  // --- written by the daemon
  std::atomic<uint64_t> quota_bytes;             // may change while the zone runs (xen-gpu set)
  std::atomic<uint32_t> weight;
  std::atomic<uint32_t> zone_id;
  std::atomic<uint64_t> context_overhead_bytes;  // what one context costs on this GPU (measured at start-up)
  std::atomic<uint32_t> sched_grant;             // 1 = the zone may submit GPU work (a futex word)
  std::atomic<uint32_t> gpu_util_permille;       // the zone's share of GPU time over the last interval
  std::atomic<uint64_t> gpu_ns;                  // GPU time accounted to the zone
  char driver_version[idm::kDriverVersionChars]; // the driver domain's driver version, NUL-terminated
  ProgramSlot slots[kMaxProgramsPerZone];
};
static_assert(sizeof(ZonePage) <= kZonePageBytes);

// Daemon side ------------------------------------------------------------------------------------------------
// Lays out a fresh page (zeroed memory): the lock, the magic, an open grant.
void init_zone_page(ZonePage& page) noexcept;
// A free slot, marked live and zeroed for a new worker; -1 when all kMaxProgramsPerZone are taken.
[[nodiscard]] int claim_slot(ZonePage& page) noexcept;
// The worker of `slot` is gone (reaped): its bytes no longer count.
void release_slot(ZonePage& page, int slot) noexcept;

// What counts against the quota now, summed over live slots (relaxed; for display and admission checks).
struct ZoneUsage {
  uint64_t device_bytes = 0;
  uint64_t overhead_bytes = 0;
  uint32_t programs = 0;  // live slots whose worker serves a program
  [[nodiscard]] uint64_t total() const noexcept {
    return device_bytes > UINT64_MAX - overhead_bytes ? UINT64_MAX : device_bytes + overhead_bytes;
  }
};
[[nodiscard]] ZoneUsage zone_usage(const ZonePage& page) noexcept;
// One program's bytes (device + overhead), saturating: a lying worker cannot make it wrap.
[[nodiscard]] uint64_t slot_bytes(const ProgramSlot& slot) noexcept;

// Worker side ------------------------------------------------------------------------------------------------
enum class ChargeKind { kDevice, kOverhead };
enum class ChargeResult { kOk, kOverQuota, kLockTimeout };
// Adds `bytes` to `slot` if the zone's live slots plus `bytes` stay within the quota. The lock wait is bounded
// (`wait`): a worker that holds it forever costs the other programs of its zone their allocations, not a hang.
[[nodiscard]] ChargeResult charge_zone(ZonePage& page, int slot, ChargeKind kind, uint64_t bytes,
                                       std::chrono::milliseconds wait = std::chrono::seconds(1)) noexcept;
// Gives back what charge_zone added (never below zero).
void uncharge_zone(ZonePage& page, int slot, ChargeKind kind, uint64_t bytes) noexcept;

}  // namespace xg::proxy
