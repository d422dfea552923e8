// The per-opcode profile a worker keeps in its control page (control.h: OpProfile), and its table for people
// (`xen-gpu profile`, and the worker's last log line): so a slow path is found by measurement.
#pragma once

#include <bit>
#include <cstdint>
#include <string>
#include <string_view>

#include "gpu-proxy/control.h"
#include "idm/protocol.h"

namespace xg::proxy {

// Counts one handled request of `op` that took `ns`. The worker is the only writer: plain relaxed load and store,
// no locked instruction on the hot path.
inline void record_op(ControlPage& page, const idm::OpInfo* op, uint64_t ns) noexcept {
  const size_t i = static_cast<size_t>(op - idm::all_ops().data());
  if (i >= kProfileOps) return;
  OpProfile& p = page.profile[i];
  const int w = std::bit_width(ns);
  const size_t b = w <= 9 ? 0 : std::min<size_t>(static_cast<size_t>(w - 9), kProfileBuckets - 1);
  p.calls.store(p.calls.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  p.total_ns.store(p.total_ns.load(std::memory_order_relaxed) + ns, std::memory_order_relaxed);
  p.buckets[b].store(p.buckets[b].load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

// One line per opcode that was called, most total time first (at most `top`; 0: all): calls, mean, p50 and p99
// (upper bounds of their histogram buckets), total. Headed by the zone's name.
[[nodiscard]] std::string format_profile(const ControlPage& page, std::string_view zone, size_t top = 0);

}  // namespace xg::proxy
