// Untrusted zones against a real gpu-proxy (stub mode): handles and addresses of other zones, wrongly-typed and
// forged handles, out-of-range and overlapping copies, quotas, freed memory, hostile traffic, zone death.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "idm/testing/sample_messages.h"

#include "tests/integration/proxy_fixture.h"

namespace xg::test {
namespace {

using idm::Op;
using B = std::vector<std::byte>;

B bytes(size_t n, int seed) {
  B v(n);
  for (size_t i = 0; i < n; ++i) v[i] = std::byte((i * 31 + seed) & 0xff);
  return v;
}

TEST_CASE("a zone's memory round-trips; inline and data-area copies agree") {
  ProxyProcess proxy;
  RawZone z(proxy.zone_socket(), "roundtrip");
  REQUIRE(z.ok());
  REQUIRE(z.init());
  auto [r, p] = z.alloc(1 << 20);
  REQUIRE(r == CUDA_SUCCESS);
  auto src = bytes(4096, 3);
  CHECK(z.htod(p, src) == CUDA_SUCCESS);
  auto [r2, back] = z.dtoh(p, 4096);
  CHECK(r2 == CUDA_SUCCESS);
  CHECK(back == src);
  // Through the data area: 1 MiB out and back.
  auto big = bytes(1 << 20, 9);
  auto data = z.channel().data();
  std::memcpy(data.data(), big.data(), big.size());
  CHECK(z.call<Op::MemcpyHtoD>({z.ctx, 0, p, big.size(), 1, 0, 0, 0}).result == CUDA_SUCCESS);
  std::memset(data.data(), 0, big.size());
  CHECK(z.call<Op::MemcpyDtoH>({z.ctx, 0, p, big.size(), 1, 0, 0, 0}).result == CUDA_SUCCESS);
  CHECK(std::memcmp(data.data(), big.data(), big.size()) == 0);
  // The data-area probe: the worker's checksum of what it sees equals ours; ranges past the area are refused.
  auto probe = z.call<Op::BulkPut>({4096, 65536, idm::kBulkWantChecksum, 0});
  CHECK(probe.result == CUDA_SUCCESS);
  CHECK(probe.as<idm::BulkPutRsp>().checksum == idm::fnv1a(data.subspan(4096, 65536)));
  CHECK(z.call<Op::BulkPut>({data.size() - 8, 16, 0, 0}).result == CUDA_ERROR_INVALID_VALUE);
  CHECK(z.call<Op::BulkPut>({~0ull - 4, 16, 0, 0}).result == CUDA_ERROR_INVALID_VALUE);
}

TEST_CASE("zone B cannot use zone A's handles or device addresses") {
  ProxyProcess proxy;
  RawZone a(proxy.zone_socket(), "zone-a"), b(proxy.zone_socket(), "zone-b");
  REQUIRE((a.ok() && b.ok() && a.init() && b.init()));
  auto [ra, pa] = a.alloc(4096);
  REQUIRE(ra == CUDA_SUCCESS);
  REQUIRE(a.htod(pa, bytes(64, 1)) == CUDA_SUCCESS);
  auto s = a.call<Op::StreamCreate>({a.ctx, 0, 0});
  REQUIRE(s.result == CUDA_SUCCESS);
  const uint64_t stream_a = s.as<idm::U64Rsp>().value;

  // A's device address in B: every range check fails (B has no allocation there).
  CHECK(b.dtoh(pa, 64).first == CUDA_ERROR_INVALID_VALUE);
  CHECK(b.htod(pa, bytes(64, 2)) == CUDA_ERROR_INVALID_VALUE);
  CHECK(b.call<Op::MemFree>({b.ctx, pa}).result == CUDA_ERROR_INVALID_VALUE);
  CHECK(b.call<Op::Memset>({b.ctx, 0, pa, 16, 0, 1}).result == CUDA_ERROR_INVALID_VALUE);
  // A's handles in B: not in B's table.
  CHECK(b.call<Op::StreamSynchronize>({b.ctx, stream_a}).result == CUDA_ERROR_INVALID_HANDLE);
  CHECK(b.call<Op::CtxSynchronize>({a.ctx + (1ull << 40)}).result == CUDA_ERROR_INVALID_CONTEXT);
  // A is untouched.
  auto [r, back] = a.dtoh(pa, 64);
  CHECK(r == CUDA_SUCCESS);
  CHECK(back == bytes(64, 1));
}

TEST_CASE("wrongly-typed, stale and forged handles get CUDA_ERROR_INVALID_HANDLE") {
  ProxyProcess proxy;
  RawZone z(proxy.zone_socket(), "handles");
  REQUIRE((z.ok() && z.init()));
  auto s = z.call<Op::StreamCreate>({z.ctx, 0, 0});
  auto e = z.call<Op::EventCreate>({z.ctx, 0, 0});
  REQUIRE((s.result == CUDA_SUCCESS && e.result == CUDA_SUCCESS));
  const uint64_t stream = s.as<idm::U64Rsp>().value, event = e.as<idm::U64Rsp>().value;
  CHECK(z.call<Op::EventSynchronize>({stream}).result == CUDA_ERROR_INVALID_HANDLE);       // a stream as an event
  CHECK(z.call<Op::StreamSynchronize>({z.ctx, event}).result == CUDA_ERROR_INVALID_HANDLE);  // an event as a stream
  CHECK(z.call<Op::ModuleUnload>({stream}).result == CUDA_ERROR_INVALID_HANDLE);
  CHECK(z.call<Op::StreamSynchronize>({z.ctx, 0xdeadbeefcafef00dull}).result == CUDA_ERROR_INVALID_HANDLE);
  CHECK(z.call<Op::StreamDestroy>({stream}).result == CUDA_SUCCESS);
  CHECK(z.call<Op::StreamSynchronize>({z.ctx, stream}).result == CUDA_ERROR_INVALID_HANDLE);  // stale
  auto s2 = z.call<Op::StreamCreate>({z.ctx, 0, 0});  // reuses the slot with a new generation
  CHECK(s2.as<idm::U64Rsp>().value != stream);
  CHECK(z.call<Op::StreamSynchronize>({z.ctx, stream}).result == CUDA_ERROR_INVALID_HANDLE);
}

TEST_CASE("out-of-range and overlapping copies are refused before the driver sees them") {
  ProxyProcess proxy;
  RawZone z(proxy.zone_socket(), "ranges");
  REQUIRE((z.ok() && z.init()));
  auto [r, p] = z.alloc(4096);
  REQUIRE(r == CUDA_SUCCESS);
  CHECK(z.htod(p + 4000, bytes(200, 1)) == CUDA_ERROR_INVALID_VALUE);       // runs off the end
  CHECK(z.dtoh(p - 16, 32).first == CUDA_ERROR_INVALID_VALUE);               // starts before
  CHECK(z.call<Op::MemcpyDtoD>({z.ctx, 0, p + 100, p, 200}).result == CUDA_ERROR_INVALID_VALUE);  // overlap
  CHECK(z.call<Op::MemcpyDtoD>({z.ctx, 0, p + 2048, p, 2048}).result == CUDA_SUCCESS);
  CHECK(z.call<Op::Memset>({z.ctx, 0, p, 1025, 0, 4}).result == CUDA_ERROR_INVALID_VALUE);  // 4100 bytes
  CHECK(z.call<Op::Memset>({z.ctx, 0, p, ~0ull / 2, 0, 4}).result == CUDA_ERROR_INVALID_VALUE);  // overflow
  // Data area ranges: past the end, and wrapping offsets.
  const uint64_t da = z.channel().data().size();
  CHECK(z.call<Op::MemcpyHtoD>({z.ctx, 0, p, 64, 1, 0, 0, da - 32}).result == CUDA_ERROR_INVALID_VALUE);
  CHECK(z.call<Op::MemcpyHtoD>({z.ctx, 0, p, 64, 1, 0, 0, ~0ull - 8}).result == CUDA_ERROR_INVALID_VALUE);
  // A pinned handle that does not exist.
  CHECK(z.call<Op::MemcpyHtoD>({z.ctx, 0, p, 64, 2, 0, 12345, 0}).result == CUDA_ERROR_INVALID_VALUE);
  // 2D: a rectangle whose last row leaves the allocation.
  idm::Memcpy2DReq q{};
  q.ctx = z.ctx;
  q.src_device = p;
  q.src_pitch = 512;
  q.dst_device = p;
  q.dst_pitch = 512;
  q.dst_x_bytes = 256;
  q.width_bytes = 128;
  q.height = 9;  // rows 0..8 at pitch 512: 8*512+256+128 > 4096
  CHECK(z.call<Op::Memcpy2D>(q).result == CUDA_ERROR_INVALID_VALUE);
  q.height = 4;
  CHECK(z.call<Op::Memcpy2D>(q).result == CUDA_SUCCESS);
}

TEST_CASE("quota: an allocation past it gets CUDA_ERROR_OUT_OF_MEMORY and the zone's view is its quota") {
  // 3 MiB: the context takes the simulated driver's 2 MiB of overhead (charged to the zone), 1 MiB is left.
  ProxyProcess proxy({"--zone", "small:3MiB:1"});
  RawZone z(proxy.zone_socket(), "small"), other(proxy.zone_socket(), "other");
  REQUIRE((z.ok() && z.init() && other.ok() && other.init()));
  auto info = z.call<Op::MemGetInfo>({z.ctx});
  CHECK(info.as<idm::MemInfoRsp>().total == (3u << 20));
  CHECK(info.as<idm::MemInfoRsp>().free == (1u << 20));
  CHECK(z.alloc(600 << 10).first == CUDA_SUCCESS);
  CHECK(z.alloc(600 << 10).first == CUDA_ERROR_OUT_OF_MEMORY);
  CHECK(z.call<Op::MemGetInfo>({z.ctx}).as<idm::MemInfoRsp>().free <= (424u << 10));
  CHECK(other.alloc(64 << 20).first == CUDA_SUCCESS);  // others go on
  auto dev = z.call<Op::DeviceInfo>({0, 0});
  CHECK(dev.as<idm::DeviceInfoRsp>().total_mem == (3u << 20));
}

TEST_CASE("pinned host memory: lent pages need a lending transport; the worker's own pages are bounded") {
  ProxyProcess proxy;
  RawZone z(proxy.zone_socket(), "pinned");
  REQUIRE((z.ok() && z.init()));
  const auto lent = static_cast<uint32_t>(idm::HostPages::kLent), own = static_cast<uint32_t>(idm::HostPages::kProxy);
  // An shm zone cannot name pages of its own (only a Xen zone lends granted pages).
  const uint32_t dir_ref = 7;
  CHECK(z.call<Op::MemHostAlloc>({z.ctx, 4096, 0, lent}, std::as_bytes(std::span(&dir_ref, 1))).result ==
        CUDA_ERROR_NOT_SUPPORTED);
  // The worker's pages are driver-domain RAM: 4 GiB per zone (memfd pages, allocated only when touched).
  CHECK(z.call<Op::MemHostAlloc>({z.ctx, 3ull << 30, 0, own}).result == CUDA_SUCCESS);
  CHECK(z.call<Op::MemHostAlloc>({z.ctx, 2ull << 30, 0, own}).result == CUDA_ERROR_OUT_OF_MEMORY);
  auto last = z.call<Op::MemHostAlloc>({z.ctx, 1ull << 30, 0, own});
  CHECK(last.result == CUDA_SUCCESS);
  CHECK(z.call<Op::MemHostAlloc>({z.ctx, 4096, 0, own}).result == CUDA_ERROR_OUT_OF_MEMORY);
  CHECK(z.call<Op::MemFreeHost>({last.as<idm::MemHostAllocRsp>().handle}).result == CUDA_SUCCESS);
  CHECK(z.call<Op::MemHostAlloc>({z.ctx, 4096, 0, own}).result == CUDA_SUCCESS);  // freed bytes count again
}

TEST_CASE("memory freed by one zone reads back as zeros in another") {
  ProxyProcess proxy;
  RawZone a(proxy.zone_socket(), "writer");
  REQUIRE((a.ok() && a.init()));
  std::vector<uint64_t> ptrs;
  for (int i = 0; i < 8; ++i) {
    auto [r, p] = a.alloc(1 << 20);
    REQUIRE(r == CUDA_SUCCESS);
    REQUIRE(a.call<Op::Memset>({a.ctx, 0, p, 1 << 20, 0xAB, 1}).result == CUDA_SUCCESS);
    ptrs.push_back(p);
  }
  for (uint64_t p : ptrs) REQUIRE(a.call<Op::MemFree>({a.ctx, p}).result == CUDA_SUCCESS);
  RawZone b(proxy.zone_socket(), "reader");
  REQUIRE((b.ok() && b.init()));
  for (int i = 0; i < 8; ++i) {
    auto [r, p] = b.alloc(1 << 20);
    REQUIRE(r == CUDA_SUCCESS);
    for (uint64_t off = 0; off < (1u << 20); off += 4096) {
      auto [r2, back] = b.dtoh(p + off, 4096);
      REQUIRE(r2 == CUDA_SUCCESS);
      REQUIRE(back == B(4096, std::byte{0}));
    }
  }
}

TEST_CASE("a hostile zone's 10,000 random and mutated requests neither crash nor stall the proxy") {
  ProxyProcess proxy;
  RawZone hostile(proxy.zone_socket(), "hostile"), good(proxy.zone_socket(), "good");
  REQUIRE((hostile.ok() && hostile.init() && good.ok() && good.init()));
  auto [r, p] = good.alloc(4096);
  REQUIRE(r == CUDA_SUCCESS);
  std::mt19937_64 rng(1234);
  auto samples = idm::sample_messages();
  int sent = 0;
  for (int i = 0; i < 10'000; ++i) {
    B msg;
    if (i % 3 == 0) {  // pure noise of random length
      msg.resize(rng() % 300);
      for (auto& b : msg) b = std::byte(rng());
    } else {  // a valid message of a random opcode, then a few bytes flipped (header included)
      const auto& s = samples[rng() % samples.size()];
      if (s.info->kind == idm::Kind::kControl) continue;
      msg = s.request;
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int k = 0; k < flips; ++k) msg[rng() % msg.size()] ^= std::byte(1u << (rng() % 8));
      if (i % 5 == 0) {  // handles that exist in the zone's table, to get past lookups
        uint64_t h = hostile.ctx;
        if (msg.size() >= sizeof(idm::MsgHeader) + 8) std::memcpy(msg.data() + sizeof(idm::MsgHeader), &h, 8);
      }
    }
    if (!hostile.raw(msg)) break;
    ++sent;
    if (i % 500 == 0) {
      // The good zone is served promptly throughout.
      auto t0 = std::chrono::steady_clock::now();
      REQUIRE(good.call<Op::CtxSynchronize>({good.ctx}).result == CUDA_SUCCESS);
      CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));
    }
  }
  CHECK(sent >= 9000);
  CHECK(proxy.alive());
  auto [r2, back] = good.dtoh(p, 16);
  CHECK(r2 == CUDA_SUCCESS);
  // The hostile zone itself may still be talking (its ring was never broken), or its worker may have closed the
  // channel on an impossible record: both are fine. The proxy and the good zone are what matter.
  CHECK(proxy.zones().find("good") != std::string::npos);
}

