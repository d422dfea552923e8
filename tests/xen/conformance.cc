#include "tests/xen/conformance.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <random>

#include "idm/codec.h"
#include "idm/log.h"
#include "idm/transport_shm.h"

namespace xg::xentest {

using namespace idm;
using Clock = std::chrono::steady_clock;

namespace {

constexpr uint32_t kCudaErrorInvalidValue = 1;
constexpr uint32_t kCudaErrorIllegalState = 401;
constexpr uint32_t kCudaErrorNotSupported = 801;

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

std::vector<std::byte> pattern(size_t n, uint32_t seed) {
  std::vector<std::byte> v(n);
  uint32_t x = seed * 2654435761u + 1;
  for (auto& b : v) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    b = static_cast<std::byte>(x);
  }
  return v;
}

}  // namespace

ServeStats serve(Endpoint& ep) {
  ServeStats st;
  Channel& ch = ep.channel;
  std::vector<std::byte> buf(ch.geometry().max_payload);
  std::vector<std::byte> bulk;  // private copy of data-area bytes
  const std::span<std::byte> data = ch.data();
  uint64_t next_nop = 1;
  for (;;) {
    auto n = ch.rx().pop(buf);
    if (!n) {
      st.end = n.error();
      if (st.end == Error::kPeerImpossible) log_line("serve: the zone broke the ring contract; closing");
      return st;
    }
    st.last_rx = Clock::now();
    auto m = decode(std::span<const std::byte>(buf).first(*n), Direction::kRequest, Path::kRing);
    if (!m) {
      ++st.rejected;
      // A request whose header is intact gets an in-protocol error; one without a usable header cannot be
      // answered (no trustworthy opcode/seq), so it is dropped and counted.
      MsgHeader h{};
      if (*n >= sizeof h) std::memcpy(&h, buf.data(), sizeof h);
      const OpInfo* info = find_op(h.opcode);
      if (*n >= sizeof h && h.magic == kMsgMagic && info && info->kind == Kind::kCall) {
        ++st.error_replies;
        if (Error e = send_response(ch.tx(), h, kCudaErrorInvalidValue, Empty{}); e != Error::kOk) {
          st.end = e;
          return st;
        }
      }
      continue;
    }
    Error e = dispatch(*m, Overloaded{
        [&](auto tag, const MsgHeader& h, const auto&, std::span<const std::byte>) {
          // Everything else in the table (the CUDA calls) is not this server's business: an in-protocol
          // "not supported" for calls, nothing for posts (Hello never reaches a ring: decode() refuses it).
          if constexpr (OpTraits<decltype(tag)::value>::kind == Kind::kCall) {
            ++st.error_replies;
            return send_response(ch.tx(), h, kCudaErrorNotSupported, Empty{});
          } else {
            return Error::kOk;
          }
        },
        [&](OpTag<Op::Ping>, const MsgHeader& h, const PingReq& r, std::span<const std::byte>) {
          ++st.pings;
          // Ping is the synchronising call: it reports an earlier fire-and-forget failure.
          if (!st.nop_order_ok) return send_response(ch.tx(), h, kCudaErrorIllegalState, Empty{});
          return send_response(ch.tx(), h, 0, PingRsp{r.token});
        },
        [&](OpTag<Op::Echo>, const MsgHeader& h, const EchoReq& r, std::span<const std::byte> tail) {
          ++st.echos;
          return send_response(ch.tx(), h, 0, EchoRsp{r.checksum, 0}, tail);  // tail is in our private buf
        },
        [&](OpTag<Op::Nop>, const MsgHeader&, const NopPost& p, std::span<const std::byte>) {
          ++st.nops;
          st.nop_sum += p.value;
          if (p.value != next_nop) st.nop_order_ok = false;
          next_nop = p.value + 1;
          return Error::kOk;
        },
        [&](OpTag<Op::BulkPut>, const MsgHeader& h, const BulkPutReq& r, std::span<const std::byte>) {
          // Overflow-safe range check against our own geometry, then one copy out of shared memory.
          if (r.length > data.size() || r.offset > data.size() - r.length) {
            ++st.error_replies;
            return send_response(ch.tx(), h, kCudaErrorInvalidValue, Empty{});
          }
          ++st.bulk;
          bulk.resize(r.length);
          if (r.length) std::memcpy(bulk.data(), data.data() + r.offset, r.length);
          return send_response(ch.tx(), h, 0, BulkPutRsp{(r.flags & kBulkWantChecksum) ? fnv1a(bulk) : 0, 0});
        }});
    if (e != Error::kOk) {
      st.end = e;
      return st;
    }
  }
}

