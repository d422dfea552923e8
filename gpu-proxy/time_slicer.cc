#include "gpu-proxy/time_slicer.h"

#include <algorithm>
#include <limits>
#include <set>

namespace xg::proxy {

void TimeSlicer::tick(Clock::time_point now, std::span<const Observation> zones, std::span<Decision> out) {
  const uint64_t elapsed =
      started_ ? static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now - last_tick_).count())
               : 0;
  started_ = true;
  last_tick_ = now;

  std::set<uint32_t> listed;
  for (const Observation& o : zones) listed.insert(o.zone_id);
  std::erase_if(zones_, [&](const auto& kv) { return !listed.contains(kv.first); });
  if (holder_ != 0 && !zones_.contains(holder_)) holder_ = 0;

  // 1. Charge the interval that just ended to the zones that held a grant in it and had work.
  for (const Observation& o : zones) {
    auto it = zones_.find(o.zone_id);
    if (it == zones_.end() || !it->second.contending) continue;
    if (holder_ != 0 && o.zone_id != holder_) continue;
    it->second.gpu_ns += elapsed;
    it->second.vtime += static_cast<double>(elapsed) / std::max<uint32_t>(o.weight, 1);
  }

  // 2. Who has work now.
  double min_vtime = std::numeric_limits<double>::infinity();
  for (const auto& [id, s] : zones_)
    if (s.contending) min_vtime = std::min(min_vtime, s.vtime);
  size_t contending = 0;
  bool others_wait = false;
  for (const Observation& o : zones) {
    State& s = zones_[o.zone_id];
    const bool was = s.contending;
    s.active_now = o.submits != s.submits || o.waiting;
    others_wait |= o.waiting && o.zone_id != holder_;
    if (s.active_now) s.last_active = now;
    s.submits = o.submits;
    s.contending = s.last_active != Clock::time_point{} && now - s.last_active < opts_.idle_after;
    // A zone back from idleness starts at the others' minimum: it cannot claim the time it did not use.
    if (s.contending && !was && min_vtime != std::numeric_limits<double>::infinity())
      s.vtime = std::max(s.vtime, min_vtime);
    contending += s.contending ? 1 : 0;
  }

  // 3. Open, or one holder per slice.
  if (contending <= 1) {
    holder_ = 0;
  } else if (holder_ == 0 || !zones_[holder_].contending || now >= slice_end_ ||
             (!zones_[holder_].active_now && others_wait)) {
    uint32_t pick = 0;
    double best = std::numeric_limits<double>::infinity();
    const uint32_t idle_holder = holder_ != 0 && !zones_[holder_].active_now && others_wait ? holder_ : 0;
    for (const auto& [id, s] : zones_) {
      if (!s.contending || id == idle_holder) continue;
      // Ties go to a zone other than the one whose slice just ended.
      const bool better = s.vtime < best || (s.vtime == best && pick == holder_);
      if (better) {
        best = s.vtime;
        pick = id;
      }
    }
    holder_ = pick;
    slice_end_ = now + opts_.slice;
  }

  for (size_t i = 0; i < zones.size() && i < out.size(); ++i) {
    const State& s = zones_[zones[i].zone_id];
    out[i] = Decision{zones[i].zone_id, holder_ == 0 || holder_ == zones[i].zone_id, s.gpu_ns};
  }
}

std::chrono::milliseconds TimeSlicer::next_tick() const noexcept {
  if (holder_ != 0) {  // the next decision is due when the slice ends (a waiting zone cannot be served sooner)
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(slice_end_ - last_tick_);
    return std::clamp(left, std::chrono::milliseconds(1), std::chrono::duration_cast<std::chrono::milliseconds>(opts_.slice));
  }
  // Ticking often only matters where a second zone could start contending; a lone zone is left alone (the
  // daemon's wake-ups cost a busy 2-core machine measurably). 50 ms is also how late a zone that starts
  // working is first seen, and charged.
  if (zones_.size() < 2) return std::chrono::milliseconds(50);
  for (const auto& [id, s] : zones_)
    if (s.contending) return std::chrono::milliseconds(5);
  return std::chrono::milliseconds(50);
}

}  // namespace xg::proxy