TEST_CASE("a zone that dies mid-copy and mid-launch leaves nothing behind") {
  ProxyProcess proxy;
  RawZone other(proxy.zone_socket(), "bystander");
  REQUIRE((other.ok() && other.init()));
  const pid_t child = ::fork();
  if (child == 0) {
    RawZone z(proxy.zone_socket(), "doomed");
    if (!z.ok() || !z.init()) ::_exit(1);
    for (int i = 0; i < 16; ++i) (void)z.alloc(1 << 20);
    auto [r, p] = z.alloc(8 << 20);
    // Queue a lot of asynchronous work and a large copy, then die without a word.
    for (int i = 0; i < 200; ++i) (void)z.post<Op::MemsetAsync>({z.ctx, 0, p, 256 << 10, 7, 4});
    (void)z.post<Op::MemcpyHtoDAsync>({z.ctx, 0, p, 4096, 1, 0, 0, 0});
    ::raise(SIGKILL);
  }
  int st = 0;
  ::waitpid(child, &st, 0);
  // The worker notices within a second, exits (the driver drops the zone's queued work with it), and the daemon
  // reaps it; allow 10 s on a loaded machine.
  bool gone = false;
  for (int i = 0; i < 1000 && !gone; ++i) {
    gone = proxy.zones().find("doomed") == std::string::npos;
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(gone);
  CHECK(proxy.log().find("'doomed' ended") != std::string::npos);
  CHECK(other.call<Op::CtxSynchronize>({other.ctx}).result == CUDA_SUCCESS);
  // The only worker process left is the bystander's.
  const std::string z = proxy.zones();
  CHECK(std::count(z.begin(), z.end(), '\n') == 3);  // "ok", the header, one zone
}

// The process ids whose parent is `parent` (from /proc/N/stat: "pid (comm) state ppid ...").
std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> out;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    const std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream f(e.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 1));
    std::string state;
    long ppid = 0;
    if (rest >> state >> ppid && ppid == parent) out.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return out;
}

