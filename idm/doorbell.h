// A doorbell wakes the peer of a channel. One interface, two transports:
//   shm: FUTEX_WAKE / FUTEX_WAIT on a word in the shared page (futex_doorbell.h);
//   xen: an interdomain event channel (xenevtchn_notify / poll on the evtchn fd).
// Doorbells are hints. A waiter always re-checks ring state after waking, so a spurious or lost-then-resent
// notification (a freshly bound Xen port always has one pending) is harmless, and nobody counts events.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace xg::idm {

class Doorbell {
 public:
  virtual ~Doorbell() = default;
  // Wakes whoever sleeps on `word` (shm) or on this channel (xen). Called only after the caller has bumped
  // `word` and seen the peer's "sleeping" flag set.
  virtual void notify(std::atomic<uint32_t>& word) noexcept = 0;
  // Sleeps until notified, `word` != `seen`, or `timeout`. May return early for no reason.
  virtual void wait(std::atomic<uint32_t>& word, uint32_t seen, std::chrono::microseconds timeout) noexcept = 0;
  // False once the peer is known dead or has closed the channel (socket hang-up, domain gone).
  [[nodiscard]] virtual bool peer_alive() noexcept = 0;
  // Makes a wait() on `word` by another thread of this process return now (or the next one at once): a local
  // wake-up, for a waiter that also waits for something other than the peer (RingConsumer::wait_ready).
  virtual void interrupt(std::atomic<uint32_t>& word) noexcept = 0;
};

// How long a waiter polls before sleeping. Waking a sleeping process costs ~27 us one way on our 2-core VMs
// (measured with a futex ping-pong between two processes) while a polled round trip costs 0.1-0.5 us, so the default
// budget spins for about twice the wake cost: a peer that answers within that budget is never put to sleep,
// one that does not costs us at most one wake-up. After spinning we yield a few times (with more pollers than
// cores, a spinning waiter must let the peer run), then sleep. XG_IDM_SPIN_US overrides the budget.
struct SpinPolicy {
  std::chrono::microseconds spin{50};
  int yields = 8;
  std::chrono::microseconds sleep_slice{100'000};  // bounded sleeps: liveness is re-checked after each
  [[nodiscard]] static SpinPolicy from_env() noexcept;
};

}  // namespace xg::idm
