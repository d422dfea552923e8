// Weighted sharing of GPU time between zones (DESIGN.md "Time"). The daemon decides, the workers obey: each
// worker asks for the right to submit before every operation that puts work on the GPU (launches, copies,
// memsets) by reading its grant in the control page, and waits while it has none.
//
// Policy, evaluated every tick by the daemon:
//   - a zone is *contending* if it submitted work or waited for a grant within the last `idle_after`;
//   - one contending zone or none: every zone holds a grant ("open": a zone alone gets the whole GPU, at the
//     cost of one relaxed load per submission);
//   - two or more: one zone at a time holds the grant for a slice; the next holder is the contending zone with the
//     least virtual time (GPU time held / weight), so over time each contending zone holds the GPU in proportion
//     to its weight. A zone that starts contending joins at the current minimum virtual time: it cannot claim
//     back the time it was idle and starve the others. A holder that neither submitted nor waited since the last
//     tick while another zone waits hands the grant over at once (the daemon ticks at least once a slice while
//     slicing, so a zone that goes idle gives its share away within one slice, not after `idle_after`).
// Accounting: every tick's elapsed time is charged to the zones that held a grant and were contending (all of
// them in open mode, the holder in sliced mode). This is time the zone was allowed to submit while it had work;
// the driver may still run a slice's queued work into the next slice (no preemption of a running kernel).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <span>

namespace xg::proxy {

class TimeSlicer {
 public:
  using Clock = std::chrono::steady_clock;
  struct Options {
    std::chrono::nanoseconds slice{std::chrono::milliseconds(10)};
    std::chrono::nanoseconds idle_after{std::chrono::milliseconds(20)};
  };
  // What the daemon reads from a serving zone's control page each tick.
  struct Observation {
    uint32_t zone_id = 0;
    uint32_t weight = 1;
    uint64_t submits = 0;  // the worker's count of gated submissions (free-running)
    bool waiting = false;  // the worker is blocked waiting for a grant
  };
  // What the daemon writes back.
  struct Decision {
    uint32_t zone_id = 0;
    bool grant = true;
    uint64_t gpu_ns = 0;  // accounted so far
  };

  TimeSlicer() : TimeSlicer(Options{}) {}
  explicit TimeSlicer(Options o) : opts_(o) {}

  // One tick over every serving zone (zones not listed are forgotten). `out` receives one decision per
  // observation, in the same order.
  void tick(Clock::time_point now, std::span<const Observation> zones, std::span<Decision> out);
  // True while time-slicing.
  [[nodiscard]] bool slicing() const noexcept { return holder_ != 0; }
  // How soon the daemon should tick again: at the end of the current slice while slicing, every 5 ms while a zone
  // works and another serves (to notice contention), every 50 ms otherwise.
  [[nodiscard]] std::chrono::milliseconds next_tick() const noexcept;

 private:
  struct State {
    uint64_t submits = 0;
    Clock::time_point last_active{};
    bool contending = false;
    bool active_now = false;  // submitted or waited since the previous tick
    double vtime = 0;  // ns held / weight
    uint64_t gpu_ns = 0;
  };
  Options opts_;
  std::map<uint32_t, State> zones_;
  uint32_t holder_ = 0;  // zone id holding the slice (0: open mode)
  Clock::time_point slice_end_{}, last_tick_{};
  bool started_ = false;
};

}  // namespace xg::proxy