TEST_CASE("a zone's worker serves under the system-call filter") {
  ProxyProcess proxy;
  RawZone z(proxy.zone_socket(), "filtered");
  REQUIRE(z.ok());
  REQUIRE(z.init());  // answered from serve(): the filter went on before it
  const std::vector<pid_t> workers = children_of(proxy.pid());
  REQUIRE(workers.size() == 1);
  std::ifstream f("/proc/" + std::to_string(workers[0]) + "/status");
  const std::string status((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  CHECK(status.find("Seccomp:\t2") != std::string::npos);
  CHECK(status.find("NoNewPrivs:\t1") != std::string::npos);
  CHECK(proxy.log().find("system-call filter on") != std::string::npos);
  // Still a working driver under it: a stream (the simulated driver starts a thread for it), a copy, a sync.
  auto s = z.call<Op::StreamCreate>({z.ctx, 0, 0});
  CHECK(s.result == CUDA_SUCCESS);
  auto [r, p] = z.alloc(4096);
  REQUIRE(r == CUDA_SUCCESS);
  const auto src = bytes(4096, 5);
  CHECK(z.htod(p, src) == CUDA_SUCCESS);
  CHECK(z.dtoh(p, 4096).second == src);
  CHECK(z.call<Op::StreamSynchronize>({z.ctx, s.as<idm::U64Rsp>().value}).result == CUDA_SUCCESS);
}

}  // namespace
}  // namespace xg::test
