// A hostile Xen frontend: every step of the handshake and of the ring done wrong, against a running backend.
// Each case expects the backend to refuse (handshake: backend goes Closing with an `error` node; ring: the
// backend closes the channel) and, at the end, to still serve a well-behaved frontend.
#include "tests/xen/hostile.h"

#include <atomic>
#include <cstdio>
#include <random>
#include <thread>

#include "idm/codec.h"
#include "idm/log.h"
#include "idm/xen/xen_c.h"

namespace xg::xentest {

using namespace idm;
using namespace idm::xen;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kCaseTimeout = std::chrono::seconds(20);

struct EvtchnPort {
  xenevtchn_handle* xce = nullptr;
  int port = -1;
  explicit EvtchnPort(uint32_t domid) {
    xce = ::xenevtchn_open(nullptr, 0);
    if (xce) port = ::xenevtchn_bind_unbound_port(xce, domid);
  }
  ~EvtchnPort() {
    if (xce && port >= 0) ::xenevtchn_unbind(xce, static_cast<evtchn_port_t>(port));
    if (xce) ::xenevtchn_close(xce);
  }
};

// Runs one handshake attack: `mutate` edits the values (and may scribble on the shared directory) before the
// frontend says Initialised. Passes if the backend answers Closing with an error and never Connected.
bool handshake_case(const HostileOptions& o, Checks& checks, const char* name,
                    const std::function<void(FrontendValues&, GrantShare&, FrontendSession&)>& mutate,
                    bool write_state = true) {
  FrontendOptions fo;
  fo.backend_domid = o.backend_domid;
  fo.devid = o.devid;
  const auto deadline = Clock::now() + kCaseTimeout;
  auto s = FrontendSession::open(fo);
  if (!s) return checks.check(false, name, "cannot open xenstore");
  if (Error e = s->wait_for_backend(deadline); e != Error::kOk)
    return checks.check(false, name, "backend not in InitWait: " + std::string(error_name(e)));
  EvtchnPort ev(o.backend_domid);
  auto mem = share_channel(o.backend_domid, fo.geometry, static_cast<uint32_t>(ev.port));
  if (!mem) return checks.check(false, name, "cannot share pages");
  FrontendValues v = make_frontend_values(fo.geometry, (*mem)->dir_refs(), static_cast<uint32_t>(ev.port),
                                          (*mem)->alive_ref());
  mutate(v, **mem, *s);
  (void)s->write_values(v);
  if (write_state) (void)s->set_state(LinkState::kInitialised);
  auto st = s->wait_backend_change(LinkState::kInitWait, deadline);
  const std::string err = s->backend_error();
  const bool ok = st && *st == LinkState::kClosing && !err.empty();
  (void)s->set_state(LinkState::kClosed);
  return checks.check(ok, name,
                      "backend " + std::string(st ? state_name(*st) : "timeout") + ", error \"" + err + "\"");
}

// Connects properly, then misbehaves on the ring. Passes if the backend tears the channel down in time.
// With expect_close false, the attack may leave the backend waiting (a consumer waiting on a record whose
// stamp we scribbled over is idle, not broken): we close, and the backend must come back for a new frontend.
bool ring_case(const HostileOptions& o, Checks& checks, const char* name,
               const std::function<std::string(Endpoint&)>& attack, bool expect_close = true) {
  FrontendOptions fo;
  fo.backend_domid = o.backend_domid;
  fo.devid = o.devid;
  auto ep = connect_frontend(fo);
  if (!ep) return checks.check(false, name, "connect: " + std::string(error_name(ep.error())));
  const std::string detail = attack(**ep);
  if (!expect_close) {
    ep->reset();
    auto s = FrontendSession::open(fo);
    const bool back = s && s->wait_for_backend(Clock::now() + std::chrono::seconds(10)) == Error::kOk;
    return checks.check(back, name, detail + (back ? "; backend ready for a new frontend" : "; backend did not come back"));
  }
  // The backend must notice and close: our doorbell sees the peer leave Connected.
  const auto until = Clock::now() + std::chrono::seconds(5);
  bool closed = false;
  while (Clock::now() < until && !(closed = !(*ep)->doorbell->peer_alive()))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ep->reset();
  return checks.check(closed, name, closed ? "backend closed the channel" : "backend still Connected after 5 s");
  (void)detail;
}

RingView request_ring(Endpoint& ep) { return ep.channel.tx().view(); }

}  // namespace

