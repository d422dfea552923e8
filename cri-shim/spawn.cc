#include "cri-shim/spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "cri-shim/reaper.h"
#include "idm/unique_fd.h"

extern char** environ;

namespace xg::shim {

std::optional<pid_t> spawn(const std::vector<std::string>& argv, SpawnIo io, std::string& error) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  const int fds[3] = {io.in, io.out, io.err};
  for (int i = 0; i < 3; ++i) {
    if (fds[i] >= 0) posix_spawn_file_actions_adddup2(&fa, fds[i], i);
    else posix_spawn_file_actions_addopen(&fa, i, "/dev/null", i == 0 ? O_RDONLY : O_WRONLY, 0);
  }
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, dflt;
  sigemptyset(&none);
  sigemptyset(&dflt);
  sigaddset(&dflt, SIGCHLD);
  sigaddset(&dflt, SIGPIPE);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &dflt);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, args[0], &fa, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    error = "cannot run " + argv[0] + ": " + std::strerror(rc);
    return std::nullopt;
  }
  return pid;
}

RunResult run_captured(const std::vector<std::string>& argv, std::string_view input) {
  RunResult r;
  int out[2], in[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return r;
  idm::UniqueFd out_r(out[0]), out_w(out[1]);
  if (::pipe2(in, O_CLOEXEC) != 0) return r;
  idm::UniqueFd in_r(in[0]), in_w(in[1]);
  std::string error;
  auto pid = spawn(argv, {in_r.get(), out_w.get(), out_w.get()}, error);
  if (!pid) {
    r.output = error;
    return r;
  }
  out_w.reset();
  in_r.reset();
  // Feed stdin from a thread of its own: a child that writes a lot before reading must not deadlock us.
  std::thread feeder([fd = std::move(in_w), input]() mutable {
    size_t off = 0;
    while (off < input.size()) {
      const ssize_t n = ::write(fd.get(), input.data() + off, input.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
  });
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(out_r.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (r.output.size() < 64 * 1024) r.output.append(buf, static_cast<size_t>(n));
  }
  feeder.join();
  r.status = Reaper::instance().wait(*pid);
  return r;
}

}  // namespace xg::shim
