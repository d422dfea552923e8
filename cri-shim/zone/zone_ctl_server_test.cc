// The control server over an in-memory channel, with plain host processes (PlainHost) as the process host: the
// shim's calls as the shim makes them, each answer decoded by the table-driven codec and each Poll's events by
// parse_ctl_events().
#include <doctest/doctest.h>
#include <signal.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cri-shim/zone/cgroups.h"
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

// A CtlStart's strings for `argv` in container "c1" (views: `argv` must outlive the result).
CtlStartStrings strings_for(const std::vector<std::string>& argv, std::string_view cwd = "/") {
  CtlStartStrings s;
  s.id = "c1";
  s.cwd = cwd;
  for (auto& a : argv) s.argv.push_back(a);
  s.env = {"PATH=/usr/bin:/bin", "LC_ALL=C"};
  return s;
}

// The server on its own thread, and a client making the shim's calls.
struct Fixture {
  explicit Fixture(ZoneCgroups* cgroups = nullptr) : host(cgroups) {}
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
    CtlStartReq r{};
    r.container_proc = container;
    r.uid = ::getuid();
    r.gid = ::getgid();
    r.flags = with_stdin ? uint32_t{kCtlStartStdin} : 0;
    return start_with(proc_id, r, strings_for(argv, cwd));
  }
  // The same with the caller's fixed fields (proc_id, counts and the tail filled in here).
  Answer start_with(uint32_t proc_id, CtlStartReq r, const CtlStartStrings& s) {
    r.proc_id = proc_id;
    r.argc = static_cast<uint32_t>(s.argv.size());
    r.envc = static_cast<uint32_t>(s.env.size());
    r.ngroups = static_cast<uint32_t>(s.groups.size());
    r.nrlimits = static_cast<uint32_t>(s.rlimits.size());
    r.nmounts = static_cast<uint32_t>(s.mounts.size());
    r.nfilter = static_cast<uint32_t>(s.filter.size());
    return call<Op::CtlStart>(r, encode_ctl_start(s));
  }

  struct Collected {
    std::map<uint32_t, std::string> out, err;
    std::map<uint32_t, int> status;
    bool output_after_exit = false;
    int polls = 0;
  };
  // Polls until every process in `procs` has exited (bounded; `max_polls`: or after that many Polls).
  Collected poll_until_exit(std::vector<uint32_t> procs, uint32_t max_bytes = kMaxCtlPollTail, int max_polls = -1) {
    Collected c;
    const auto until = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < until && c.polls != max_polls) {
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

TEST_CASE("terminal: stdio on a pty, the process its session leader, resized, input echoed, ^C to its group") {
  Fixture f;
  CtlStartReq r{};
  r.uid = ::getuid();
  r.gid = ::getgid();
  r.flags = kCtlStartTerminal | kCtlStartStdin;
  // Waits for a line (after the resize), then reports what it sees; the second read is ended by ^C.
  const std::vector<std::string> argv = {
      "/bin/sh", "-c",
      "[ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo on-a-tty; tty > /dev/null && echo tty-named; "
      "[ \"$(cut -d' ' -f6 /proc/$$/stat)\" = $$ ] && echo session-leader; "
      "trap 'echo interrupted; exit 5' INT; read line; echo \"size $(stty size) line $line\"; read more"};
  REQUIRE(f.start_with(4, r, strings_for(argv)).result == 0);
  CHECK(f.call<Op::CtlResize>(CtlResizeReq{4, 100, 40, 0}).result == 0);
  CHECK(f.call<Op::CtlStdin>(CtlStdinReq{4, 0}, bytes("go\n")).result == 0);
  // ^C once the shell has answered the line (its trap was set first; the ^C goes again until it ends the
  // shell): the terminal's line discipline makes it SIGINT.
  std::string out;
  Fixture::Collected c;
  for (int i = 0; i < 100 && !c.status.count(4); ++i) {
    if (out.find("line go") != std::string::npos)
      CHECK(f.call<Op::CtlStdin>(CtlStdinReq{4, 0}, bytes("\x03")).result == 0);
    c = f.poll_until_exit({4}, kMaxCtlPollTail, 1);
    out += c.out[4];
    CHECK(c.err[4].empty());  // a terminal has one stream
  }
  CAPTURE(out);
  CHECK(out.find("on-a-tty") != std::string::npos);
  CHECK(out.find("session-leader") != std::string::npos);
  CHECK(out.find("tty-named") != std::string::npos);  // ttyname(3) finds it in /dev/pts
  CHECK(out.find("go\r\n") != std::string::npos);  // the terminal echoes input, with its CR-LF
  CHECK(out.find("size 40 100 line go") != std::string::npos);
  CHECK(out.find("interrupted") != std::string::npos);
  CHECK(c.status[4] == 5);
  CHECK(f.call<Op::CtlResize>(CtlResizeReq{4, 80, 24, 0}).result == ESRCH);  // exited
  // A process without a terminal cannot be resized; an unknown one is not there.
  REQUIRE(f.start(5, {"sleep", "100"}).result == 0);
  CHECK(f.call<Op::CtlResize>(CtlResizeReq{5, 80, 24, 0}).result == ENOTTY);
  CHECK(f.call<Op::CtlResize>(CtlResizeReq{6, 80, 24, 0}).result == ENOENT);
  CHECK(f.call<Op::CtlSignal>(CtlSignalReq{5, SIGKILL, 0, 0}).result == 0);
  (void)f.poll_until_exit({5});
}

TEST_CASE("update and freeze: refused for an exec, an exited or unknown process, or without cgroups") {
  Fixture f;  // PlainHost without cgroups
  REQUIRE(f.start(1, {"sleep", "100"}).result == 0);
  REQUIRE(f.start(2, {"sleep", "100"}, 1).result == 0);  // an exec into it
  const CtlResources r{32 << 20, 0, 0, 0, 0, 0};
  CHECK(f.call<Op::CtlUpdate>(CtlUpdateReq{1, 0, r}).result == ENOTSUP);  // no cgroup v2 tree to write
  CHECK(f.call<Op::CtlUpdate>(CtlUpdateReq{2, 0, r}).result == EINVAL);   // an exec has its container's
  CHECK(f.call<Op::CtlUpdate>(CtlUpdateReq{9, 0, r}).result == ENOENT);
  CHECK(f.call<Op::CtlFreeze>(CtlFreezeReq{1, 1}).result == ENOTSUP);  // freezing takes a cgroup too
  CHECK(f.call<Op::CtlFreeze>(CtlFreezeReq{2, 1}).result == EINVAL);   // an exec is frozen with its container
  CHECK(f.call<Op::CtlSignal>(CtlSignalReq{2, SIGKILL, 0, 0}).result == 0);
  CHECK(f.call<Op::CtlSignal>(CtlSignalReq{1, SIGKILL, 0, 0}).result == 0);
  (void)f.poll_until_exit({1, 2});
  CHECK(f.call<Op::CtlUpdate>(CtlUpdateReq{1, 0, r}).result == ESRCH);
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
    auto tail = encode_ctl_start(strings_for({"true"}));
    auto req = [](uint32_t disk, uint32_t flags, uint32_t argc) {
      CtlStartReq r{};
      r.proc_id = 9;
      r.rootfs_disk = disk;
      r.flags = flags;
      r.argc = argc;
      r.envc = 2;
      return r;
    };
    CHECK(f.call<Op::CtlStart>(req(0, 0, 2), tail).result == EINVAL);
    CHECK(f.call<Op::CtlStart>(req(0, 0x80, 1), tail).result == EINVAL);  // unknown flag
    CHECK(f.call<Op::CtlStart>(req(40, 0, 1), tail).result == EINVAL);    // no such disk
    CtlStartReq caps = req(0, kCtlStartCaps, 1);
    caps.caps = CtlCaps{0x1, 0x2, 0x1, 0, 0};  // effective not within permitted
    CHECK(f.call<Op::CtlStart>(caps, tail).result == EINVAL);
  }
  {
    // Mounts (protocol 3): a list the zone's validator refuses is EINVAL before anything starts; a sound one
    // on the plain host (no mount namespace to make them in) is ENOTSUP, never a start without them.
    const std::vector<std::string> argv = {"true"};
    CtlStartStrings s = strings_for(argv);
    s.mounts.push_back({CtlMount{static_cast<uint32_t>(CtlMountKind::kTmpfs), kCtlMountDir, 0, 0, 0}, "", "/t/../x"});
    CHECK(f.start_with(10, CtlStartReq{}, s).result == EINVAL);  // a destination that climbs
    s.mounts[0].destination = "/t";
    CtlStartReq exec{};
    exec.container_proc = 4;
    CHECK(f.start_with(11, exec, s).result == EINVAL);  // an exec carries no mounts
    s.mounts[0].source = "x";
    CHECK(f.start_with(12, CtlStartReq{}, s).result == EINVAL);  // a tmpfs names no source
    s.mounts[0].source = "";
    s.mounts.push_back({CtlMount{static_cast<uint32_t>(CtlMountKind::kImage), kCtlMountRo, 0, 0, 0}, "0", "/etc/hosts"});
    CHECK(f.start_with(13, CtlStartReq{}, s).result == EINVAL);  // an image entry on the rootfs's disk
    CtlStartReq own{};
    own.mounts_disk = 1;
    CHECK(f.start_with(14, own, s).result == ENOTSUP);
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

// /proc/<pid>/status's line `key`, without the key ("" if none).
std::string status_line(const std::string& text, const std::string& key) {
  const auto at = text.find(key + ":\t");
  if (at == std::string::npos) return {};
  const auto end = text.find('\n', at);
  return text.substr(at + key.size() + 2, end - at - key.size() - 2);
}

TEST_CASE("process set-up as runc does it: rlimits, no_new_privs, capabilities, gids, oom_score_adj") {
  if (::geteuid() != 0) {
    MESSAGE("SKIP: needs root (capabilities, gids, a raised oom_score_adj)");
    return;
  }
  Fixture f;
  const std::string probe =
      "grep -E '^(CapBnd|CapEff|CapPrm|CapAmb|NoNewPrivs|Groups):' /proc/self/status; "
      "echo nofile=$(ulimit -n)/$(ulimit -H -n); echo oom=$(cat /proc/self/oom_score_adj)";
  CtlStartReq r{};
  r.flags = kCtlStartCaps | kCtlStartNoNewPrivs | kCtlStartOomScoreAdj;
  // Bounding CHOWN|KILL|SETUID; permitted and effective CHOWN|KILL. As root, exec gives bounding | inheritable,
  // which no_new_privs cuts back to the permitted set the process had.
  r.caps = CtlCaps{0xa1, 0x21, 0x21, 0, 0};
  r.oom_score_adj = 500;
  const std::vector<std::string> argv = {"/bin/sh", "-c", probe};
  CtlStartStrings s = strings_for(argv);
  s.groups = {1234, 5678};
  s.rlimits = {CtlRlimit{7, 0, 123, 456}};  // RLIMIT_NOFILE
  r.uid = 0;
  r.gid = 0;
  REQUIRE(f.start_with(50, r, s).result == 0);
  // Without root's privilege: uid/gid 65534, NET_BIND_SERVICE kept through the switch as an ambient capability.
  CtlStartReq n{};
  n.flags = kCtlStartCaps;
  n.uid = n.gid = 65534;
  n.caps = CtlCaps{0x400, 0x400, 0x400, 0x400, 0x400};
  REQUIRE(f.start_with(51, n, strings_for(argv)).result == 0);
  auto c = f.poll_until_exit({50, 51});
  INFO("root: " << c.out[50] << c.err[50]);
  INFO("nobody: " << c.out[51] << c.err[51]);
  CHECK(c.status[50] == 0);
  CHECK(status_line(c.out[50], "CapBnd") == "00000000000000a1");
  CHECK(status_line(c.out[50], "CapEff") == "0000000000000021");
  CHECK(status_line(c.out[50], "CapPrm") == "0000000000000021");
  CHECK(status_line(c.out[50], "NoNewPrivs") == "1");
  CHECK(status_line(c.out[50], "Groups").find("1234 5678") == 0);
  CHECK(c.out[50].find("nofile=123/456\n") != std::string::npos);
  CHECK(c.out[50].find("oom=500\n") != std::string::npos);
  CHECK(c.status[51] == 0);
  CHECK(status_line(c.out[51], "CapBnd") == "0000000000000400");
  CHECK(status_line(c.out[51], "CapEff") == "0000000000000400");
  CHECK(status_line(c.out[51], "CapAmb") == "0000000000000400");
  CHECK(status_line(c.out[51], "NoNewPrivs") == "0");
  // A limit the kernel refuses (NOFILE past fs.nr_open) fails the start with its errno, not as an exit.
  const std::vector<std::string> t = {"true"};
  CtlStartStrings big = strings_for(t);
  big.rlimits = {CtlRlimit{7, 0, uint64_t{1} << 40, uint64_t{1} << 40}};
  CHECK(f.start_with(52, CtlStartReq{}, big).result == EPERM);
}

// A seccomp program by hand (the shim compiles real ones with libseccomp): uname(2) answers EPERM, the rest runs.
std::vector<CtlFilterInsn> deny_uname() {
  return {
      {BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(seccomp_data, arch)},
      {BPF_JMP | BPF_JEQ | BPF_K, 1, 0, AUDIT_ARCH_X86_64},
      {BPF_RET | BPF_K, 0, 0, SECCOMP_RET_KILL_PROCESS},
      {BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(seccomp_data, nr)},
      {BPF_JMP | BPF_JEQ | BPF_K, 0, 1, __NR_uname},
      {BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ERRNO | EPERM},
      {BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW},
  };
}

TEST_CASE("seccomp: a container's filter on its first process and on its execs; a bad program fails the start") {
  Fixture f;
  CtlStartReq r{};
  r.flags = kCtlStartNoNewPrivs;  // as a non-root test may install a filter
  r.uid = ::getuid();
  r.gid = ::getgid();
  r.filter_flags = kCtlFilterLog;
  const std::vector<std::string> argv = {
      "/bin/sh", "-c", "grep -E '^Seccomp:' /proc/self/status; uname -s || echo denied; exec sleep 3"};
  CtlStartStrings s = strings_for(argv);
  s.filter = deny_uname();
  REQUIRE(f.start_with(60, r, s).result == 0);
  // The exec names no filter: it gets its container's.
  CtlStartReq e{};
  e.container_proc = 60;
  e.flags = kCtlStartNoNewPrivs;
  e.uid = ::getuid();
  e.gid = ::getgid();
  const std::vector<std::string> exec_argv = {"/bin/sh", "-c", "uname -s || echo exec-denied"};
  REQUIRE(f.start_with(61, e, strings_for(exec_argv)).result == 0);
  auto c = f.poll_until_exit({60, 61});
  INFO("container: " << c.out[60] << c.err[60]);
  INFO("exec: " << c.out[61] << c.err[61]);
  CHECK(c.out[60] == "Seccomp:\t2\ndenied\n");
  CHECK(c.out[61] == "exec-denied\n");
  // A container with no filter: uname answers.
  const std::vector<std::string> free_argv = {"/bin/sh", "-c", "uname -s"};
  CtlStartReq plain{};
  plain.flags = kCtlStartNoNewPrivs;
  plain.uid = ::getuid();
  plain.gid = ::getgid();
  REQUIRE(f.start_with(63, plain, strings_for(free_argv)).result == 0);
  c = f.poll_until_exit({63});
  CHECK(c.out[63] == "Linux\n");
  // A program the kernel refuses (a jump past its end) fails the start with EINVAL, not as an exit.
  CtlStartStrings bad = strings_for(free_argv);
  bad.filter = {{BPF_JMP | BPF_JA, 0, 0, 5}, {BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW}};
  CHECK(f.start_with(64, r, bad).result == EINVAL);
  // An exec may not bring a filter of its own (the validator refuses it before the zone acts).
  CtlStartStrings own = strings_for(free_argv);
  own.filter = deny_uname();
  CHECK(f.start_with(65, e, own).result == EINVAL);
}

// A cgroup2 mount of our own on a temporary directory (the one v2 hierarchy, seen from here), and a parent cgroup
// of this test's in it: works on a v1/hybrid host (no controllers for v2: every limit is skipped) as on a v2 one.
struct PrivateCgroup2 {
  std::string mnt, parent;
  bool ok = false;
  PrivateCgroup2() {
    if (::geteuid() != 0) return;
    char tmpl[] = "/tmp/xg-cg2-XXXXXX";
    if (!::mkdtemp(tmpl)) return;
    mnt = tmpl;
    if (::mount("cgroup2", mnt.c_str(), "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
      ::rmdir(mnt.c_str());
      mnt.clear();
      return;
    }
    parent = mnt + "/xg-zone-test-" + std::to_string(::getpid());
    ok = ::mkdir(parent.c_str(), 0755) == 0;
  }
  ~PrivateCgroup2() {
    if (mnt.empty()) return;
    ::rmdir(parent.c_str());
    ::umount2(mnt.c_str(), MNT_DETACH);
    ::rmdir(mnt.c_str());
  }
};

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

TEST_CASE("cgroups: a container's cgroup, its process and exec in it, stats read, removed after the exit") {
  PrivateCgroup2 cg2;
  if (!cg2.ok) {
    MESSAGE("SKIP: cannot mount a cgroup2 hierarchy here (needs root)");
    return;
  }
  ZoneCgroups cgroups(CgroupOptions{cg2.parent, false});
  REQUIRE(cgroups.ok());
  Fixture f(&cgroups);
  CtlStartReq r{};
  r.uid = ::getuid();
  r.gid = ::getgid();
  // Limits a host without v2 controllers cannot apply: logged and skipped, never fatal.
  r.resources = CtlResources{64 << 20, 50'000, 100'000, 100, 20, 0};
  REQUIRE(f.start_with(60, r, strings_for({"sleep", "100"})).result == 0);
  const std::string dir = cgroups.path_of(60);
  REQUIRE(dir == cg2.parent + "/ctr-c1");
  const uint32_t pid = f.call<Op::CtlPids>(CtlProcReq{60, 0}).result == 0 ? 1 : 0;
  CHECK(pid == 1);
  CHECK(read_text(dir + "/cgroup.procs").size() > 0);
  // Where a controller is on, its limit is there (a v2 host); elsewhere the file is absent.
  if (::access((dir + "/memory.max").c_str(), F_OK) == 0) CHECK(read_text(dir + "/memory.max") == "67108864\n");
  if (::access((dir + "/pids.max").c_str(), F_OK) == 0) CHECK(read_text(dir + "/pids.max") == "100\n");
  if (::access((dir + "/cpu.max").c_str(), F_OK) == 0) CHECK(read_text(dir + "/cpu.max") == "50000 100000\n");
  // An update: applied where the controllers are on; refused (ENOENT, not skipped) where one is not.
  const bool both_on = ::access((dir + "/memory.max").c_str(), F_OK) == 0 && ::access((dir + "/pids.max").c_str(), F_OK) == 0;
  const auto up = f.call<Op::CtlUpdate>(CtlUpdateReq{60, kCtlUnlimitPids, CtlResources{32 << 20, 0, 0, 0, 0, 0}});
  CHECK(up.result == (both_on ? 0u : uint32_t{ENOENT}));
  if (both_on) CHECK(read_text(dir + "/memory.max") == "33554432\n");
  // Freeze and thaw (cgroup.freeze is in every v2 cgroup, controllers or not): answered once the kernel says so.
  REQUIRE(f.call<Op::CtlFreeze>(CtlFreezeReq{60, 1}).result == 0);
  CHECK(read_text(dir + "/cgroup.events").find("frozen 1") != std::string::npos);
  CHECK(f.start(63, {"true"}, 60).result == EBUSY);  // no exec joins a frozen container (it would hang frozen)
  REQUIRE(f.call<Op::CtlFreeze>(CtlFreezeReq{60, 0}).result == 0);
  CHECK(read_text(dir + "/cgroup.events").find("frozen 0") != std::string::npos);
  // An exec joins the same cgroup.
  REQUIRE(f.start(61, {"cat", "/proc/self/cgroup"}, 60).result == 0);
  auto c = f.poll_until_exit({61});
  const std::string rel = "0::" + cg2.parent.substr(cg2.mnt.size()) + "/ctr-c1\n";
  CHECK_MESSAGE(c.out[61].find(rel) != std::string::npos, c.out[61]);
  // Stats: cpu.stat is in every v2 cgroup; the answer passes the shim's own check.
  for (uint32_t id : {60u, 61u}) {
    auto st = f.call<Op::CtlStats>(CtlProcReq{id, 0});
    REQUIRE(st.result == 0);
    const auto rsp = st.fixed<CtlStatsRsp>();
    CHECK((rsp.present & kCtlStatsCpu) != 0);
    std::string why;
    CHECK_MESSAGE(check_ctl_stats(rsp, why), why);
  }
  CHECK(f.call<Op::CtlStats>(CtlProcReq{99, 0}).result == ENOENT);
  // The container's end removes its cgroup (before its exit is reported).
  CHECK(f.call<Op::CtlSignal>(CtlSignalReq{60, SIGKILL, 0, 0}).result == 0);
  auto end = f.poll_until_exit({60});
  CHECK(end.status[60] == 128 + SIGKILL);
  CHECK(::access(dir.c_str(), F_OK) != 0);
  CHECK(cgroups.path_of(60).empty());
  CHECK(f.call<Op::CtlStats>(CtlProcReq{60, 0}).result == ESRCH);
  CHECK(f.call<Op::CtlRemove>(CtlProcReq{60, 0}).result == 0);
  // A second container of the same name can be made again afterwards.
  REQUIRE(f.start_with(62, r, strings_for({"true"})).result == 0);
  f.poll_until_exit({62});
  CHECK(cgroups.path_of(62).empty());
}

TEST_CASE("cgroup files: limits written as runc writes them; stats parsed from the kernel's text") {
  auto w = cgroup_limit_writes(CtlResources{1 << 20, 25'000, 0, 64, 20, 0});
  REQUIRE(w.size() == 4);
  CHECK(w[0] == std::pair<std::string, std::string>{"memory.max", "1048576"});
  CHECK(w[1] == std::pair<std::string, std::string>{"cpu.max", "25000 100000"});
  CHECK(w[2] == std::pair<std::string, std::string>{"cpu.weight", "20"});
  CHECK(w[3] == std::pair<std::string, std::string>{"pids.max", "64"});
  CHECK(cgroup_limit_writes(CtlResources{}).empty());
  // An update: the same writes, then "max" for each lifted limit.
  using W = std::vector<std::pair<std::string, std::string>>;
  CHECK(cgroup_update_writes(CtlResources{2 << 20, 0, 0, 0, 0, 0}, kCtlUnlimitCpu | kCtlUnlimitPids) ==
        W{{"memory.max", "2097152"}, {"cpu.max", "max"}, {"pids.max", "max"}});
  CHECK(cgroup_update_writes(CtlResources{}, 0).empty());
  CHECK(parse_cgroup_value("max\n") == kCtlUnlimited);
  CHECK(parse_cgroup_value("12345\n") == 12345u);
  CHECK_FALSE(parse_cgroup_value("12a\n"));
  CHECK_FALSE(parse_cgroup_value(""));
  CtlStatsRsp s{};
  parse_cpu_stat("usage_usec 900\nuser_usec 600\nsystem_usec 300\nnr_periods 10\nnr_throttled 2\n"
                 "throttled_usec 777\nnr_bursts 0\n", s);
  CHECK(s.present == (kCtlStatsCpu | kCtlStatsCpuThrottle));
  CHECK(s.cpu_usage_usec == 900);
  CHECK(s.cpu_user_usec == 600);
  CHECK(s.cpu_system_usec == 300);
  CHECK(s.cpu_nr_throttled == 2);
  CHECK(s.cpu_throttled_usec == 777);
  CtlStatsRsp no_cpu{};
  parse_cpu_stat("usage_usec 5\nuser_usec 3\nsystem_usec 2\n", no_cpu);  // no cpu controller: no throttling
  CHECK(no_cpu.present == kCtlStatsCpu);
  parse_memory_stat("anon 4096\nfile 8192\nkernel_stack 16384\ninactive_file 2048\npgfault 17\nbogus 1\n", s);
  CHECK(s.memory_stat[0] == 4096);
  CHECK(s.memory_stat[1] == 8192);
  CHECK(s.memory_stat[2] == 16384);
  CHECK(s.memory_stat[13] == 2048);  // inactive_file: the working set's subtrahend
  CHECK(s.memory_stat[9] == 17);
  parse_memory_events("low 0\nhigh 1\nmax 2\noom 3\noom_kill 4\noom_group_kill 0\n", s);
  CHECK(s.memory_events[4] == 4);
  CHECK(s.memory_events[3] == 3);
  parse_io_stat("254:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n"
                "254:16 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0\n", s);
  CHECK((s.present & kCtlStatsIo) != 0);
  CHECK(s.io_rbytes == 101);
  CHECK(s.io_wbytes == 202);
  CHECK(s.io_rios == 4);
  CHECK(s.io_wios == 6);
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