int run_hostile(const HostileOptions& o, Checks& checks) {
  const int before = checks.failed();
  std::mt19937 rng(99);

  handshake_case(o, checks, "garbage-grant-refs", [&](FrontendValues&, GrantShare& g, FrontendSession&) {
    for (uint32_t& r : g.directory()) r = 0x00f00000u + (rng() & 0xfffff);  // refs the zone never granted
  });
  handshake_case(o, checks, "garbage-directory-ref",
                 [&](FrontendValues& v, GrantShare&, FrontendSession&) { v.ring_refs = "123456789"; });
  handshake_case(o, checks, "duplicate-grant-refs", [&](FrontendValues&, GrantShare& g, FrontendSession&) {
    g.directory()[5] = g.directory()[4];  // two channel pages backed by one guest page
  });
  handshake_case(o, checks, "wrong-page-count", [&](FrontendValues& v, GrantShare&, FrontendSession&) {
    v.num_pages = std::to_string(std::stoul(*v.num_pages) + 1);
  });
  handshake_case(o, checks, "huge-page-count",
                 [&](FrontendValues& v, GrantShare&, FrontendSession&) { v.num_pages = "4294967295"; });
  handshake_case(o, checks, "bad-geometry",
                 [&](FrontendValues& v, GrantShare&, FrontendSession&) { v.request_ring_bytes = "100000"; });
  handshake_case(o, checks, "unparsable-event-channel",
                 [&](FrontendValues& v, GrantShare&, FrontendSession&) { v.event_channel = "12abc"; });
  handshake_case(o, checks, "foreign-event-channel",
                 [&](FrontendValues& v, GrantShare&, FrontendSession&) { v.event_channel = "4000"; });
  handshake_case(o, checks, "garbage-alive-ref",
                 [&](FrontendValues& v, GrantShare&, FrontendSession&) { v.alive_ref = "987654321"; });
  handshake_case(o, checks, "missing-ring-refs",
                 [&](FrontendValues& v, GrantShare&, FrontendSession&) { v.ring_refs.reset(); });
  handshake_case(o, checks, "oversized-value",
                 [&](FrontendValues& v, GrantShare&, FrontendSession&) { v.ring_refs = std::string(4000, '7'); });
  handshake_case(o, checks, "bad-protocol-version",
                 [&](FrontendValues& v, GrantShare&, FrontendSession&) { v.protocol_version = "99"; });
  handshake_case(
      o, checks, "garbage-state",
      [&](FrontendValues&, GrantShare&, FrontendSession& s) { (void)s.write("state", "99"); },
      /*write_state=*/false);

  ring_case(o, checks, "record-length-past-ring", [&](Endpoint& ep) {
    // A published record whose length is far beyond max_payload (and the ring).
    RingView v = request_ring(ep);
    auto* h = reinterpret_cast<RecordHeader*>(v.data);
    h->length = 0xfffffff0u;
    std::atomic_ref<uint64_t>(h->stamp).store(1, std::memory_order_release);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    ep.doorbell->notify(v.control->data_bell);
    return std::string();
  });
  ring_case(o, checks, "consumer-index-past-producer", [&](Endpoint& ep) {
    // We consume the response ring: claim to have consumed far more than the backend produced. The backend
    // reads our index when its ring looks full, so keep sending requests without reading any answer.
    ep.channel.rx().view().control->cons.store(uint64_t{1} << 40, std::memory_order_release);
    const uint32_t records = ep.channel.rx().view().capacity / kRecordAlign;
    for (uint32_t i = 0; i < records + 64; ++i) {
      if (send_request<Op::Ping>(ep.channel.tx(), i + 1, PingReq{i}, {},
                                 Clock::now() + std::chrono::milliseconds(500)) != Error::kOk)
        break;
    }
    return std::string();
  });
  ring_case(o, checks, "bytes-flipping-during-decode", [&](Endpoint& ep) {
    // A second thread keeps flipping bytes of the request ring while we send valid Echo requests: the
    // backend copies each record out once, so it sees some consistent (possibly invalid) bytes; it answers,
    // rejects, closes or waits on a scribbled stamp, but never crashes.
    RingView v = request_ring(ep);
    std::atomic<bool> stop{false};
    std::thread flipper([&] {
      std::mt19937 r(7);
      while (!stop.load(std::memory_order_relaxed)) {
        const uint32_t off = r() % v.capacity;
        std::atomic_ref<uint8_t>(reinterpret_cast<uint8_t*>(v.data)[off])
            .fetch_xor(static_cast<uint8_t>(1u << (r() % 8)), std::memory_order_relaxed);
      }
    });
    std::vector<std::byte> rsp;
    std::vector<std::byte> tail(2000, std::byte{0x5a});
    int answered = 0, errors = 0;
    for (uint32_t i = 0; i < 3000; ++i) {
      auto res = call<Op::Echo>(ep, i + 1, EchoReq{fnv1a(tail), 0}, tail, rsp, std::chrono::milliseconds(300));
      if (!res) {
        ++errors;
        if (errors > 20) break;
      } else {
        ++answered;
      }
    }
    stop = true;
    flipper.join();
    return std::to_string(answered) + " calls answered, " + std::to_string(errors) + " failed";
  }, /*expect_close=*/false);

  // Event storm: a thread rings the backend's doorbell as fast as it can while we ping; every ping must
  // still be answered. Then a clean close.
  {
    FrontendOptions fo;
    fo.backend_domid = o.backend_domid;
    fo.devid = o.devid;
    auto ep = connect_frontend(fo);
    if (!ep) {
      checks.check(false, "event-storm", "connect: " + std::string(error_name(ep.error())));
    } else {
      std::atomic<bool> stop{false};
      std::atomic<uint64_t> rings{0};
      std::thread storm([&] {
        std::atomic<uint32_t> dummy{0};
        while (!stop.load(std::memory_order_relaxed)) {
          (*ep)->doorbell->notify(dummy);
          rings.fetch_add(1, std::memory_order_relaxed);
        }
      });
      std::vector<std::byte> rsp;
      int ok = 0;
      for (uint32_t i = 0; i < 2000; ++i) {
        auto r = call<Op::Ping>(**ep, i + 1, PingReq{i}, {}, rsp);
        if (r && r->result == 0) ++ok;
      }
      stop = true;
      storm.join();
      checks.check(ok == 2000, "event-storm",
                   std::to_string(ok) + "/2000 pings answered during " + std::to_string(rings.load()) +
                       " notifications");
      ep->reset();
    }
  }
  return checks.failed() - before;
}

}  // namespace xg::xentest
