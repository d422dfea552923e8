// GPU time shared by weight against a real gpu-proxy (stub mode): two zones submitting work back to back get
// the GPU in proportion to their weights; a zone alone is not held back.
#include <doctest/doctest.h>

#include <atomic>
#include <sstream>
#include <thread>

#include "tests/integration/proxy_fixture.h"

namespace xg::test {
namespace {

using idm::Op;
using namespace std::chrono_literals;

// Synchronous 1 MiB memsets for `seconds` once `go` is set; returns how many completed.
uint64_t memset_loop(RawZone& z, uint64_t dst, const std::atomic<bool>& go, std::chrono::milliseconds how_long) {
  while (!go.load()) std::this_thread::yield();
  uint64_t n = 0;
  const auto end = std::chrono::steady_clock::now() + how_long;
  while (std::chrono::steady_clock::now() < end) {
    if (z.call<Op::Memset>({z.ctx, 0, dst, 256 << 10, static_cast<uint32_t>(n), 4}).result != CUDA_SUCCESS) break;
    ++n;
  }
  return n;
}

// Column `col` of `zones` for the zone named `name` (empty if absent). Columns: ID NAME STATE QUOTA USED PEAK
// WEIGHT PROGRAMS OVERHEAD GPU% CALLS/S CALLS REJECTED GPU_MS OOM WORKERS.
std::string column(const std::string& table, const std::string& name, size_t col) {
  std::istringstream in(table);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::vector<std::string> cols;
    for (std::string c; f >> c;) cols.push_back(c);
    if (cols.size() == 16 && cols[1] == name) return cols[col];
  }
  return "";
}
double gpu_ms(const std::string& table, const std::string& name) {
  const std::string v = column(table, name, 13);
  return v.empty() ? -1 : std::stod(v);
}

// A zone of `proxy` (declared on its command line), connected, its primary context current, 1 MiB allocated.
struct ReadyZone {
  ReadyZone(const ProxyProcess& proxy, const std::string& name) : z(proxy.zone_socket(), name) {
    REQUIRE(z.ok());
    REQUIRE(z.init());
    auto [r, p] = z.alloc(1 << 20);
    REQUIRE(r == CUDA_SUCCESS);
    dst = p;
  }
  RawZone z;
  uint64_t dst = 0;
};

// Two zones issuing memsets at once for `how_long`: how many each completed and the GPU time the proxy accounted.
struct PairRun {
  uint64_t na = 0, nb = 0;
  double ga = 0, gb = 0;
};
PairRun run_pair(const ProxyProcess& proxy, ReadyZone& a, const std::string& name_a, ReadyZone& b,
                 const std::string& name_b, std::chrono::milliseconds how_long) {
  PairRun r;
  std::atomic<bool> go{false};
  std::thread ta([&] { r.na = memset_loop(a.z, a.dst, go, how_long); });
  std::thread tb([&] { r.nb = memset_loop(b.z, b.dst, go, how_long); });
  go = true;
  ta.join();
  tb.join();
  const std::string table = proxy.zones();
  r.ga = gpu_ms(table, name_a);
  r.gb = gpu_ms(table, name_b);
  MESSAGE(name_a << " / " << name_b << ": memsets " << r.na << " / " << r.nb << ", accounted GPU ms " << r.ga
                 << " / " << r.gb);
  return r;
}

TEST_CASE("two zones working at once share GPU time by weight (1:3)") {
  ProxyProcess proxy({"--zone", "light:256MiB:1", "--zone", "heavy:256MiB:3"});
  ReadyZone a(proxy, "light"), b(proxy, "heavy");
  CHECK(column(proxy.zones(), "light", 6) == "1");
  CHECK(column(proxy.zones(), "heavy", 6) == "3");
  const PairRun r = run_pair(proxy, a, "light", b, "heavy", 2500ms);
  REQUIRE(r.na > 0);
  REQUIRE(r.ga > 0);
  // The proxy's accounting follows the weights closely (2.96-3.08x measured); the work each zone gets done per
  // millisecond it holds the GPU varies with how the busy processes share 2 cores (2.7-2.8x in this build,
  // 2.6-6.3x in release builds), so it is held to "clearly more", and without the slicer it is ~1x.
  CHECK(r.gb / r.ga > 2.5);
  CHECK(r.gb / r.ga < 3.5);
  CHECK(double(r.nb) / double(r.na) > 1.8);
}

TEST_CASE("an operator changes a running zone's weight (xen-gpu weight): the shares follow") {
  ProxyProcess proxy({"--zone", "left:256MiB:1", "--zone", "right:256MiB:1"});
  ReadyZone a(proxy, "left"), b(proxy, "right");
  std::string err;
  auto admin = proxy::AdminClient::connect(proxy.admin_socket(), err);
  REQUIRE(admin);
  CHECK(admin->request("weight right 3").value_or("") == "ok");
  CHECK(admin->request("weight nosuchzone 3").value_or("").rfind("error", 0) == 0);
  CHECK(admin->request("weight right 0").value_or("").rfind("error", 0) == 0);
  CHECK(column(proxy.zones(), "right", 6) == "3");
  const PairRun r = run_pair(proxy, a, "left", b, "right", 2000ms);
  REQUIRE(r.ga > 0);
  CHECK(r.gb / r.ga > 2.5);
  CHECK(r.gb / r.ga < 3.5);
}

TEST_CASE("a zone alone gets the whole GPU: the slicer does not hold it back") {
  ProxyProcess proxy({"--zone", "solo:256MiB:1", "--zone", "idle:256MiB:8"});
  ReadyZone a(proxy, "solo"), idle(proxy, "idle");  // idle: registered and serving, but submits nothing
  std::atomic<bool> go{true};
  const uint64_t n = memset_loop(a.z, a.dst, go, 1000ms);
  const std::string table = proxy.zones();
  const double g = gpu_ms(table, "solo");
  MESSAGE("memsets alone: " << n << "; accounted GPU ms " << g);
  CHECK(n > 0);
  // Held the grant (open mode) for the second it worked, less the up to 50 ms before the daemon first saw it.
  CHECK(g > 700.0);
  CHECK(gpu_ms(table, "idle") == 0.0);
}

}  // namespace
}  // namespace xg::test
