// Channels over the shm transport between real processes: registration with a memfd over SCM_RIGHTS,
// conformance traffic, a 10M-message checksum stress, and peer death detected on both sides.
// Also runs under TSan (each process is instrumented on its own).
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <cstdlib>
#include <string>
#include <vector>

#include "idm/testing/transport_peer.h"
#include "idm/transport_shm.h"
#include "tests/support/child.h"

namespace xg::idm {
namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

std::string socket_path(const char* tag) {
  return "/tmp/xg-idm-" + std::string(tag) + "-" + std::to_string(::getpid()) + ".sock";
}

uint64_t prng(uint64_t& s) {
  s ^= s << 13;
  s ^= s >> 7;
  s ^= s << 17;
  return s;
}

constexpr uint64_t kStressMessages = 10'000'000;

// Proxy side of a test: accept one zone and return its endpoint.
std::unique_ptr<Endpoint> accept_one(int listen_fd) {
  UniqueFd conn(::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
  REQUIRE(conn.valid());
  auto reg = read_hello(std::move(conn), 5s);
  REQUIRE(reg.ok());
  auto ep = welcome_zone(*reg, 7, ChannelGeometry{});
  REQUIRE(ep.ok());
  return std::move(ep.value());
}

XG_CHILD("conformance-zone") {
  auto zc = connect_zone(argv[0], "conf-zone", 0, 5s);
  if (!zc) return 10;
  if (zc->zone_id != 7) return 11;
  ConformanceClient cl(zc->endpoint->channel);
  for (uint64_t t = 0; t < 1000; ++t)
    if (auto r = cl.ping(t); !r || *r != t) return 12;
  std::vector<std::byte> tail(kMaxEchoTail);
  for (size_t i = 0; i < tail.size(); ++i) tail[i] = std::byte(i * 31);
  for (size_t len : {size_t{0}, size_t{1}, size_t{63}, size_t{4000}, size_t{kMaxEchoTail}})
    for (int k = 0; k < 20; ++k)  // enough to wrap the response ring several times
      if (auto r = cl.echo(std::span(tail).first(len)); !r || *r != fnv1a(std::span(tail).first(len))) return 13;
  auto data = zc->endpoint->channel.data();
  for (size_t i = 0; i < data.size(); ++i) data[i] = std::byte(i * 7 + 1);
  if (auto r = cl.bulk_put(4096, 1 << 20, true); !r || *r != fnv1a(data.subspan(4096, 1 << 20))) return 14;
  // Out of range: an error answer, not a crash.
  if (cl.bulk_put(data.size() - 10, 11, false).ok()) return 15;
  if (cl.bulk_put(~uint64_t{0} - 5, 10, false).ok()) return 16;
  if (!cl.ping(99).ok()) return 17;
  return 0;
}

TEST_CASE("shm channel: registration, Ping, Echo across the wrap, BulkPut, bad ranges answered") {
  const auto path = socket_path("conf");
  auto lfd = listen_unix(path);
  REQUIRE(lfd.ok());
  auto child = test::spawn_child("conformance-zone", {path});
  auto ep = accept_one(lfd->get());
  std::atomic<bool> stop{false};
  auto st = serve_conformance(ep->channel, stop);
  CHECK(child.wait() == 0);
  CHECK(st.ended_by == Error::kPeerGone);
  CHECK(st.bulk_bytes == (1u << 20));
  ::unlink(path.c_str());
}

XG_CHILD("stress-zone") {
  auto zc = connect_zone(argv[0], "stress", 0, 5s);
  if (!zc) return 10;
  ConformanceClient cl(zc->endpoint->channel);
  uint64_t s = 88172645463325252ull;
  std::vector<std::byte> tail(3000);
  for (uint64_t i = 0; i < kStressMessages; ++i) {
    if (i % 1000 == 999) {
      // Every thousandth message is an Echo whose tail the proxy checks against its checksum.
      const size_t len = (i / 1000) % tail.size();
      for (size_t k = 0; k < len; ++k) tail[k] = std::byte(i + k);
      if (auto r = cl.echo(std::span(tail).first(len)); !r) return 12;
      continue;
    }
    if (cl.post_nop(prng(s)) != Error::kOk) return 11;
  }
  if (!cl.ping(1).ok()) return 13;
  return 0;
}

TEST_CASE("shm channel: two processes, 10M messages, checksum of every payload") {
  const auto path = socket_path("stress");
  auto lfd = listen_unix(path);
  REQUIRE(lfd.ok());
  auto child = test::spawn_child("stress-zone", {path});
  auto ep = accept_one(lfd->get());
  std::atomic<bool> stop{false};
  const auto t0 = clock_type::now();
  auto st = serve_conformance(ep->channel, stop);
  const double secs = std::chrono::duration<double>(clock_type::now() - t0).count();
  CHECK(child.wait() == 0);
  uint64_t s = 88172645463325252ull, want = 0, nops = 0;
  for (uint64_t i = 0; i < kStressMessages; ++i) {
    if (i % 1000 == 999) continue;
    want = mix_nop(want, prng(s));
    ++nops;
  }
  CHECK(st.nops == nops);
  CHECK(st.nop_checksum == want);
  CHECK(st.rejected == 0);
  CHECK(st.requests == kStressMessages + 1);
  MESSAGE("10M messages in " << secs << " s");
  ::unlink(path.c_str());
}

XG_CHILD("dies-mid-message") {
  auto zc = connect_zone(argv[0], "doomed", 0, 5s);
  if (!zc) return 10;
  ConformanceClient cl(zc->endpoint->channel);
  if (cl.post_nop(1) != Error::kOk) return 11;
  // Write half of the next record (a length and some payload, never the stamp), then die without warning.
  auto& tx = zc->endpoint->channel.tx();
  std::byte* rec = tx.view().data + (tx.position() & (tx.view().capacity - 1));
  std::memset(rec + 8, 0x41, 100);
  ::raise(SIGKILL);
  return 12;
}

TEST_CASE("shm channel: a zone killed mid-message is detected by the proxy within 1 s") {
  const auto path = socket_path("kill");
  auto lfd = listen_unix(path);
  REQUIRE(lfd.ok());
  auto child = test::spawn_child("dies-mid-message", {path});
  auto ep = accept_one(lfd->get());
  std::vector<std::byte> buf(ep->channel.geometry().max_payload);
  auto first = ep->channel.rx().pop(buf, clock_type::now() + 5s);
  REQUIRE(first.ok());
  CHECK(child.wait() == 128 + SIGKILL);
  const auto t0 = clock_type::now();
  auto r = ep->channel.rx().pop(buf, clock_type::now() + 10s);
  const auto waited = clock_type::now() - t0;
  CHECK(r.error() == Error::kPeerGone);
  CHECK(waited < 1s);
  ::unlink(path.c_str());
}

XG_CHILD("proxy-dies") {
  auto lfd = listen_unix(argv[0]);
  if (!lfd) return 10;
  if (::write(STDOUT_FILENO, "L", 1) != 1) return 9;  // tell the parent we are listening
  UniqueFd conn(::accept4(lfd->get(), nullptr, nullptr, SOCK_CLOEXEC));
  auto reg = read_hello(std::move(conn), 5s);
  if (!reg) return 11;
  auto ep = welcome_zone(*reg, 3, ChannelGeometry{});
  if (!ep) return 12;
  std::vector<std::byte> buf((*ep)->channel.geometry().max_payload);
  if (!(*ep)->channel.rx().pop(buf, clock_type::now() + 5s).ok()) return 13;
  ::raise(SIGKILL);  // a request is outstanding and will never be answered
  return 14;
}

TEST_CASE("shm channel: the zone waiting on a killed proxy learns it within 1 s") {
  const auto path = socket_path("pkill");
  int pipefd[2];
  REQUIRE(::pipe(pipefd) == 0);
  // The child's stdout is the pipe: its "L" says it listens.
  const int saved = ::dup(STDOUT_FILENO);
  ::dup2(pipefd[1], STDOUT_FILENO);
  auto child = test::spawn_child("proxy-dies", {path}, {STDOUT_FILENO});
  ::dup2(saved, STDOUT_FILENO);
  ::close(saved);
  ::close(pipefd[1]);
  char c = 0;
  REQUIRE(::read(pipefd[0], &c, 1) == 1);
  ::close(pipefd[0]);
  auto zc = connect_zone(path, "orphan", 0, 5s);
  REQUIRE(zc.ok());
  ConformanceClient cl(zc->endpoint->channel);
  REQUIRE(cl.send<Op::Ping>(PingReq{5}) == Error::kOk);
  const auto t0 = clock_type::now();
  auto r = cl.receive();
  const auto waited = clock_type::now() - t0;
  CHECK(child.wait() == 128 + SIGKILL);
  CHECK(r.error() == Error::kPeerGone);
  CHECK(waited < 1s);
  ::unlink(path.c_str());
}

}  // namespace
}  // namespace xg::idm
