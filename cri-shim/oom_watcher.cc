#include "cri-shim/oom_watcher.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace xg::shim {
namespace {

// The memory cgroup of `pid`: ("v1", path) from a "N:memory:/path" line, or ("v2", path) from "0::/path".
bool memory_cgroup(pid_t pid, bool& v2, std::string& path) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cgroup");
  std::string line, unified;
  bool have_unified = false;
  while (std::getline(in, line)) {
    const auto a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    const std::string ctrls = line.substr(a + 1, b - a - 1), p = line.substr(b + 1);
    std::stringstream ss(ctrls);
    for (std::string c; std::getline(ss, c, ',');) {
      if (c == "memory") {
        v2 = false;
        path = p;
        return true;
      }
    }
    if (ctrls.empty()) {
      unified = p;
      have_unified = true;
    }
  }
  if (!have_unified) return false;
  v2 = true;
  path = unified;
  return true;
}

uint64_t oom_kill_count(const std::string& events) {
  std::ifstream in(events);
  std::string key;
  uint64_t v = 0;
  while (in >> key >> v)
    if (key == "oom_kill") return v;
  return 0;
}

}  // namespace

OomWatcher::OomWatcher(std::function<void(const std::string&)> on_oom)
    : on_oom_(std::move(on_oom)), epoll_(::epoll_create1(EPOLL_CLOEXEC)),
      wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_.get();
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wake_.get(), &ev);
  thread_ = std::thread([this] { loop(); });
}

OomWatcher::~OomWatcher() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  const uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof one);
  thread_.join();
}

bool OomWatcher::add(const std::string& container_id, pid_t pid) {
  bool v2 = false;
  std::string path;
  if (pid <= 0 || !memory_cgroup(pid, v2, path) || path.find("..") != std::string::npos) return false;
  Watch w;
  w.container_id = container_id;
  if (!v2) {
    w.dir = "/sys/fs/cgroup/memory" + path;
    idm::UniqueFd control(::open((w.dir + "/memory.oom_control").c_str(), O_RDONLY | O_CLOEXEC));
    w.fd.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!control.valid() || !w.fd.valid()) return false;
    const std::string reg = std::to_string(w.fd.get()) + " " + std::to_string(control.get());
    idm::UniqueFd ec(::open((w.dir + "/cgroup.event_control").c_str(), O_WRONLY | O_CLOEXEC));
    if (!ec.valid() || ::write(ec.get(), reg.data(), reg.size()) != static_cast<ssize_t>(reg.size())) return false;
  } else {
    struct stat st{};
    const std::string base = ::stat("/sys/fs/cgroup/cgroup.controllers", &st) == 0 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/unified";
    w.dir = base + path;
    w.events = w.dir + "/memory.events";
    w.fd.reset(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
    if (!w.fd.valid() || ::inotify_add_watch(w.fd.get(), w.events.c_str(), IN_MODIFY) < 0) return false;
    w.oom_kills = oom_kill_count(w.events);
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = w.fd.get();
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, w.fd.get(), &ev) != 0) return false;
  std::lock_guard lock(mu_);
  const int fd = w.fd.get();
  watches_[fd] = std::move(w);
  return true;
}

void OomWatcher::remove(const std::string& container_id) {
  std::lock_guard lock(mu_);
  for (auto it = watches_.begin(); it != watches_.end();) {
    if (it->second.container_id == container_id) {
      ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, it->first, nullptr);
      it = watches_.erase(it);
    } else {
      ++it;
    }
  }
}

void OomWatcher::loop() {
  for (;;) {
    epoll_event evs[16];
    const int n = ::epoll_wait(epoll_.get(), evs, 16, -1);
    std::vector<std::string> oom;
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
      for (int i = 0; i < n; ++i) {
        auto it = watches_.find(evs[i].data.fd);
        if (it == watches_.end()) continue;
        Watch& w = it->second;
        char buf[4096];
        while (::read(w.fd.get(), buf, sizeof buf) > 0) {
        }
        if (w.events.empty()) {
          // v1 signals the cgroup's removal the same way: only a cgroup that still exists had an OOM.
          struct stat st{};
          if (::stat(w.dir.c_str(), &st) == 0) oom.push_back(w.container_id);
          else {
            ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, it->first, nullptr);
            watches_.erase(it);
          }
        } else {
          const uint64_t k = oom_kill_count(w.events);
          if (k > w.oom_kills) oom.push_back(w.container_id);
          w.oom_kills = k;
        }
      }
    }
    for (const auto& id : oom) on_oom_(id);
  }
}

}  // namespace xg::shim
