// A single-producer single-consumer ring of variable-length records in memory shared with a peer that may be
// hostile (idm's request and response rings).
//
// Contract: exactly one producer thread and one consumer thread, normally in different processes or domains.
// Each side keeps its own cursor privately and only *publishes* it; nothing either side reads back from the
// shared page is trusted for memory safety (the other side may write anything there at any time).
//
// Layout: a RingControl block (three 64-byte lines) and `capacity` data bytes (a power of two, multiple of 64).
// A record at free-running byte position p starts at data[p % capacity] with a 16-byte RecordHeader
// {stamp, length, reserved} followed by `length` payload bytes (wrapping at the end of the data area); the next
// record starts at p + round_up(16 + length, 64). The producer publishes a record by storing stamp = p + 1
// (release) after writing it, so the consumer polls the line it is about to read rather than a separate
// producer index: a small message costs one cache-line transfer, not two. Stamps are 64-bit and free-running,
// so a stale stamp from an earlier lap can never equal p + 1; zeroed memory (stamp 0) never looks published.
//
// Memory ordering, the four decisions (each commented at its line):
//   1. own cursor: private, plain variables;
//   2. peer's work: stamp (consumer) and cons (producer) loaded with acquire;
//   3. publish a record: stamp stored with release after the payload bytes;
//   4. publish consumption: cons stored with release after the copy-out.
// Sleeping for data uses the Dekker pattern: the sleeper stores its flag, fences (seq_cst) and re-checks; the
// producer publishes with a seq_cst exchange and loads the flag seq_cst, so one of them sees the other.
// Sleeping for space (ring full) is a bounded nap instead: see RingConsumer::try_pop.
#pragma once

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "idm/doorbell.h"
#include "idm/result.h"

namespace xg::idm {

inline constexpr uint32_t kRecordAlign = 64;
inline constexpr uint32_t kRecordHeaderBytes = 16;

static_assert(std::atomic<uint64_t>::is_always_lock_free);
static_assert(std::atomic<uint32_t>::is_always_lock_free);

struct RingControl {
  alignas(64) std::atomic<uint64_t> cons;           // consumer's published position; written by consumer only
  alignas(64) std::atomic<uint32_t> cons_sleeping;  // consumer: "about to sleep, notify me"
  std::atomic<uint32_t> data_bell;                  // bumped by the producer when it notifies the consumer
  alignas(64) std::atomic<uint32_t> prod_sleeping;  // producer: "ring full, about to sleep"
  std::atomic<uint32_t> space_bell;                 // bumped by the consumer when it notifies the producer
};
static_assert(sizeof(RingControl) == 192);
static_assert(offsetof(RingControl, cons_sleeping) == 64);
static_assert(offsetof(RingControl, prod_sleeping) == 128);

struct RecordHeader {
  uint64_t stamp;   // position + 1 once published
  uint32_t length;  // payload bytes
  uint32_t reserved;
};
static_assert(sizeof(RecordHeader) == kRecordHeaderBytes);

// Where one ring lives. Built by the channel layout from its own (trusted) geometry, never from shared bytes.
struct RingView {
  RingControl* control = nullptr;
  std::byte* data = nullptr;
  uint32_t capacity = 0;     // power of two, >= 4096
  uint32_t max_payload = 0;  // records longer than this are a protocol violation
  [[nodiscard]] static constexpr uint32_t record_bytes(uint32_t payload) noexcept {
    return (kRecordHeaderBytes + payload + kRecordAlign - 1) & ~(kRecordAlign - 1);
  }
  [[nodiscard]] bool valid() const noexcept {
    return control && data && capacity >= 4096 && std::has_single_bit(capacity) &&
           record_bytes(max_payload) <= capacity / 2;
  }
};

// Spin, yield, then sleep until ready(); re-checks the peer's liveness between bounded sleeps.
// `sleeping` and `bell` are this waiter's flag and futex word in the shared page.
template <typename Ready>
[[nodiscard]] Error await(Ready&& ready, std::atomic<uint32_t>& sleeping, std::atomic<uint32_t>& bell,
                          Doorbell& doorbell, const SpinPolicy& policy,
                          std::chrono::steady_clock::time_point deadline) {
  using clock = std::chrono::steady_clock;
  // Poll a little before the first clock read: most answers on a polled channel come within a few hundred ns.
  for (int i = 0; i < 64; ++i) {
    if (ready()) return Error::kOk;
    __builtin_ia32_pause();
  }
  // Then poll with pause for a few microseconds, and for the rest of the budget yield between polls: when the
  // peer shares our core (a third process took the other one), a pure spin would burn the whole budget while the
  // peer cannot run; sched_yield hands it the core and costs little when nobody else is runnable.
  const auto now0 = clock::now();
  const auto spin_end = now0 + policy.spin;
  const auto pause_end = now0 + std::min<clock::duration>(policy.spin, std::chrono::microseconds(5));
  for (uint32_t i = 0;; ++i) {
    if (ready()) return Error::kOk;
    __builtin_ia32_pause();
    if ((i & 15) == 15) {
      const auto t = clock::now();
      if (t >= spin_end) break;
      if (t >= pause_end) sched_yield();
    }
  }
  for (int i = 0; i < policy.yields; ++i) {
    if (ready()) return Error::kOk;
    sched_yield();
  }
  for (;;) {
    const uint32_t seen = bell.load(std::memory_order_acquire);
    sleeping.store(1, std::memory_order_relaxed);
    // Dekker with RingProducer::try_push: our flag store must be visible before we re-check the ring, and the
    // producer's stamp before its flag load. One of us sees the other; a missed wake-up is impossible.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (ready()) {
      sleeping.store(0, std::memory_order_relaxed);
      return Error::kOk;
    }
    const auto now = clock::now();
    if (now >= deadline) {
      sleeping.store(0, std::memory_order_relaxed);
      return Error::kTimeout;
    }
    auto slice = std::min<clock::duration>(policy.sleep_slice, deadline - now);
    doorbell.wait(bell, seen, std::chrono::duration_cast<std::chrono::microseconds>(slice));
    sleeping.store(0, std::memory_order_relaxed);
    if (ready()) return Error::kOk;
    if (!doorbell.peer_alive()) return Error::kPeerGone;
  }
}

