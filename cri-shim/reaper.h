// Every exit in the shim goes through here. The shim is the child subreaper of its containers (runc's detached
// processes are reparented to us, as to containerd's own runc shim), so one thread owns waitpid(-1): it records
// each exit, wakes whoever waits for a command it started, and tells the task service that a container's or an
// exec's process ended. SIGCHLD must be blocked in every thread (block_sigchld() first thing in main).
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>

namespace xg::shim {

class Reaper {
 public:
  static Reaper& instance();
  // Blocks SIGCHLD in the calling thread (and so in threads it creates later); call before any thread exists.
  static void block_sigchld();
  // Starts the reaping thread (once).
  void start();
  // The wait status of `pid`, a child this process started, once it exits.
  [[nodiscard]] int wait(pid_t pid);
  // Calls on_exit(status) on a thread of its own once `pid` exits (at once if it already has).
  void watch(pid_t pid, std::function<void(int)> on_exit);

 private:
  void loop();
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<pid_t, int> exited_;  // exits nobody claimed yet (bounded: orphans of runc we never asked about)
  std::map<pid_t, std::function<void(int)>> watchers_;
  bool started_ = false;
};

// The exit code containerd reports for a wait status: the code, or 128 + the signal.
[[nodiscard]] uint32_t exit_code(int wait_status);

}  // namespace xg::shim