std::string to_string(const ServeStats& s) {
  char b[320];
  std::snprintf(b, sizeof b,
                "pings=%llu echos=%llu nops=%llu nop_sum=%llu nop_order=%s bulk=%llu error_replies=%llu "
                "rejected=%llu end=%s",
                (unsigned long long)s.pings, (unsigned long long)s.echos, (unsigned long long)s.nops,
                (unsigned long long)s.nop_sum, s.nop_order_ok ? "ok" : "BROKEN", (unsigned long long)s.bulk,
                (unsigned long long)s.error_replies, (unsigned long long)s.rejected,
                std::string(error_name(s.end)).c_str());
  return b;
}

bool Checks::check(bool ok, const std::string& name, const std::string& detail) {
  std::printf("CHECK %s %s%s%s%s\n", ok ? "PASS" : "FAIL", prefix_.c_str(), name.c_str(),
              detail.empty() ? "" : ": ", detail.c_str());
  std::fflush(stdout);
  (ok ? passed_ : failed_)++;
  return ok;
}

int run_conformance(Endpoint& ep, Checks& checks, const ConformanceOptions& opts) {
  const int failed_before = checks.failed();
  std::vector<std::byte> rsp;
  uint32_t seq = 1;
  std::mt19937_64 rng(12345);

  // 1. Ping round trips.
  {
    int bad = 0;
    std::string why;
    for (int i = 0; i < opts.pings && bad == 0; ++i) {
      const uint64_t token = rng();
      auto r = call<Op::Ping>(ep, seq++, PingReq{token}, {}, rsp);
      if (!r) why = std::string(error_name(r.error()));
      else if (r->result != 0) why = "result " + std::to_string(r->result);
      else if (r->payload.size() != sizeof(PingRsp)) why = "payload size";
      else {
        PingRsp p;
        std::memcpy(&p, r->payload.data(), sizeof p);
        if (p.token != token) why = "token mismatch";
      }
      if (!why.empty()) ++bad;
    }
    checks.check(bad == 0, "ping", std::to_string(opts.pings) + " round trips" + (why.empty() ? "" : ", " + why));
  }

  // 2. Echo: sizes around every boundary, then random sizes (the 128 KiB rings wrap dozens of times).
  {
    std::vector<uint32_t> sizes = {0, 1, 2, 3, 7, 8, 15, 16, 17, 39, 40, 41, 63, 64, 65, 127, 128, 1000, 4095,
                                   4096, 4097, 8191, 16384, 32767, 32768};
    for (int i = 0; i < opts.echos; ++i) sizes.push_back(static_cast<uint32_t>(rng() % (kMaxEchoTail + 1)));
    std::string why;
    uint64_t bytes = 0;
    for (size_t i = 0; i < sizes.size() && why.empty(); ++i) {
      const auto tail = pattern(sizes[i], static_cast<uint32_t>(i));
      auto r = call<Op::Echo>(ep, seq++, EchoReq{fnv1a(tail), 0}, tail, rsp);
      if (!r) why = std::string(error_name(r.error()));
      else if (r->result != 0) why = "result " + std::to_string(r->result);
      else if (r->payload.size() != sizeof(EchoRsp) + tail.size()) why = "payload size";
      else if (!std::equal(tail.begin(), tail.end(), r->payload.begin() + sizeof(EchoRsp))) why = "tail differs";
      if (!why.empty()) why += " at size " + std::to_string(sizes[i]);
      bytes += sizes[i];
    }
    const uint64_t wraps = bytes / ep.channel.geometry().request_ring_bytes;
    checks.check(why.empty(), "echo", std::to_string(sizes.size()) + " tails 0..32768 B, " + std::to_string(bytes) +
                                          " B, ~" + std::to_string(wraps) + " ring wraps" +
                                          (why.empty() ? "" : ", " + why));
    // A request whose checksum does not match its tail: the validator refuses it with an in-protocol error.
    const auto tail = pattern(100, 7);
    auto r = call<Op::Echo>(ep, seq++, EchoReq{fnv1a(tail) ^ 1, 0}, tail, rsp);
    checks.check(r && r->result == kCudaErrorInvalidValue && r->payload.empty(), "echo-invalid-rejected",
                 r ? "result " + std::to_string(r->result) : std::string(error_name(r.error())));
  }

  // 3. Fire-and-forget Nops, then a synchronising Ping that reports any out-of-order/lost post.
  {
    const auto t0 = Clock::now();
    uint64_t sum = 0;
    Error e = Error::kOk;
    for (uint64_t v = 1; v <= opts.nops && e == Error::kOk; ++v) {
      e = send_request<Op::Nop>(ep.channel.tx(), seq++, NopPost{v}, {}, Clock::now() + std::chrono::seconds(10));
      sum += v;
    }
    auto r = call<Op::Ping>(ep, seq++, PingReq{99}, {}, rsp);
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    char d[160];
    std::snprintf(d, sizeof d, "%llu posts, checksum %llu, %.0f posts/s, sync ping %s",
                  (unsigned long long)opts.nops, (unsigned long long)sum, opts.nops / secs,
                  e != Error::kOk ? std::string(error_name(e)).c_str()
                  : !r            ? std::string(error_name(r.error())).c_str()
                  : r->result     ? ("result " + std::to_string(r->result)).c_str()
                                  : "ok");
    checks.check(e == Error::kOk && r && r->result == 0, "nop", d);
    std::printf("NOPSENT count=%llu sum=%llu\n", (unsigned long long)opts.nops, (unsigned long long)sum);
  }

  // 4. BulkPut through the data area, and ranges outside it.
  {
    const std::span<std::byte> data = ep.channel.data();
    struct Range {
      uint64_t off, len;
    };
    std::vector<Range> ranges = {{0, data.size()}, {0, 1}, {1, 1}, {4095, 4097}, {data.size() - 1, 1}, {0, 0}};
    for (int i = 0; i < opts.bulks; ++i) {
      const uint64_t off = rng() % data.size();
      ranges.push_back({off, rng() % (data.size() - off + 1)});
    }
    std::string why;
    for (size_t i = 0; i < ranges.size() && why.empty(); ++i) {
      const auto bytes = pattern(ranges[i].len, static_cast<uint32_t>(1000 + i));
      if (!bytes.empty()) std::memcpy(data.data() + ranges[i].off, bytes.data(), bytes.size());
      auto r = call<Op::BulkPut>(ep, seq++, BulkPutReq{ranges[i].off, ranges[i].len, kBulkWantChecksum, 0}, {}, rsp);
      BulkPutRsp b{};
      if (r && r->result == 0 && r->payload.size() == sizeof b) std::memcpy(&b, r->payload.data(), sizeof b);
      if (!r) why = std::string(error_name(r.error()));
      else if (r->result != 0) why = "result " + std::to_string(r->result);
      else if (b.checksum != fnv1a(bytes)) why = "checksum differs";
      if (!why.empty()) why += " at offset " + std::to_string(ranges[i].off) + " len " + std::to_string(ranges[i].len);
    }
    checks.check(why.empty(), "bulkput", std::to_string(ranges.size()) + " ranges in a " +
                                             std::to_string(data.size()) + " B data area" +
                                             (why.empty() ? "" : ", " + why));
    const Range bad[] = {{data.size(), 1}, {1, data.size()}, {UINT64_MAX, 2}, {2, UINT64_MAX}};
    int refused = 0;
    for (const Range& x : bad) {
      auto r = call<Op::BulkPut>(ep, seq++, BulkPutReq{x.off, x.len, kBulkWantChecksum, 0}, {}, rsp);
      refused += r && r->result == kCudaErrorInvalidValue;
    }
    checks.check(refused == 4, "bulkput-out-of-range-rejected", std::to_string(refused) + "/4 refused");
  }
  return checks.failed() - failed_before;
}

