// A manual check of ContainerHost on a development machine (as root; not a ctest: it needs a block device with
// an EROFS image, loop devices, and root). Starts one container from DISK, optionally an exec into it, and
// prints their output, pids and exit statuses:
//   xg-zone-container-try DISK HOSTNAME ARGV... [--exec ARGV...]
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "cri-shim/zone/container.h"
#include "cri-shim/zone/supervisor.h"

using namespace xg;

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s DISK HOSTNAME ARGV... [--exec ARGV...]\n", argv[0]);
    return 2;
  }
  zone::Supervisor sup;  // first: blocks SIGCHLD before any thread exists
  zone::ContainerOptions opt;
  opt.disk_override = argv[1];
  opt.disk_wait = std::chrono::milliseconds(1000);
  zone::ContainerHost host(opt);
  std::vector<std::string> cargs, eargs;
  bool exec = false;
  for (int i = 3; i < argc; ++i) {
    if (std::strcmp(argv[i], "--exec") == 0) {
      exec = true;
      continue;
    }
    (exec ? eargs : cargs).push_back(argv[i]);
  }
  auto start = [&](uint32_t proc_id, std::vector<std::string>& args, pid_t container) {
    idm::CtlStartStrings s;
    s.id = "try";
    s.cwd = "/";
    s.hostname = container ? "" : argv[2];
    for (auto& a : args) s.argv.push_back(a);
    s.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"};
    zone::StartRequest req;
    req.proc_id = proc_id;
    req.container_pid = container;
    req.strings = &s;
    zone::Spawned sp;
    auto hold = sup.hold_reaper();
    const int e = host.start(req, sp);
    if (e != 0) {
      std::printf("start %u: %s\n", proc_id, std::strerror(e));
      return pid_t{-1};
    }
    const pid_t pid = sp.pid;
    if (sup.add(proc_id, container ? 1 : 0, std::move(sp)) != 0) return pid_t{-1};
    std::printf("start %u: pid %d\n", proc_id, pid);
    return pid;
  };
  const pid_t c = start(1, cargs, 0);
  if (c < 0) return 1;
  if (exec) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    if (start(2, eargs, c) > 0) {
      std::vector<uint32_t> pids;
      (void)host.pids(c, pids);
      std::printf("pids of the container:");
      for (auto p : pids) std::printf(" %u", p);
      std::printf("\n");
    }
  }
  int exits = 0;
  const int want = exec ? 2 : 1;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (exits < want && std::chrono::steady_clock::now() < until) {
    auto b = sup.poll(idm::kMaxCtlPollTail, std::chrono::milliseconds(200));
    (void)idm::parse_ctl_events(b.tail, b.events, [&](const idm::CtlEvent& ev, std::span<const std::byte> bytes) {
      if (ev.type == uint16_t(idm::CtlEventType::kExit)) {
        std::printf("[%u] exit %d\n", ev.proc_id, ev.value);
        ++exits;
        return;
      }
      std::printf("[%u %s] %.*s", ev.proc_id, ev.stream == 1 ? "out" : "err", static_cast<int>(bytes.size()),
                  reinterpret_cast<const char*>(bytes.data()));
    });
    if (exits == 1 && exec) (void)host.signal_all(c, 9);
  }
  return exits == want ? 0 : 1;
}
