// A hostile thread keeps flipping the bytes of a published message (header, length, payload) while the proxy
// side copies it out and decodes it. Every message the decoder accepts must be one consistent snapshot: its
// validated invariants hold, and they still hold (the bytes are unchanged) long after the decode while the
// attacker keeps writing — i.e. nothing the handler sees lives in shared memory.
#include <doctest/doctest.h>

#include <atomic>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "idm/codec.h"
#include "idm/futex_doorbell.h"
#include "idm/test_ring_memory.h"

namespace xg::idm {
namespace {

TEST_CASE("double fetch: decoded messages are consistent snapshots while a hostile thread flips bytes") {
  test::RingMemory m(8192, 4096);
  FutexDoorbell bell;
  std::atomic<bool> stop{false};
  std::atomic<uint32_t> window{0};  // bytes of the current record the attacker may flip (0 = hold off)
  std::atomic<uint64_t> flips{0};   // how many bytes the attacker has written so far
  // The attacker: random byte flips inside the live record, as fast as it can. (Racy by design; this test is
  // not run under TSan.)
  std::thread attacker([&] {
    std::mt19937 rng(7);
    auto* bytes = reinterpret_cast<volatile uint8_t*>(m.view.data);
    while (!stop.load(std::memory_order_relaxed)) {
      const uint32_t w = window.load(std::memory_order_acquire);
      if (w == 0) continue;
      const uint32_t off = 8 + rng() % (w - 8);  // leave the stamp alone so the record stays "published"
      bytes[off] = static_cast<uint8_t>(rng());
      flips.fetch_add(1, std::memory_order_release);
    }
  });

  std::vector<std::byte> tail(200, std::byte{'x'});
  std::vector<std::byte> out(m.view.max_payload);
  int accepted = 0, rejected = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    // A fresh ring each round: the previous round's record may have been mangled into anything.
    std::memset(m.mem.get(), 0, m.bytes);
    RingProducer p(m.view, &bell);
    RingConsumer c(m.view, &bell);
    REQUIRE(send_request<Op::Echo>(p, iter, EchoReq{fnv1a(tail), 0}, tail) == Error::kOk);
    window.store(kRecordHeaderBytes + sizeof(MsgHeader) + sizeof(EchoReq) + 200, std::memory_order_release);
    // Let the attacker in before the copy-out on most rounds (0..3 writes), so the test does not depend on how
    // the scheduler happens to interleave two threads on a loaded machine.
    const auto wait_flips = [&](uint64_t n) {
      const uint64_t f0 = flips.load(std::memory_order_acquire);
      while (flips.load(std::memory_order_acquire) < f0 + n) std::this_thread::yield();
    };
    wait_flips(iter % 4);
    auto n = c.try_pop(out);
    std::optional<Message> msg;
    if (n.ok()) {
      auto d = decode(std::span(out).first(*n), Direction::kRequest, Path::kRing);
      if (d.ok()) msg = *d;
    }
    if (!msg) {
      window.store(0, std::memory_order_release);
      ++rejected;
      continue;
    }
    // Let the attacker keep writing for a while, then check the snapshot again.
    wait_flips(2);
    window.store(0, std::memory_order_release);
    const auto req = msg->fixed<EchoReq>();
    const auto t = msg->tail<EchoReq>();
    REQUIRE(t.size() <= kMaxEchoTail);
    REQUIRE(msg->header.length == sizeof(EchoReq) + t.size());
    REQUIRE(req.checksum == fnv1a(t));  // the validator's verdict still holds on what the handler sees
    REQUIRE((t.data() >= out.data() && t.data() + t.size() <= out.data() + out.size()));  // private memory
    ++accepted;
  }
  stop = true;
  attacker.join();
  MESSAGE("accepted " << accepted << ", rejected " << rejected);
  CHECK(accepted > 0);
  CHECK(rejected > 0);  // the attacker really did get in
}

}  // namespace
}  // namespace xg::idm