inline constexpr auto kForever = std::chrono::steady_clock::time_point::max();

class RingProducer {
 public:
  RingProducer() = default;
  RingProducer(RingView view, Doorbell* doorbell, SpinPolicy policy = SpinPolicy::from_env())
      : v_(view), bell_(doorbell), space_policy_(policy) {
    space_policy_.sleep_slice = std::min(space_policy_.sleep_slice, std::chrono::microseconds(1000));
  }

  // Appends one record gathered from `parts` if there is room now. kEmpty means "full, try later".
  [[nodiscard]] Error try_push(std::span<const std::span<const std::byte>> parts) noexcept;
  // Appends, waiting for room (back-pressure) until `deadline` or the peer's death.
  [[nodiscard]] Error push(std::span<const std::span<const std::byte>> parts,
                           std::chrono::steady_clock::time_point deadline = kForever) noexcept;
  // Convenience for a single contiguous record.
  [[nodiscard]] Error push(std::span<const std::byte> bytes,
                           std::chrono::steady_clock::time_point deadline = kForever) noexcept {
    std::span<const std::byte> one[1] = {bytes};
    return push(one, deadline);
  }
  [[nodiscard]] uint64_t position() const noexcept { return prod_; }
  [[nodiscard]] const RingView& view() const noexcept { return v_; }

 private:
  [[nodiscard]] Error room_for(uint32_t bytes) noexcept;
  RingView v_;
  Doorbell* bell_ = nullptr;
  SpinPolicy space_policy_;  // waits for space nap at most 1 ms (their wake-up is a hint)
  uint64_t prod_ = 0;        // 1. own cursor: private
  uint64_t cons_cache_ = 0;  // last validated value of the peer's cons
};

class RingConsumer {
 public:
  RingConsumer() = default;
  RingConsumer(RingView view, Doorbell* doorbell, SpinPolicy policy = SpinPolicy::from_env())
      : v_(view), bell_(doorbell), policy_(policy) {}

  // Copies the next record's payload out of shared memory into `out` (which must hold max_payload bytes)
  // and returns its length. kEmpty: nothing published. kPeerImpossible: the peer broke the ring contract
  // (close the channel). Each shared byte is read exactly once.
  [[nodiscard]] Result<uint32_t> try_pop(std::span<std::byte> out) noexcept;
  // Waits (spin, then sleep) for the next record.
  [[nodiscard]] Result<uint32_t> pop(std::span<std::byte> out,
                                     std::chrono::steady_clock::time_point deadline = kForever) noexcept;
  // True if a record is published at the current position (a hint; try_pop decides).
  [[nodiscard]] bool ready() const noexcept;
  // Waits (spin, then sleep) until a record is published or `woken` is set by interrupt()'s caller. kOk either
  // way (check ready()); kTimeout; kPeerGone. For a consumer that also waits for something of its own (the zone
  // init's held CtlPoll waits for its processes' output and for the shim's next request at once).
  [[nodiscard]] Error wait_ready(std::chrono::steady_clock::time_point deadline,
                                 const std::atomic<bool>& woken) noexcept;
  // From another thread, after setting the `woken` flag a wait_ready() watches: ends that wait now.
  void interrupt() noexcept;
  [[nodiscard]] uint64_t position() const noexcept { return cons_; }
  [[nodiscard]] const RingView& view() const noexcept { return v_; }

 private:
  RingView v_;
  Doorbell* bell_ = nullptr;
  SpinPolicy policy_;
  uint64_t cons_ = 0;  // 1. own cursor: private
};

// Copies with wrap-around; `pos` is a free-running byte position.
void ring_copy_in(const RingView& v, uint64_t pos, std::span<const std::byte> src) noexcept;
void ring_copy_out(const RingView& v, uint64_t pos, std::span<std::byte> dst) noexcept;

}  // namespace xg::idm
