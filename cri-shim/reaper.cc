#include "cri-shim/reaper.h"

#include <signal.h>
#include <sys/wait.h>

#include <thread>
#include <vector>

namespace xg::shim {

// Exits of processes nobody asked about (runc's intermediate children) are kept this long, then dropped.
constexpr size_t kMaxUnclaimedExits = 4096;

Reaper& Reaper::instance() {
  static Reaper r;
  return r;
}

void Reaper::block_sigchld() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

void Reaper::start() {
  std::lock_guard lock(mu_);
  if (started_) return;
  started_ = true;
  std::thread([this] { loop(); }).detach();
}

void Reaper::loop() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  for (;;) {
    // A timeout as well as the signal: SIGCHLD is not queued, and a child may exit between waitpid and sigwait.
    timespec ts{0, 200'000'000};
    (void)::sigtimedwait(&set, nullptr, &ts);
    std::vector<std::pair<std::function<void(int)>, int>> fire;
    {
      std::lock_guard lock(mu_);
      int status = 0;
      pid_t pid;
      while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
        if (auto w = watchers_.find(pid); w != watchers_.end()) {
          fire.emplace_back(std::move(w->second), status);
          watchers_.erase(w);
          continue;
        }
        if (exited_.size() >= kMaxUnclaimedExits) exited_.erase(exited_.begin());
        exited_[pid] = status;
      }
    }
    cv_.notify_all();
    for (auto& [fn, status] : fire) std::thread(std::move(fn), status).detach();
  }
}

int Reaper::wait(pid_t pid) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return exited_.count(pid) != 0; });
  const int status = exited_[pid];
  exited_.erase(pid);
  return status;
}

void Reaper::watch(pid_t pid, std::function<void(int)> on_exit) {
  std::unique_lock lock(mu_);
  if (auto e = exited_.find(pid); e != exited_.end()) {
    const int status = e->second;
    exited_.erase(e);
    lock.unlock();
    std::thread(std::move(on_exit), status).detach();
    return;
  }
  watchers_[pid] = std::move(on_exit);
}

uint32_t exit_code(int s) {
  if (WIFEXITED(s)) return static_cast<uint32_t>(WEXITSTATUS(s));
  if (WIFSIGNALED(s)) return 128u + static_cast<uint32_t>(WTERMSIG(s));
  return 255;
}

}  // namespace xg::shim
