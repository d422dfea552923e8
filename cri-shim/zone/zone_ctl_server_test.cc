// The control server over an in-memory channel, with plain host processes (PlainHost) as the process host: the
// shim's calls as the shim makes them, each answer decoded by the table-driven codec and each Poll's events by
// parse_ctl_events().
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cri-shim/zone/plain_host.h"
#include "cri-shim/zone/supervisor.h"
#include "cri-shim/zone/zone_ctl_server.h"
#include "idm/codec.h"
#include "idm/futex_doorbell.h"

namespace xg::zone {
namespace {

using namespace xg::idm;
using namespace std::chrono_literals;

// Both sides of one channel in this process's memory.
struct MemoryChannel {
  ChannelGeometry g;
  struct Free {
    void operator()(std::byte* p) const { std::free(p); }
  };
  std::unique_ptr<std::byte, Free> mem;
  FutexDoorbell shim_bell, zone_bell;
  Channel shim, zone;
  MemoryChannel() {
    g.data_pages = 1;
    const size_t bytes = g.total_bytes();
    mem.reset(static_cast<std::byte*>(std::aligned_alloc(4096, bytes)));
    std::memset(mem.get(), 0, bytes);
    const std::span region(mem.get(), bytes);
    Channel::format(region, g);
    shim = Channel::attach(region, g, Role::kZone, &shim_bell).value();  // the shim calls: the caller's rings
    zone = Channel::attach(region, g, Role::kProxy, &zone_bell).value();
  }
};

struct Answer {
  uint32_t result = ~0u;
  std::vector<std::byte> payload;
  template <typename T>
  T fixed() const {
    T v{};
    REQUIRE(payload.size() >= sizeof v);
    std::memcpy(&v, payload.data(), sizeof v);
    return v;
  }
  std::span<const std::byte> tail(size_t fixed_bytes) const { return std::span(payload).subspan(fixed_bytes); }
};

std::vector<std::byte> bytes(std::string_view s) {
  const auto* p = reinterpret_cast<const std::byte*>(s.data());
  return {p, p + s.size()};
}

// The server on its own thread, and a client making the shim's calls.
struct Fixture {
  MemoryChannel mc;
  PlainHost host;
  Supervisor sup;
  ZoneCtlServer server{mc.zone, host, sup};
  std::atomic<bool> stop{false};
  ServeResult served;
  std::thread thread{[this] { served = server.serve(stop); }};
  uint32_t seq = 0;
  std::vector<std::byte> rx = std::vector<std::byte>(mc.g.max_payload);

  ~Fixture() {
    stop = true;
    thread.join();
  }

  Answer receive(uint32_t want_seq) {
    auto n = mc.shim.rx().pop(rx, std::chrono::steady_clock::now() + 20s);
    REQUIRE(n.ok());
    auto m = decode(std::span(rx).first(*n), Direction::kResponse, Path::kRing);
    REQUIRE(m.ok());
    CHECK(m->header.seq == want_seq);
    Answer a;
    a.result = m->header.result;
    a.payload.assign(m->payload.begin(), m->payload.end());
    return a;
  }

  template <Op op>
  Answer call(const typename OpTraits<op>::Request& req, std::span<const std::byte> tail = {}) {
    REQUIRE(send_request<op>(mc.shim.tx(), ++seq, req, tail) == Error::kOk);
    return receive(seq);
  }

  // A container's first process (container == 0) or an exec into `container`.
  Answer start(uint32_t proc_id, std::vector<std::string> argv, uint32_t container = 0, bool with_stdin = false,
               std::string cwd = "/") {
    CtlStartStrings s;
    s.id = "c1";
    s.cwd = cwd;
    s.hostname = "";
    for (auto& a : argv) s.argv.push_back(a);
    s.env = {"PATH=/usr/bin:/bin", "LC_ALL=C"};
    auto tail = encode_ctl_start(s);
    CtlStartReq r{proc_id, container, 0, ::getuid(), ::getgid(), with_stdin ? uint32_t{kCtlStartStdin} : 0,
                  static_cast<uint32_t>(s.argv.size()), static_cast<uint32_t>(s.env.size())};
    return call<Op::CtlStart>(r, tail);
  }

