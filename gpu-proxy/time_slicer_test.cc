// The weighted time slicer on simulated time: zones that hold a grant submit, zones without one wait.
#include "gpu-proxy/time_slicer.h"

#include <doctest/doctest.h>

#include <vector>

namespace xg::proxy {
namespace {

using namespace std::chrono_literals;
using Clock = TimeSlicer::Clock;

struct SimZone {
  uint32_t id, weight;
  bool busy = true;  // has work to submit
  uint64_t submits = 0;
  bool granted = true;
  uint64_t gpu_ns = 0;
  uint64_t granted_ticks = 0;
};

// Runs `ticks` ticks of 1 ms; a busy zone with a grant submits in each tick, one without a grant waits.
void run(TimeSlicer& ts, std::vector<SimZone>& zs, Clock::time_point& now, int ticks) {
  for (int t = 0; t < ticks; ++t) {
    std::vector<TimeSlicer::Observation> obs;
    for (SimZone& z : zs) {
      if (z.busy && z.granted) ++z.submits;
      obs.push_back({z.id, z.weight, z.submits, z.busy && !z.granted});
    }
    std::vector<TimeSlicer::Decision> dec(obs.size());
    now += 1ms;
    ts.tick(now, obs, dec);
    for (size_t i = 0; i < zs.size(); ++i) {
      REQUIRE(dec[i].zone_id == zs[i].id);
      zs[i].granted = dec[i].grant;
      zs[i].gpu_ns = dec[i].gpu_ns;
      if (dec[i].grant && zs[i].busy) ++zs[i].granted_ticks;
    }
  }
}

TEST_CASE("a lone serving zone is left alone: the daemon ticks slowly") {
  TimeSlicer ts;
  Clock::time_point now{};
  std::vector<SimZone> zs = {{1, 1}};
  run(ts, zs, now, 100);
  CHECK(zs[0].granted_ticks == 100);
  CHECK(ts.next_tick() == std::chrono::milliseconds(50));
}

TEST_CASE("a zone alone holds the GPU all the time; idle zones are not charged") {
  TimeSlicer ts;
  Clock::time_point now{};
  std::vector<SimZone> zs = {{1, 1}, {2, 5}};
  zs[1].busy = false;
  run(ts, zs, now, 1000);
  CHECK(!ts.slicing());
  CHECK(zs[0].granted_ticks == 1000);
  CHECK(zs[1].gpu_ns == 0);
  CHECK(zs[0].gpu_ns >= 990'000'000ull);
}

TEST_CASE("two busy zones share GPU time in proportion to their weights") {
  TimeSlicer ts;
  Clock::time_point now{};
  std::vector<SimZone> zs = {{1, 1}, {2, 3}};
  run(ts, zs, now, 10'000);
  CHECK(ts.slicing());
  const double ratio = double(zs[1].granted_ticks) / double(zs[0].granted_ticks);
  CHECK(ratio > 2.8);
  CHECK(ratio < 3.2);
  // Never both at once while slicing: the held ticks add up to at most the elapsed ticks (plus the open start).
  CHECK(zs[0].granted_ticks + zs[1].granted_ticks <= 10'000 + 20);
  const double acc = double(zs[1].gpu_ns) / double(zs[0].gpu_ns);
  CHECK(acc > 2.8);
  CHECK(acc < 3.2);
}

TEST_CASE("while slicing, the next decision is due at the end of the slice") {
  TimeSlicer ts;
  Clock::time_point now{};
  std::vector<SimZone> zs = {{1, 1}, {2, 1}};
  run(ts, zs, now, 3);  // both busy: slicing starts, a 10 ms slice
  CHECK(ts.slicing());
  CHECK(ts.next_tick() >= std::chrono::milliseconds(8));
  CHECK(ts.next_tick() <= std::chrono::milliseconds(10));
}

TEST_CASE("three zones, weights 1:2:4") {
  TimeSlicer ts;
  Clock::time_point now{};
  std::vector<SimZone> zs = {{7, 1}, {8, 2}, {9, 4}};
  run(ts, zs, now, 14'000);
  const double total = double(zs[0].granted_ticks + zs[1].granted_ticks + zs[2].granted_ticks);
  CHECK(double(zs[0].granted_ticks) / total == doctest::Approx(1.0 / 7).epsilon(0.1));
  CHECK(double(zs[1].granted_ticks) / total == doctest::Approx(2.0 / 7).epsilon(0.1));
  CHECK(double(zs[2].granted_ticks) / total == doctest::Approx(4.0 / 7).epsilon(0.1));
}

TEST_CASE("a zone back from idleness cannot claim the time it did not use") {
  TimeSlicer ts;
  Clock::time_point now{};
  std::vector<SimZone> zs = {{1, 1}, {2, 1}};
  zs[1].busy = false;
  run(ts, zs, now, 5000);  // zone 1 alone for 5 s
  zs[1].busy = true;
  const uint64_t before = zs[0].granted_ticks;
  run(ts, zs, now, 2000);
  const uint64_t z1 = zs[0].granted_ticks - before, z2 = zs[1].granted_ticks;
  CHECK(z1 > 800);  // equal weights: about 1000 each, not 0 for zone 1 while zone 2 "catches up"
  CHECK(z2 > 800);
}

TEST_CASE("when the other zone goes idle the remaining one gets the whole GPU back") {
  TimeSlicer ts;
  Clock::time_point now{};
  std::vector<SimZone> zs = {{1, 1}, {2, 1}};
  run(ts, zs, now, 1000);
  CHECK(ts.slicing());
  zs[1].busy = false;
  run(ts, zs, now, 100);  // idleness is noticed after idle_after (20 ms)
  const uint64_t before = zs[0].granted_ticks;
  run(ts, zs, now, 500);
  CHECK(!ts.slicing());
  CHECK(zs[0].granted_ticks - before == 500);
  CHECK(ts.next_tick() == std::chrono::milliseconds(5));
}

TEST_CASE("a holder that goes idle hands the GPU over within one slice") {
  TimeSlicer ts;
  Clock::time_point now{};
  std::vector<SimZone> zs = {{1, 1}, {2, 1}};
  run(ts, zs, now, 1003);
  REQUIRE(ts.slicing());
  // Stop whichever zone holds the grant now, a few ms into its slice.
  SimZone& holder = zs[0].granted ? zs[0] : zs[1];
  SimZone& other = zs[0].granted ? zs[1] : zs[0];
  holder.busy = false;
  int waited = 0;
  while (!other.granted && waited < 50) {
    run(ts, zs, now, 1);
    ++waited;
  }
  MESSAGE("the other zone got the grant " << waited << " ms after the holder stopped");
  CHECK(other.granted);
  CHECK(waited <= 2);  // at the next tick (the daemon ticks at least once a slice while slicing)
}

TEST_CASE("zones that end are forgotten; the holder's end passes the GPU on") {
  TimeSlicer ts;
  Clock::time_point now{};
  std::vector<SimZone> zs = {{1, 1}, {2, 1}, {3, 1}};
  run(ts, zs, now, 300);
  zs.erase(zs.begin());  // zone 1 ends, whoever held the slice
  run(ts, zs, now, 1000);
  CHECK(zs[0].granted_ticks > 300);
  CHECK(zs[1].granted_ticks > 300);
}

}  // namespace
}  // namespace xg::proxy
