#include "gpu-proxy/op_profile.h"

#include <algorithm>
#include <cstdio>
#include <vector>

namespace xg::proxy {

#define XG_COUNT_OP(name, code, kind, effect, req, rsp, req_tail, rsp_tail) +1
static_assert(0 IDM_MESSAGES(XG_COUNT_OP) <= kProfileOps, "raise kProfileOps: more opcodes than profile slots");
#undef XG_COUNT_OP

namespace {

// The upper bound of bucket b, in microseconds.
double bucket_us(size_t b) { return double(uint64_t{1} << (b + 9)) / 1000.0; }

// The bucket holding quantile q of the histogram.
size_t quantile_bucket(const uint64_t (&h)[kProfileBuckets], uint64_t n, double q) {
  const auto want = static_cast<uint64_t>(q * double(n - 1)) + 1;
  uint64_t seen = 0;
  for (size_t b = 0; b < kProfileBuckets; ++b)
    if ((seen += h[b]) >= want) return b;
  return kProfileBuckets - 1;
}

}  // namespace

std::string format_profile(const ControlPage& page, std::string_view zone, size_t top) {
  if (idm::all_ops().size() > kProfileOps) return "profile: more opcodes than slots\n";
  struct Row {
    const char* name;
    uint64_t calls, total_ns;
    uint64_t h[kProfileBuckets];
  };
  std::vector<Row> rows;
  const auto ops = idm::all_ops();
  for (size_t i = 0; i < ops.size(); ++i) {
    const OpProfile& p = page.profile[i];
    Row r{ops[i].name, p.calls.load(std::memory_order_relaxed), p.total_ns.load(std::memory_order_relaxed), {}};
    if (r.calls == 0) continue;
    uint64_t n = 0;
    for (size_t b = 0; b < kProfileBuckets; ++b) n += (r.h[b] = p.buckets[b].load(std::memory_order_relaxed));
    r.calls = std::max(r.calls, n);  // the worker may be between its stores
    rows.push_back(r);
  }
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.total_ns > b.total_ns; });
  if (top != 0 && rows.size() > top) rows.resize(top);
  std::string out;
  char line[200];
  std::snprintf(line, sizeof line, "%-20s %-26s %10s %10s %10s %10s %12s\n", "ZONE", "OPCODE", "CALLS", "MEAN_US",
                "P50_US<=", "P99_US<=", "TOTAL_MS");
  out += line;
  for (const Row& r : rows) {
    uint64_t n = 0;
    for (uint64_t c : r.h) n += c;
    const double p50 = n ? bucket_us(quantile_bucket(r.h, n, 0.50)) : 0;
    const double p99 = n ? bucket_us(quantile_bucket(r.h, n, 0.99)) : 0;
    std::snprintf(line, sizeof line, "%-20.*s %-26s %10llu %10.2f %10.1f %10.1f %12.2f\n", int(zone.size()),
                  zone.data(), r.name, (unsigned long long)r.calls, double(r.total_ns) / 1e3 / double(r.calls),
                  p50, p99, double(r.total_ns) / 1e6);
    out += line;
  }
  return out;
}

}  // namespace xg::proxy