Result<BenchFigures> run_bench(Endpoint& ep, int pings, uint64_t nops) {
  std::vector<std::byte> rsp;
  uint32_t seq = 1;
  for (int i = 0; i < 200; ++i) {  // warm-up
    auto r = call<Op::Ping>(ep, seq++, PingReq{1}, {}, rsp);
    if (!r) return r.error();
  }
  std::vector<double> rtt;
  rtt.reserve(pings);
  for (int i = 0; i < pings; ++i) {
    const auto t = Clock::now();
    auto r = call<Op::Ping>(ep, seq++, PingReq{static_cast<uint64_t>(i)}, {}, rsp);
    if (!r) return r.error();
    rtt.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t).count());
  }
  std::sort(rtt.begin(), rtt.end());
  BenchFigures f;
  f.ping_p50_us = rtt[rtt.size() / 2];
  f.ping_p99_us = rtt[rtt.size() * 99 / 100];
  // The server checks Nops for order from 1 within a session: continue from a fresh count each bench run
  // is not possible, so the bench session is a separate connection (values start at 1).
  const auto t0 = Clock::now();
  for (uint64_t v = 1; v <= nops; ++v) {
    if (Error e = send_request<Op::Nop>(ep.channel.tx(), seq++, NopPost{v}); e != Error::kOk) return e;
  }
  auto r = call<Op::Ping>(ep, seq++, PingReq{2}, {}, rsp);
  if (!r) return r.error();
  if (r->result != 0) return Error::kInvalidField;
  f.nop_per_s = nops / std::chrono::duration<double>(Clock::now() - t0).count();
  return f;
}

