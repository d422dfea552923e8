// Tells the task service when the kernel's OOM killer acts in a container's memory cgroup, so the shim can
// publish /tasks/oom (containerd then reports the container as OOMKilled). cgroup v1: an eventfd registered on
// memory.oom_control (what containerd's own shims do); cgroup v2: inotify on memory.events, whose oom_kill count
// rises. One thread watches every container of the pod.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "idm/unique_fd.h"

namespace xg::shim {

class OomWatcher {
 public:
  explicit OomWatcher(std::function<void(const std::string& container_id)> on_oom);
  ~OomWatcher();
  OomWatcher(const OomWatcher&) = delete;
  OomWatcher& operator=(const OomWatcher&) = delete;
  // Watches the memory cgroup `pid` (the container's init) is in. False if there is none to watch.
  bool add(const std::string& container_id, pid_t pid);
  void remove(const std::string& container_id);

 private:
  struct Watch {
    std::string container_id;
    idm::UniqueFd fd;      // v1: the eventfd; v2: the inotify descriptor
    std::string events;    // v2: memory.events, whose oom_kill we compare
    uint64_t oom_kills = 0;
    std::string dir;       // the cgroup's directory (v1: gone means the event was the cgroup's removal)
  };
  void loop();
  std::function<void(const std::string&)> on_oom_;
  idm::UniqueFd epoll_, wake_;
  std::mutex mu_;
  std::map<int, Watch> watches_;  // by fd
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace xg::shim
