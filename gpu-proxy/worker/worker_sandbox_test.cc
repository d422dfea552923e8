// The worker's system-call filter, installed in a forked child (a filter cannot be removed): what it refuses is
// refused with the documented errno, and what a driver needs (threads, files, memory, sockets) still works.
#include "gpu-proxy/worker/worker_sandbox.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

namespace {

const std::string kEnd = "<end of report>";

// Runs `body` in a forked child under the filter; returns the child's report (empty = every expectation held).
// The child ends its report with a marker: a child that vanished (an exec that went through) reports nothing.
template <typename Body>
std::string in_filtered_child(Body body) {
  int p[2];
  REQUIRE(::pipe(p) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(p[0]);
    std::string report;
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || !xg::proxy::install_worker_syscall_filter())
      report = "could not install the filter";
    else
      report = body();
    report += kEnd;
    (void)!::write(p[1], report.data(), report.size());
    ::_exit(0);
  }
  ::close(p[1]);
  std::string out;
  char buf[512];
  for (ssize_t n; (n = ::read(p[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  ::close(p[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) out += " (child did not exit 0)";
  if (out.size() < kEnd.size() || out.compare(out.size() - kEnd.size(), kEnd.size(), kEnd) != 0)
    return "the child did not finish its report: '" + out + "'";
  out.resize(out.size() - kEnd.size());
  return out;
}

// "" if `r` failed with `want`, else a line saying what happened.
std::string refused(const char* what, long r, int want) {
  if (r == -1 && errno == want) return "";
  return std::string(what) + ": got " + std::to_string(r) + " errno " + std::to_string(errno) + "; ";
}

}  // namespace

TEST_CASE("the worker's filter refuses new programs, processes and kernel-level changes with EPERM") {
  const std::string report = in_filtered_child([] {
    std::string r;
    char* const argv[] = {const_cast<char*>("/bin/true"), nullptr};
    r += refused("execve", ::execv("/bin/true", argv), EPERM);
    // glibc's fork() is clone(SIGCHLD | ...) without CLONE_THREAD; the raw fork system call is listed by name.
    for (const bool raw : {false, true}) {
      const long f = raw ? ::syscall(SYS_fork) : ::fork();
      if (f == 0) ::_exit(0);
      if (f > 0) ::waitpid(static_cast<pid_t>(f), nullptr, 0);
      r += refused(raw ? "fork (system call)" : "fork (clone)", f, EPERM);
    }
    r += refused("mount", ::mount("none", "/tmp", "tmpfs", 0, nullptr), EPERM);
    r += refused("unshare", ::unshare(CLONE_NEWUSER), EPERM);
    r += refused("bpf", ::syscall(SYS_bpf, 0, nullptr, 0), EPERM);
    r += refused("io_uring_setup", ::syscall(SYS_io_uring_setup, 1, nullptr), EPERM);
    r += refused("init_module", ::syscall(SYS_init_module, nullptr, 0, ""), EPERM);
    r += refused("clone3", ::syscall(SYS_clone3, nullptr, 0), ENOSYS);
    if (!xg::proxy::worker_filter_allows_leak_tracer())
      r += refused("ptrace", ::syscall(SYS_ptrace, 0 /*PTRACE_TRACEME*/, 0, 0, 0), EPERM);
    return r;
  });
  CHECK_MESSAGE(report.empty(), report);
}

TEST_CASE("under the filter a driver's needs still work: threads, files, memory, sockets") {
  const std::string report = in_filtered_child([] {
    std::string r;
    bool ran = false;
    std::thread t([&] { ran = true; });  // clone3 -> ENOSYS -> glibc falls back to clone(CLONE_THREAD)
    t.join();
    if (!ran) r += "thread did not run; ";
    const int fd = ::open("/proc/self/status", O_RDONLY);
    if (fd < 0) r += "open failed; ";
    std::string status;
    char buf[4096];
    for (ssize_t n; fd >= 0 && (n = ::read(fd, buf, sizeof buf)) > 0;) status.append(buf, static_cast<size_t>(n));
    if (fd >= 0) ::close(fd);
    if (status.find("Seccomp:\t2") == std::string::npos) r += "/proc/self/status does not say Seccomp: 2; ";
    void* m = ::mmap(nullptr, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) r += "mmap failed; ";
    else ::munmap(m, 1 << 20);
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) != 0) r += "socketpair failed; ";
    else ::close(sv[0]), ::close(sv[1]);
    return r;
  });
  CHECK_MESSAGE(report.empty(), report);
}