Error run_soak(Endpoint& ep, std::chrono::seconds limit, uint64_t* messages) {
  std::vector<std::byte> rsp;
  uint32_t seq = 1;
  uint64_t nop = 1;
  const auto end = Clock::now() + limit;
  const auto tail = pattern(3000, 5);
  while (Clock::now() < end) {
    for (int i = 0; i < 64; ++i) {
      if (Error e = send_request<Op::Nop>(ep.channel.tx(), seq++, NopPost{nop++}, {}, Clock::now() + std::chrono::seconds(5));
          e != Error::kOk)
        return e;
    }
    auto r = call<Op::Echo>(ep, seq++, EchoReq{fnv1a(tail), 0}, tail, rsp, std::chrono::seconds(5));
    if (!r) return r.error();
    if (r->result != 0) return Error::kInvalidField;
    *messages += 65;
  }
  return Error::kTimeout;
}

Result<BenchFigures> run_shm_bench(int pings, uint64_t nops) {
  char path[] = "/tmp/xg-shm-bench-XXXXXX";
  if (!::mkdtemp(path)) return Error::kSystem;
  const std::string sock = std::string(path) + "/proxy.sock";
  auto listener = listen_unix(sock);
  if (!listener) return listener.error();
  const pid_t child = ::fork();
  if (child < 0) return Error::kSystem;
  if (child == 0) {  // the proxy side
    idm::UniqueFd conn(::accept4(listener->get(), nullptr, nullptr, SOCK_CLOEXEC));
    auto reg = read_hello(std::move(conn), std::chrono::seconds(10));
    if (!reg) ::_exit(2);
    auto ep = welcome_zone(reg.value(), 1, ChannelGeometry{});
    if (!ep) ::_exit(3);
    (void)serve(**ep);
    ::_exit(0);
  }
  auto zone = connect_zone(sock, "bench", 0, std::chrono::seconds(10));
  Result<BenchFigures> f = zone ? run_bench(*zone->endpoint, pings, nops) : Result<BenchFigures>(zone.error());
  if (zone) zone->endpoint.reset();
  int status = 0;
  ::kill(child, SIGTERM);
  ::waitpid(child, &status, 0);
  ::unlink(sock.c_str());
  ::rmdir(path);
  return f;
}

}  // namespace xg::xentest
