// SPSC ring: lifetime, empty/full, wraparound, hostile peer indices, and a two-thread checksum stress
// (this file also runs under TSan).
#include "idm/ring.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "idm/futex_doorbell.h"
#include "idm/protocol.h"
#include "idm/test_ring_memory.h"

namespace xg::idm {
namespace {

std::span<const std::byte> as_bytes_of(const std::vector<uint8_t>& v) { return std::as_bytes(std::span(v)); }

std::vector<uint8_t> pattern(uint64_t seed, size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>((seed * 131 + i * 7) ^ (seed >> 3));
  return v;
}

TEST_CASE("ring: empty, one record, empty again") {
  test::RingMemory m(4096);
  FutexDoorbell bell;
  RingProducer p(m.view, &bell);
  RingConsumer c(m.view, &bell);
  std::vector<std::byte> out(m.view.max_payload);
  CHECK(c.try_pop(out).error() == Error::kEmpty);
  auto rec = pattern(1, 100);
  REQUIRE(p.push(as_bytes_of(rec)) == Error::kOk);
  auto n = c.try_pop(out);
  REQUIRE(n.ok());
  CHECK(*n == 100);
  CHECK(std::memcmp(out.data(), rec.data(), 100) == 0);
  CHECK(c.try_pop(out).error() == Error::kEmpty);
}

TEST_CASE("ring: zero-length records are legal and distinct") {
  test::RingMemory m(4096);
  FutexDoorbell bell;
  RingProducer p(m.view, &bell);
  RingConsumer c(m.view, &bell);
  std::vector<std::byte> out(m.view.max_payload);
  for (int i = 0; i < 3; ++i) REQUIRE(p.push(std::span<const std::byte>{}) == Error::kOk);
  for (int i = 0; i < 3; ++i) CHECK(*c.try_pop(out) == 0);
  CHECK(c.try_pop(out).error() == Error::kEmpty);
}

TEST_CASE("ring: full ring refuses, then accepts after consumption (back-pressure)") {
  test::RingMemory m(4096);
  FutexDoorbell bell;
  RingProducer p(m.view, &bell);
  RingConsumer c(m.view, &bell);
  std::vector<std::byte> out(m.view.max_payload);
  auto rec = pattern(2, 100);  // 16 + 100 -> 128-byte records: 32 fit
  std::span<const std::byte> parts[1] = {as_bytes_of(rec)};
  int pushed = 0;
  while (p.try_push(parts) == Error::kOk) ++pushed;
  CHECK(pushed == 32);
  CHECK(p.try_push(parts) == Error::kEmpty);
  // A bounded push on a full ring times out rather than hanging.
  CHECK(p.push(parts, std::chrono::steady_clock::now() + std::chrono::milliseconds(20)) == Error::kTimeout);
  REQUIRE(c.try_pop(out).ok());
  CHECK(p.try_push(parts) == Error::kOk);
}

TEST_CASE("ring: records wrap around the end, many laps, every size") {
  test::RingMemory m(4096, 1000);
  FutexDoorbell bell;
  RingProducer p(m.view, &bell);
  RingConsumer c(m.view, &bell);
  std::vector<std::byte> out(m.view.max_payload);
  uint64_t produced = 0, consumed = 0;
  for (int lap = 0; lap < 2000; ++lap) {
    const size_t len = (lap * 37) % 1001;
    auto rec = pattern(lap, len);
    std::span<const std::byte> parts[1] = {as_bytes_of(rec)};
    while (p.try_push(parts) == Error::kEmpty) {
      auto want = pattern(consumed, (consumed * 37) % 1001);
      auto n = c.try_pop(out);
      REQUIRE(n.ok());
      REQUIRE(*n == want.size());
      REQUIRE((want.empty() || std::memcmp(out.data(), want.data(), want.size()) == 0));
      ++consumed;
    }
    ++produced;
  }
  while (consumed < produced) {
    auto want = pattern(consumed, (consumed * 37) % 1001);
    auto n = c.try_pop(out);
    REQUIRE(n.ok());
    REQUIRE((want.empty() || std::memcmp(out.data(), want.data(), want.size()) == 0));
    ++consumed;
  }
  CHECK(p.position() > 10 * 4096);  // really wrapped many times
}

TEST_CASE("ring: oversize record is refused by the producer") {
  test::RingMemory m(4096, 500);
  FutexDoorbell bell;
  RingProducer p(m.view, &bell);
  auto rec = pattern(3, 501);
  CHECK(p.push(as_bytes_of(rec)) == Error::kBadLength);
}

TEST_CASE("ring: a hostile producer's impossible length closes the channel, not the process") {
  test::RingMemory m(4096, 500);
  FutexDoorbell bell;
  RingConsumer c(m.view, &bell);
  std::vector<std::byte> out(m.view.max_payload);
  auto* hdr = reinterpret_cast<RecordHeader*>(m.view.data);
  hdr->length = 0xFFFFFFF0u;
  std::atomic_ref<uint64_t>(hdr->stamp).store(1);
  CHECK(c.try_pop(out).error() == Error::kPeerImpossible);
  hdr->length = 501;
  CHECK(c.try_pop(out).error() == Error::kPeerImpossible);
  hdr->length = 500;
  CHECK(c.try_pop(out).ok());
}

TEST_CASE("ring: stale and garbage stamps are not records") {
  test::RingMemory m(4096);
  FutexDoorbell bell;
  RingConsumer c(m.view, &bell);
  std::vector<std::byte> out(m.view.max_payload);
  auto* hdr = reinterpret_cast<RecordHeader*>(m.view.data);
  for (uint64_t s : {uint64_t{0}, uint64_t{4097}, ~uint64_t{0}, uint64_t{1} << 40}) {
    std::atomic_ref<uint64_t>(hdr->stamp).store(s);
    CHECK(c.try_pop(out).error() == Error::kEmpty);
  }
}

TEST_CASE("ring: a hostile consumer's impossible index is detected by the producer") {
  test::RingMemory m(4096);
  FutexDoorbell bell;
  RingProducer p(m.view, &bell);
  auto rec = pattern(4, 1000);
  std::span<const std::byte> parts[1] = {as_bytes_of(rec)};
  while (p.try_push(parts) == Error::kOk) {
  }
  m.view.control->cons.store(p.position() + 4096);  // claims to have consumed records never produced
  CHECK(p.try_push(parts) == Error::kPeerImpossible);
}

TEST_CASE("ring: wait_ready ends on a record, on another thread's interrupt, or at its deadline") {
  using namespace std::chrono_literals;
  test::RingMemory m(4096);
  FutexDoorbell bell;
  RingProducer p(m.view, &bell);
  RingConsumer c(m.view, &bell);
  std::atomic<bool> woken{false};
  // Nothing comes: the deadline.
  CHECK(c.wait_ready(std::chrono::steady_clock::now() + 20ms, woken) == Error::kTimeout);
  // Interrupted from another thread long before a 30 s deadline (the waiter is asleep on the doorbell by then).
  std::thread t([&] {
    std::this_thread::sleep_for(50ms);
    woken.store(true, std::memory_order_release);
    c.interrupt();
  });
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(c.wait_ready(t0 + 30s, woken) == Error::kOk);
  CHECK(std::chrono::steady_clock::now() - t0 < 10s);
  CHECK(!c.ready());
  t.join();
  // A record: ready, and still there to pop.
  woken = false;
  std::thread t2([&] {
    std::this_thread::sleep_for(50ms);
    const auto rec = pattern(3, 10);
    CHECK(p.push(as_bytes_of(rec)) == Error::kOk);
  });
  CHECK(c.wait_ready(std::chrono::steady_clock::now() + 30s, woken) == Error::kOk);
  CHECK(c.ready());
  t2.join();
  std::vector<std::byte> out(m.view.max_payload);
  CHECK(c.try_pop(out).ok());
}

TEST_CASE("ring: two threads, 2M records of varying size, every payload checked") {
  test::RingMemory m(64 * 1024, 2000);
  FutexDoorbell bell;
  RingProducer p(m.view, &bell);
  RingConsumer c(m.view, &bell);
  constexpr uint64_t kCount = 2'000'000;
  std::thread producer([&] {
    std::vector<uint8_t> rec(2000);
    for (uint64_t i = 0; i < kCount; ++i) {
      const size_t len = 8 + (i * 13) % 120 + ((i % 1000) == 0 ? 1800 : 0);
      std::memcpy(rec.data(), &i, 8);
      for (size_t k = 8; k < len; ++k) rec[k] = static_cast<uint8_t>(i + k);
      REQUIRE(p.push(std::as_bytes(std::span(rec).first(len))) == Error::kOk);
    }
  });
  std::vector<std::byte> out(2000);
  uint64_t bad = 0;
  for (uint64_t i = 0; i < kCount; ++i) {
    auto n = c.pop(out);
    REQUIRE(n.ok());
    uint64_t seq;
    std::memcpy(&seq, out.data(), 8);
    const size_t len = 8 + (i * 13) % 120 + ((i % 1000) == 0 ? 1800 : 0);
    if (seq != i || *n != len) ++bad;
    for (size_t k = 8; k < *n; ++k) bad += static_cast<uint8_t>(out[k]) != static_cast<uint8_t>(i + k);
  }
  producer.join();
  CHECK(bad == 0);
}

}  // namespace
}  // namespace xg::idm