  struct Collected {
    std::map<uint32_t, std::string> out, err;
    std::map<uint32_t, int> status;
    bool output_after_exit = false;
    int polls = 0;
  };
  // Polls until every process in `procs` has exited (bounded).
  Collected poll_until_exit(std::vector<uint32_t> procs, uint32_t max_bytes = kMaxCtlPollTail) {
    Collected c;
    const auto until = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < until) {
      auto a = call<Op::CtlPoll>(CtlPollReq{max_bytes, 100});
      REQUIRE(a.result == 0);
      ++c.polls;
      const auto rsp = a.fixed<CtlPollRsp>();
      const bool parsed = parse_ctl_events(a.tail(sizeof rsp), rsp.events, [&](const CtlEvent& ev, auto b) {
        if (ev.type == uint16_t(CtlEventType::kExit)) {
          c.status[ev.proc_id] = ev.value;
          return;
        }
        if (c.status.count(ev.proc_id)) c.output_after_exit = true;
        (ev.stream == 1 ? c.out : c.err)[ev.proc_id].append(reinterpret_cast<const char*>(b.data()), b.size());
      });
      REQUIRE(parsed);
      if (std::all_of(procs.begin(), procs.end(), [&](uint32_t p) { return c.status.count(p) > 0; }) && !rsp.pending)
        break;
    }
    return c;
  }
};

TEST_CASE("start: stdout, stderr and the exit status, the exit after the output") {
  Fixture f;
  auto hello = f.call<Op::CtlHello>(CtlHelloReq{kCtlProtocolVersion, 0});
  REQUIRE(hello.result == 0);
  CHECK(hello.fixed<CtlHelloRsp>().protocol_version == kCtlProtocolVersion);
  auto a = f.start(1, {"/bin/sh", "-c", "echo out; echo err >&2; exit 3"});
  REQUIRE(a.result == 0);
  CHECK(a.fixed<CtlStartRsp>().pid > 0);
  auto c = f.poll_until_exit({1});
  CHECK(c.out[1] == "out\n");
  CHECK(c.err[1] == "err\n");
  REQUIRE(c.status.count(1));
  CHECK(c.status[1] == 3);
  CHECK_FALSE(c.output_after_exit);
  CHECK(f.call<Op::CtlRemove>(CtlProcReq{1, 0}).result == 0);
  CHECK(f.call<Op::CtlRemove>(CtlProcReq{1, 0}).result == ENOENT);
}

TEST_CASE("signal: SIGTERM to a sleep is status 128+15; a PATH lookup finds sleep") {
  Fixture f;
  REQUIRE(f.start(7, {"sleep", "100"}).result == 0);
  CHECK(f.call<Op::CtlRemove>(CtlProcReq{7, 0}).result == EBUSY);  // still running
  CHECK(f.call<Op::CtlSignal>(CtlSignalReq{7, SIGTERM, 0, 0}).result == 0);
  auto c = f.poll_until_exit({7});
  CHECK(c.status[7] == 128 + SIGTERM);
  CHECK(f.call<Op::CtlSignal>(CtlSignalReq{7, SIGTERM, 0, 0}).result == ESRCH);  // exited: never a recycled pid
}

TEST_CASE("stdin: bytes through cat, then close") {
  Fixture f;
  REQUIRE(f.start(2, {"cat"}, 0, true).result == 0);
  auto part1 = bytes("hello ");
  auto part2 = bytes("world\n");
  CHECK(f.call<Op::CtlStdin>(CtlStdinReq{2, 0}, part1).result == 0);
  CHECK(f.call<Op::CtlStdin>(CtlStdinReq{2, kCtlStdinClose}, part2).result == 0);
  CHECK(f.call<Op::CtlStdin>(CtlStdinReq{2, 0}, part1).result == EPIPE);  // closed
  auto c = f.poll_until_exit({2});
  CHECK(c.out[2] == "hello world\n");
  CHECK(c.status[2] == 0);
  // A process started without stdin has none.
  REQUIRE(f.start(3, {"true"}).result == 0);
  CHECK(f.call<Op::CtlStdin>(CtlStdinReq{3, 0}, part1).result == EPIPE);
}

TEST_CASE("pids and exec: a container with an exec, signalled together") {
  Fixture f;
  auto c1 = f.start(10, {"sleep", "100"});
  REQUIRE(c1.result == 0);
  auto e1 = f.start(11, {"sleep", "100"}, 10);
  REQUIRE(e1.result == 0);
  const uint32_t cpid = c1.fixed<CtlStartRsp>().pid, epid = e1.fixed<CtlStartRsp>().pid;
  auto p = f.call<Op::CtlPids>(CtlProcReq{10, 0});
  REQUIRE(p.result == 0);
  const auto rsp = p.fixed<CtlPidsRsp>();
  std::vector<uint32_t> pids(rsp.count);
  REQUIRE(p.tail(sizeof rsp).size() == 4 * pids.size());
  std::memcpy(pids.data(), p.tail(sizeof rsp).data(), 4 * pids.size());
  CHECK(std::count(pids.begin(), pids.end(), cpid) == 1);
  CHECK(std::count(pids.begin(), pids.end(), epid) == 1);
  CHECK(f.start(12, {"true"}, 11).result == EINVAL);  // an exec into an exec
  CHECK(f.call<Op::CtlSignal>(CtlSignalReq{10, SIGKILL, 1, 0}).result == 0);
  auto c = f.poll_until_exit({10, 11});
  CHECK(c.status[10] == 128 + SIGKILL);
  CHECK(c.status[11] == 128 + SIGKILL);
  CHECK(f.start(13, {"true"}, 10).result == ESRCH);  // the container is gone
  auto after = f.call<Op::CtlPids>(CtlProcReq{10, 0});
  CHECK(after.result == 0);
  CHECK(after.fixed<CtlPidsRsp>().count == 0);
}

TEST_CASE("bad requests: an errno each, and the server keeps serving") {
  Fixture f;
  CHECK(f.call<Op::CtlSignal>(CtlSignalReq{99, SIGTERM, 0, 0}).result == ENOENT);
  CHECK(f.call<Op::CtlPids>(CtlProcReq{99, 0}).result == ENOENT);
  CHECK(f.call<Op::CtlStdin>(CtlStdinReq{99, 0}).result == ENOENT);
  CHECK(f.call<Op::CtlRemove>(CtlProcReq{99, 0}).result == ENOENT);
  CHECK(f.start(5, {"/nonexistent/program"}).result == ENOENT);  // a failure before exec: a CtlStart error
  CHECK(f.start(6, {"/bin/sh", "-c", "true"}, 0, false, "/nonexistent-dir").result == ENOENT);
  CHECK(f.start(8, {"true"}, 77).result == ENOENT);  // an exec into no container
  REQUIRE(f.start(4, {"sleep", "100"}).result == 0);
  CHECK(f.start(4, {"true"}).result == EEXIST);
  // Strings the validator refuses (a relative cwd; a count that disagrees with the tail): EINVAL.
  CHECK(f.start(9, {"true"}, 0, false, "relative").result == EINVAL);
  {
    CtlStartStrings s{"c1", "/", "", {"true"}, {}};
    auto tail = encode_ctl_start(s);
    CHECK(f.call<Op::CtlStart>(CtlStartReq{9, 0, 0, 0, 0, 0, 2, 0}, tail).result == EINVAL);
    CHECK(f.call<Op::CtlStart>(CtlStartReq{9, 0, 0, 0, 0, 0x80, 1, 0}, tail).result == EINVAL);  // unknown flag
    CHECK(f.call<Op::CtlStart>(CtlStartReq{9, 0, 40, 0, 0, 0, 1, 0}, tail).result == EINVAL);    // no such disk
  }
  CHECK(f.call<Op::CtlSignal>(CtlSignalReq{4, 0, 0, 0}).result == EINVAL);  // signal 0
  CHECK(f.call<Op::CtlPoll>(CtlPollReq{kMaxCtlPollTail + 1, 0}).result == EINVAL);
  // Not a control call: ENOSYS.
  CHECK(f.call<Op::Ping>(PingReq{1}).result == ENOSYS);
  // Garbage with no sound header is only logged; the next call is still answered.
  std::byte junk[40] = {};
  REQUIRE(f.mc.shim.tx().push(std::span<const std::byte>(junk)) == Error::kOk);
  CHECK(f.call<Op::CtlSignal>(CtlSignalReq{4, SIGKILL, 0, 0}).result == 0);
  auto c = f.poll_until_exit({4});
  CHECK(c.status[4] == 128 + SIGKILL);
  CHECK(f.call<Op::CtlHello>(CtlHelloReq{kCtlProtocolVersion, 0}).result == 0);
}

TEST_CASE("a large output (1 MiB) arrives complete through many small polls") {
  Fixture f;
  REQUIRE(f.start(20, {"/bin/sh", "-c", "head -c 1048576 /dev/zero | tr '\\0' x; echo done >&2"}).result == 0);
  auto c = f.poll_until_exit({20}, 4096);
  CHECK(c.out[20].size() == 1048576);
  CHECK(std::count(c.out[20].begin(), c.out[20].end(), 'x') == 1048576);
  CHECK(c.err[20] == "done\n");
  CHECK(c.status[20] == 0);
  CHECK(c.polls > 256);
  CHECK_FALSE(c.output_after_exit);
}

TEST_CASE("a background child holding the pipe does not hold the exit back for ever") {
  Fixture f;
  REQUIRE(f.start(30, {"/bin/sh", "-c", "echo before; sleep 5 & exit 4"}).result == 0);
  auto c = f.poll_until_exit({30});
  CHECK(c.out[30] == "before\n");
  CHECK(c.status[30] == 4);
}

TEST_CASE("shutdown: answered, then serve() returns with the grace") {
  Fixture f;
  CHECK(f.call<Op::CtlShutdown>(CtlShutdownReq{1500, 0}).result == 0);
  f.thread.join();
  f.thread = std::thread([] {});
  CHECK(f.served.end == ServeEnd::kShutdown);
  CHECK(f.served.grace_ms == 1500);
}

}  // namespace
}  // namespace xg::zone
