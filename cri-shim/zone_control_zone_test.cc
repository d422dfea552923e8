// The shim's end of the control channel (ZoneControl) against the zone init's own control server
// (cri-shim/zone/, with PlainHost: plain processes on this machine stand in for the zone's containers) over an
// in-memory channel: the two halves of the protocol as they ship, no Xen. Built where cri-shim/zone/ is in the
// tree (CMakeLists.txt).
#include <doctest/doctest.h>
#include <unistd.h>
#include <signal.h>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cri-shim/test_scripted_zone.h"
#include "cri-shim/zone_control.h"
#include "cri-shim/zone/plain_host.h"
#include "cri-shim/zone/supervisor.h"
#include "cri-shim/zone/zone_ctl_server.h"

using namespace xg;
using namespace std::chrono_literals;

struct Collect {
  std::mutex mu;
  std::condition_variable cv;
  std::map<uint32_t, std::string> out, err;
  std::map<uint32_t, int> status;
  std::vector<std::string> order;
  bool failed = false;
  shim::ZoneEvents events() {
    shim::ZoneEvents e;
    e.output = [this](uint32_t id, int s, std::span<const std::byte> b) {
      std::lock_guard l(mu);
      if (status.count(id)) order.push_back("OUTPUT AFTER EXIT");
      (s == 1 ? out : err)[id].append(reinterpret_cast<const char*>(b.data()), b.size());
    };
    e.exit = [this](uint32_t id, int st) {
      std::lock_guard l(mu);
      status[id] = st;
      order.push_back("exit " + std::to_string(id));
      cv.notify_all();
    };
    e.failed = [this](const std::string& why) {
      std::lock_guard l(mu);
      failed = true;
      order.push_back("failed " + why);
      cv.notify_all();
    };
    return e;
  }
  bool wait_exit(uint32_t id) {
    std::unique_lock l(mu);
    return cv.wait_for(l, 20s, [&] { return status.count(id) > 0 || failed; }) && status.count(id);
  }
};

shim::ZoneStart start(uint32_t proc, std::vector<std::string> argv, uint32_t container = 0, bool in = false) {
  shim::ZoneStart s;
  s.proc_id = proc;
  s.container_proc = container;
  s.uid = ::getuid();
  s.gid = ::getgid();
  s.stdin_open = in;
  char id[16];
  std::snprintf(id, sizeof id, "c%u", proc);
  s.id = id;
  s.argv = std::move(argv);
  s.env = {"PATH=/usr/bin:/bin"};
  return s;
}

TEST_CASE("ZoneControl against the zone init's control server: output, exits, stdin, exec, pids, signals, shutdown") {
  zone::Supervisor sup;
  zone::PlainHost host;
  auto p = shim::test::zone_channel_pair();
  zone::ZoneCtlServer server(p.zone->channel, host, sup);
  std::atomic<bool> stop{false};
  zone::ServeResult served;
  std::thread t([&] { served = server.serve(stop); });
  Collect c;
  auto zc = shim::ZoneControl::over(std::move(p.shim), c.events());
  REQUIRE(std::holds_alternative<std::unique_ptr<shim::ZoneControl>>(zc));
  auto& ctl = *std::get<std::unique_ptr<shim::ZoneControl>>(zc);

  uint32_t pid = 0;
  REQUIRE(ctl.start(start(1, {"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}), pid) == 0);
  CHECK(pid > 0);
  REQUIRE(c.wait_exit(1));
  { std::lock_guard l(c.mu); CHECK(c.out[1] == "out\n"); CHECK(c.err[1] == "err\n"); CHECK(c.status[1] == 3); }

  // stdin through cat, larger than one chunk, then close
  REQUIRE(ctl.start(start(2, {"/bin/cat"}, 0, true), pid) == 0);
  std::string big(40000, 'x');
  big += "END\n";
  CHECK(ctl.write_stdin(2, std::as_bytes(std::span(big.data(), big.size())), true) == 0);
  REQUIRE(c.wait_exit(2));
  { std::lock_guard l(c.mu); CHECK(c.out[2] == big); CHECK(c.status[2] == 0); }

  // a long-lived container, an exec into it, pids, signal all
  REQUIRE(ctl.start(start(3, {"/bin/sleep", "600"}), pid) == 0);
  uint32_t epid = 0;
  REQUIRE(ctl.start(start(4, {"/bin/sleep", "600"}, 3), epid) == 0);
  std::vector<uint32_t> pids;
  CHECK(ctl.pids(3, pids) == 0);
  CHECK(pids.size() >= 2);
  CHECK(ctl.signal(4, SIGTERM, false) == 0);
  REQUIRE(c.wait_exit(4));
  CHECK(ctl.signal(3, SIGKILL, true) == 0);
  REQUIRE(c.wait_exit(3));
  { std::lock_guard l(c.mu); CHECK(c.status[4] == 128 + SIGTERM); CHECK(c.status[3] == 128 + SIGKILL); }
  CHECK(ctl.signal(3, SIGKILL, false) != 0);  // ESRCH: gone
  CHECK(ctl.remove(4) == 0);
  CHECK(ctl.remove(3) == 0);
  CHECK(ctl.remove(99) != 0);
  // exec of a missing binary: an errno, the channel stays healthy
  CHECK(ctl.start(start(5, {"/nonexistent/prog"}), pid) != 0);
  CHECK(ctl.healthy());
  CHECK(ctl.shutdown(500ms) == 0);
  CHECK(!ctl.healthy());
  t.join();
  CHECK(served.end == zone::ServeEnd::kShutdown);
  std::lock_guard l(c.mu);
  CHECK(c.order == std::vector<std::string>{"exit 1", "exit 2", "exit 4", "exit 3"});  // no output after an exit
  CHECK(!c.failed);
}
