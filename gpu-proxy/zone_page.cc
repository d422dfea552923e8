#include "gpu-proxy/zone_page.h"

#include <cerrno>
#include <ctime>

namespace xg::proxy {
namespace {

std::atomic<uint64_t>& field(ProgramSlot& s, ChargeKind kind) noexcept {
  return kind == ChargeKind::kDevice ? s.device_bytes : s.overhead_bytes;
}

// A worker-written sum must not wrap: a lying worker could otherwise make its zone look empty.
uint64_t sat_add(uint64_t a, uint64_t b) noexcept {
  uint64_t r;
  return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

}  // namespace

void init_zone_page(ZonePage& page) noexcept {
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(&page.lock, &a);
  pthread_mutexattr_destroy(&a);
  page.magic = kZonePageMagic;
  page.version = 1;
  page.sched_grant.store(1);
}

int claim_slot(ZonePage& page) noexcept {
  for (size_t i = 0; i < kMaxProgramsPerZone; ++i) {
    ProgramSlot& s = page.slots[i];
    if (s.live.load(std::memory_order_acquire) != 0) continue;
    // Dead slots are written by no one (their worker is reaped), so zeroing before marking live is race-free.
    s.zone_pid.store(0, std::memory_order_relaxed);
    s.device_bytes.store(0, std::memory_order_relaxed);
    s.overhead_bytes.store(0, std::memory_order_relaxed);
    s.sched_waiting.store(0, std::memory_order_relaxed);
    s.sched_submits.store(0, std::memory_order_relaxed);
    s.serving.store(0, std::memory_order_relaxed);
    s.live.store(1, std::memory_order_release);
    return static_cast<int>(i);
  }
  return -1;
}

void release_slot(ZonePage& page, int slot) noexcept {
  if (slot < 0 || static_cast<size_t>(slot) >= kMaxProgramsPerZone) return;
  page.slots[slot].live.store(0, std::memory_order_release);
}

uint64_t slot_bytes(const ProgramSlot& slot) noexcept {
  return sat_add(slot.device_bytes.load(std::memory_order_relaxed), slot.overhead_bytes.load(std::memory_order_relaxed));
}

ZoneUsage zone_usage(const ZonePage& page) noexcept {
  ZoneUsage u;
  for (const ProgramSlot& s : page.slots) {
    if (s.live.load(std::memory_order_acquire) == 0) continue;
    if (s.serving.load(std::memory_order_relaxed) != 0) ++u.programs;
    u.device_bytes = sat_add(u.device_bytes, s.device_bytes.load(std::memory_order_relaxed));
    u.overhead_bytes = sat_add(u.overhead_bytes, s.overhead_bytes.load(std::memory_order_relaxed));
  }
  return u;
}

ChargeResult charge_zone(ZonePage& page, int slot, ChargeKind kind, uint64_t bytes,
                         std::chrono::milliseconds wait) noexcept {
  if (slot < 0 || static_cast<size_t>(slot) >= kMaxProgramsPerZone) return ChargeResult::kOverQuota;
  timespec deadline{};
  ::clock_gettime(CLOCK_REALTIME, &deadline);  // pthread_mutex_timedlock's clock
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(wait).count();
  deadline.tv_sec += static_cast<time_t>(ns / 1'000'000'000);
  deadline.tv_nsec += static_cast<long>(ns % 1'000'000'000);
  if (deadline.tv_nsec >= 1'000'000'000) {
    ++deadline.tv_sec;
    deadline.tv_nsec -= 1'000'000'000;
  }
  const int rc = ::pthread_mutex_timedlock(&page.lock, &deadline);
  if (rc == EOWNERDEAD) {
    // A worker died holding the lock: it was between reading the slots and writing its own, which is now dead.
    ::pthread_mutex_consistent(&page.lock);
  } else if (rc != 0) {
    return ChargeResult::kLockTimeout;
  }
  const uint64_t quota = page.quota_bytes.load(std::memory_order_relaxed);
  const ZoneUsage u = zone_usage(page);
  const uint64_t used = sat_add(u.device_bytes, u.overhead_bytes);
  ChargeResult r = ChargeResult::kOverQuota;
  if (bytes <= quota && used <= quota - bytes) {
    field(page.slots[slot], kind).fetch_add(bytes, std::memory_order_relaxed);
    r = ChargeResult::kOk;
  }
  ::pthread_mutex_unlock(&page.lock);
  return r;
}

void uncharge_zone(ZonePage& page, int slot, ChargeKind kind, uint64_t bytes) noexcept {
  if (slot < 0 || static_cast<size_t>(slot) >= kMaxProgramsPerZone) return;
  // Only this worker writes its slot, and a lower sum can only make another worker's check more permissive in
  // the right way, so no lock is needed to give bytes back.
  std::atomic<uint64_t>& f = field(page.slots[slot], kind);
  uint64_t cur = f.load(std::memory_order_relaxed);
  while (!f.compare_exchange_weak(cur, cur > bytes ? cur - bytes : 0, std::memory_order_relaxed)) {
  }
}

}  // namespace xg::proxy
