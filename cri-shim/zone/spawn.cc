#include "cri-shim/zone/spawn.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "cri-shim/zone/seccomp_filter.h"
#include "idm/log.h"
#include "idm/unix_socket.h"

namespace xg::zone {
namespace {

using idm::UniqueFd;

constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

struct Report {
  int32_t stage;
  int32_t err;
};

// A fork from a multithreaded process without glibc's fork handlers: the child runs system calls only (see
// spawn.h). `flags` adds namespaces; the child gets SIGCHLD as its exit signal like fork()'s.
pid_t raw_clone(unsigned long flags) noexcept {
  return static_cast<pid_t>(::syscall(SYS_clone, flags | SIGCHLD, nullptr, nullptr, nullptr, 0));
}

// Descriptors 0-2 are the child's stdio targets: one of ours there would be clobbered by (or, for dup2 onto
// itself, keep close-on-exec through) the child's dup2s. They are only free if our own 0-2 were closed.
int above_stdio(int fd) noexcept {
  if (fd < 0 || fd > 2) return fd;
  const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  ::close(fd);
  return moved;
}

bool make_pipe(UniqueFd& r, UniqueFd& w) noexcept {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return false;
  r.reset(above_stdio(p[0]));
  w.reset(above_stdio(p[1]));
  return r.valid() && w.valid();
}

// Waits for our own child `pid` (the caller holds the reaper off, so it is ours to reap).
void reap_child(pid_t pid) noexcept {
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
}

// Reads exactly n bytes unless EOF first; returns bytes read (retries EINTR).
size_t read_full(int fd, void* buf, size_t n) noexcept {
  size_t got = 0;
  while (got < n) {
    const ssize_t r = ::read(fd, static_cast<char*>(buf) + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += static_cast<size_t>(r);
  }
  return got;
}

struct ChildFds {
  int in = -1, out = -1, err = -1;  // the child's ends (a terminal: made by the child, these unused)
  int report = -1;                  // close-on-exec: EOF at exec
  int pid_pipe = -1;                // an exec's first child writes the second child's pid here
  int pty = -1;                     // a terminal: the child sends the master here (SCM_RIGHTS)
};

// A terminal, made in the child once it is in the container's mount namespace, so that the terminal is one of
// the container's own devpts (its /dev/ptmx): `tty` there names it, as under runc. The master goes to the
// parent over `sock`; the slave is returned (owned by `uid`, as runc chowns its console). -errno on failure.
int child_terminal(int sock, uint32_t uid) noexcept {
  // Both above 0-2 (above_stdio): a slave that landed on 0-2 would keep close-on-exec through dup2 onto itself.
  const int m = above_stdio(::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (m < 0) return -errno;
  int unlock = 0;
  const int sl =
      ::ioctl(m, TIOCSPTLCK, &unlock) == 0 ? above_stdio(::ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC)) : -1;
  if (sl < 0) {
    const int e = errno;
    ::close(m);
    return -e;
  }
  (void)::fchown(sl, uid, static_cast<gid_t>(-1));
  const std::byte tag{0x74};  // any one byte: the descriptor is the message
  const idm::Error sent = idm::send_packet(sock, std::span(&tag, 1), m);  // sendmsg only: safe in this child
  const int e = errno;
  ::close(m);
  if (sent != idm::Error::kOk) {
    ::close(sl);
    return -(e ? e : EIO);
  }
  return sl;
}

// The parent's end: the master the child sent (already there: the child sent it before exec), or invalid.
UniqueFd receive_terminal(int sock) {
  std::byte tag{};
  UniqueFd master;
  auto got = idm::recv_packet(sock, std::span(&tag, 1), &master, std::chrono::milliseconds(0));
  return got && *got == 1 && master.valid() ? UniqueFd(above_stdio(master.release())) : UniqueFd();
}

[[noreturn]] void child_fail(const ChildFds& fds, SpawnStage stage, int err) noexcept {
  child_report(fds.report, static_cast<int32_t>(stage), err);
  ::_exit(127);
}

// Before the uid switch: the bounding set (PR_CAPBSET_DROP needs CAP_SETPCAP, which we still have), and
// keep-caps so that the switch does not empty the permitted set.
int drop_bounding(const SpawnPlan& plan) noexcept {
  for (int c = 0; c <= plan.cap_last && c < 64; ++c)
    if (!((plan.caps.bounding >> c) & 1) && ::prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno != EINVAL)
      return errno;
  return ::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) == 0 ? 0 : errno;
}

// After the uid switch: the three sets, then the ambient set (each ambient capability is in permitted and
// inheritable: CtlStartReq::valid).
int set_capabilities(const SpawnPlan& plan) noexcept {
  if (::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) return errno;
  const uint64_t known = plan.cap_last >= 63 ? ~uint64_t{0} : (uint64_t{1} << (plan.cap_last + 1)) - 1;
  const uint64_t eff = plan.caps.effective & known, prm = plan.caps.permitted & known,
                 inh = plan.caps.inheritable & known;
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {
      {static_cast<uint32_t>(eff), static_cast<uint32_t>(prm), static_cast<uint32_t>(inh)},
      {static_cast<uint32_t>(eff >> 32), static_cast<uint32_t>(prm >> 32), static_cast<uint32_t>(inh >> 32)}};
  if (::syscall(SYS_capset, &hdr, data) != 0) return errno;
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) return errno;
  for (int c = 0; c <= plan.cap_last && c < 64; ++c)
    if (((plan.caps.ambient & known) >> c) & 1)
      if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) != 0) return errno;
  return 0;
}

// The common steps after the host's setup, ending in exec. Never returns. Order as runc's init: cgroup, (the
// host's mounts), stdio, signals, cwd, rlimits, oom_score_adj, no_new_privs, bounding set, ids, capabilities.
[[noreturn]] void child_exec(const SpawnPlan& plan, const ChildFds& fds, char* const* argv, char* const* envp,
                             const char* const* candidates) noexcept {
  // First, so that everything the setup allocates is charged to the container.
  if (plan.cgroup_procs >= 0 && ::write(plan.cgroup_procs, "0", 1) != 1) child_fail(fds, SpawnStage::kCgroup, errno);
  if (plan.setup) {
    int32_t step = 0;
    if (int e = plan.setup(plan.setup_ctx, &step); e != 0) {
      child_report(fds.report, static_cast<int32_t>(SpawnStage::kSetup) + step, e);
      ::_exit(127);
    }
  }
  int std_in = fds.in, std_out = fds.out, std_err = fds.err;
  if (plan.terminal) {
    const int sl = child_terminal(fds.pty, plan.uid);
    if (sl < 0) child_fail(fds, SpawnStage::kTerminal, -sl);
    std_in = std_out = std_err = sl;
  }
  // Descriptors 0-2: dup2 clears close-on-exec on the copies; the originals close at exec.
  if (::dup2(std_in, 0) < 0 || ::dup2(std_out, 1) < 0 || ::dup2(std_err, 2) < 0) {
    child_report(fds.report, static_cast<int32_t>(SpawnStage::kStdio), errno);
    ::_exit(127);
  }
  // The zone init blocks SIGCHLD (it reads it from a signalfd) and ignores SIGPIPE; a container must start with
  // neither, as under any other runtime.
  sigset_t none;
  sigemptyset(&none);
  for (int s = 1; s < NSIG; ++s) {
    if (s == SIGKILL || s == SIGSTOP) continue;
    struct sigaction sa {};
    sa.sa_handler = SIG_DFL;
    ::sigaction(s, &sa, nullptr);  // fails harmlessly for the signals glibc reserves
  }
  if (::sigprocmask(SIG_SETMASK, &none, nullptr) != 0) {
    child_report(fds.report, static_cast<int32_t>(SpawnStage::kSignals), errno);
    ::_exit(127);
  }
  if (plan.terminal) {
    // A terminal's process leads a session of its own, the slave (its stdio) its controlling terminal, as under
    // runc: job control and ^C reach its foreground group.
    if (::setsid() < 0 || ::ioctl(0, TIOCSCTTY, 0) != 0) child_fail(fds, SpawnStage::kTerminal, errno);
  } else if (plan.pgrp >= 0 && ::setpgid(0, plan.pgrp) != 0) {
    child_report(fds.report, static_cast<int32_t>(SpawnStage::kGroup), errno);
    ::_exit(127);
  }
  if (plan.make_cwd) (void)mkdir_p(plan.cwd.c_str(), 0755);
  if (::chdir(plan.cwd.c_str()) != 0) {
    child_report(fds.report, static_cast<int32_t>(SpawnStage::kCwd), errno);
    ::_exit(127);
  }
  for (const idm::CtlRlimit& r : plan.rlimits) {
    const uint64_t lim[2] = {r.soft, r.hard};  // struct rlimit64; kCtlUnlimited is RLIM64_INFINITY
    if (::syscall(SYS_prlimit64, 0, r.resource, lim, nullptr) != 0) child_fail(fds, SpawnStage::kRlimits, errno);
  }
  if (plan.set_oom_score_adj) {
    const int fd = ::open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd < 0) child_fail(fds, SpawnStage::kOomScoreAdj, errno);
    const ssize_t n = ::write(fd, plan.oom_score_adj.data(), plan.oom_score_adj.size());
    const int e = errno;
    ::close(fd);
    if (n != static_cast<ssize_t>(plan.oom_score_adj.size())) child_fail(fds, SpawnStage::kOomScoreAdj, n < 0 ? e : EIO);
  }
  if (plan.no_new_privs && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) child_fail(fds, SpawnStage::kNoNewPrivs, errno);
  if (!plan.filter.empty() && !plan.no_new_privs)
    if (int e = install_seccomp_filter(plan.filter, plan.filter_flags); e != 0)
      child_fail(fds, SpawnStage::kSeccomp, e);
  if (plan.set_caps)
    if (int e = drop_bounding(plan); e != 0) child_fail(fds, SpawnStage::kCapabilities, e);
  if (plan.set_ids) {
    // Raw system calls: glibc's wrappers would try to apply the change to the parent's other threads, which do
    // not exist in this child.
    if (::syscall(SYS_setgroups, plan.groups.size(), plan.groups.empty() ? nullptr : plan.groups.data()) != 0 ||
        ::syscall(SYS_setresgid, plan.gid, plan.gid, plan.gid) != 0 ||
        ::syscall(SYS_setresuid, plan.uid, plan.uid, plan.uid) != 0) {
      child_report(fds.report, static_cast<int32_t>(SpawnStage::kIds), errno);
      ::_exit(127);
    }
  }
  if (plan.set_caps)
    if (int e = set_capabilities(plan); e != 0) child_fail(fds, SpawnStage::kCapabilities, e);
  if (!plan.filter.empty() && plan.no_new_privs)
    if (int e = install_seccomp_filter(plan.filter, plan.filter_flags); e != 0)
      child_fail(fds, SpawnStage::kSeccomp, e);
  // The first candidate's error wins unless a later one exists and fails otherwise (execvp's rule: ENOENT is
  // the least informative).
  int err = ENOENT;
  for (const char* const* c = candidates; *c; ++c) {
    ::execve(*c, argv, envp);
    if (errno != ENOENT && errno != ENOTDIR) err = errno;
  }
  child_report(fds.report, static_cast<int32_t>(SpawnStage::kExec), err);
  ::_exit(127);
}

}  // namespace

const char* stage_name(int32_t stage) noexcept {
  switch (static_cast<SpawnStage>(stage)) {
    case SpawnStage::kJoin: return "joining the container's namespaces";
    case SpawnStage::kStdio: return "stdio";
    case SpawnStage::kSignals: return "signal mask";
    case SpawnStage::kGroup: return "process group";
    case SpawnStage::kCwd: return "cwd";
    case SpawnStage::kIds: return "uid/gid";
    case SpawnStage::kExec: return "exec";
    case SpawnStage::kCgroup: return "joining the container's cgroup";
    case SpawnStage::kRlimits: return "rlimits";
    case SpawnStage::kOomScoreAdj: return "oom_score_adj";
    case SpawnStage::kNoNewPrivs: return "no_new_privs";
    case SpawnStage::kSeccomp: return "seccomp";
    case SpawnStage::kTerminal: return "terminal";
    case SpawnStage::kCapabilities: return "capabilities";
    default: return stage >= static_cast<int32_t>(SpawnStage::kSetup) ? "container setup" : "?";
  }
}

void child_report(int fd, int32_t stage, int err) noexcept {
  const Report r{stage, err};
  ssize_t n;
  do n = ::write(fd, &r, sizeof r);
  while (n < 0 && errno == EINTR);
}

int mkdir_p(const char* path, unsigned mode) noexcept {
  char buf[4096];
  const size_t len = ::strnlen(path, sizeof buf);
  if (len == 0 || len >= sizeof buf) return ENAMETOOLONG;
  ::memcpy(buf, path, len + 1);
  for (size_t i = 1; i <= len; ++i) {
    if (buf[i] != '/' && buf[i] != '\0') continue;
    const char saved = buf[i];
    buf[i] = '\0';
    if (::mkdir(buf, mode) != 0 && errno != EEXIST) return errno;
    buf[i] = saved;
  }
  return 0;
}

int cap_last_cap() {
  int v = 40;
  if (FILE* f = std::fopen("/proc/sys/kernel/cap_last_cap", "re")) {
    if (std::fscanf(f, "%d", &v) != 1 || v < 0 || v > 63) v = 40;
    std::fclose(f);
  }
  return v;
}

SpawnPlan make_plan(const StartRequest& req) {
  const idm::CtlStartStrings& s = *req.strings;
  SpawnPlan p;
  p.uid = req.uid;
  p.gid = req.gid;
  p.groups.assign(s.groups.begin(), s.groups.end());
  p.rlimits = s.rlimits;
  p.stdin_pipe = req.stdin_pipe;
  p.terminal = req.terminal;
  p.no_new_privs = req.no_new_privs;
  p.set_oom_score_adj = req.oom_score_adj.has_value();
  if (req.oom_score_adj) p.oom_score_adj = std::to_string(*req.oom_score_adj);
  p.set_caps = req.set_caps;
  p.caps = req.caps;
  p.filter = req.filter;
  p.filter_flags = req.filter_flags;
  if (p.set_caps) p.cap_last = cap_last_cap();
  for (auto a : s.argv) p.argv.emplace_back(a);
  for (auto e : s.env) p.env.emplace_back(e);
  p.cwd = std::string(s.cwd);
  const std::string_view arg0 = s.argv.front();
  if (arg0.find('/') != std::string_view::npos) {
    p.candidates.emplace_back(arg0);
    return p;
  }
  std::string_view path = kDefaultPath;
  for (auto e : s.env)
    if (e.substr(0, 5) == "PATH=") path = e.substr(5);
  while (!path.empty()) {
    const size_t colon = path.find(':');
    std::string_view dir = path.substr(0, colon);
    if (dir.empty()) dir = ".";
    p.candidates.push_back(std::string(dir) + "/" + std::string(arg0));
    if (colon == std::string_view::npos) break;
    path.remove_prefix(colon + 1);
  }
  return p;
}

int spawn(const SpawnPlan& plan, Spawned& out, int32_t* stage_out) {
  if (plan.argv.empty() || plan.candidates.empty()) return EINVAL;
  std::vector<char*> argv, envp;
  std::vector<const char*> cands;
  for (const auto& a : plan.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : plan.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  for (const auto& c : plan.candidates) cands.push_back(c.c_str());
  cands.push_back(nullptr);

  UniqueFd in_r, in_w, out_r, out_w, err_r, err_w, rep_r, rep_w, pid_r, pid_w, pty_parent, pty_child;
  if (plan.terminal) {
    // The child makes the terminal (child_terminal) and sends us its master over this pair.
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return errno;
    pty_parent.reset(above_stdio(sv[0]));
    pty_child.reset(above_stdio(sv[1]));
    if (!pty_parent.valid() || !pty_child.valid()) return errno;
  } else {
    if (plan.stdin_pipe) {
      if (!make_pipe(in_r, in_w)) return errno;
    } else {
      in_r.reset(above_stdio(::open("/dev/null", O_RDONLY | O_CLOEXEC)));
      if (!in_r.valid()) return errno;
    }
    if (!make_pipe(out_r, out_w) || !make_pipe(err_r, err_w)) return errno;
  }
  if (!make_pipe(rep_r, rep_w)) return errno;
  const bool joining = !plan.join_ns.empty();
  if (joining && !make_pipe(pid_r, pid_w)) return errno;
  const ChildFds fds{in_r.get(), out_w.get(), err_w.get(), rep_w.get(), pid_w.get(), pty_child.get()};

  const pid_t first = raw_clone(joining ? 0 : plan.clone_flags);
  if (first < 0) return errno;
  if (first == 0) {
    if (!joining) child_exec(plan, fds, argv.data(), envp.data(), cands.data());
    // An exec: join the container's namespaces here (setns of a mount namespace needs a single-threaded
    // caller), then fork again, since joining a PID namespace applies to children only. The second child is
    // reparented to the zone init (PID 1 of our namespace) when we exit.
    for (int ns : plan.join_ns) {
      if (::setns(ns, 0) != 0) {
        child_report(fds.report, static_cast<int32_t>(SpawnStage::kJoin), errno);
        ::_exit(127);
      }
    }
    const pid_t second = raw_clone(0);
    if (second < 0) {
      child_report(fds.report, static_cast<int32_t>(SpawnStage::kJoin), errno);
      ::_exit(127);
    }
    if (second == 0) child_exec(plan, fds, argv.data(), envp.data(), cands.data());
    const int32_t p = second;
    ssize_t n;
    do n = ::write(fds.pid_pipe, &p, sizeof p);
    while (n < 0 && errno == EINTR);
    ::_exit(0);
  }
  // Our copies of the child's ends close now, so that EOF on the report pipe means "exec'd or died".
  in_r.reset();
  out_w.reset();
  err_w.reset();
  pty_child.reset();
  rep_w.reset();
  pid_w.reset();
  pid_t pid = first;
  if (joining) {
    int32_t second = -1;
    const bool got = read_full(pid_r.get(), &second, sizeof second) == sizeof second;
    reap_child(first);
    pid = got ? second : -1;
  }
  Report rep{};
  const size_t n = read_full(rep_r.get(), &rep, sizeof rep);
  if (n == sizeof rep || pid <= 0) {
    const int err = n == sizeof rep && rep.err != 0 ? rep.err : ECHILD;
    if (stage_out) *stage_out = n == sizeof rep ? rep.stage : 0;
    idm::log_line(std::string("start of '") + plan.argv.front() + "' failed at " +
                  (n == sizeof rep ? stage_name(rep.stage) : "fork") + " (stage " + std::to_string(rep.stage) +
                  "): " + std::strerror(err));
    // The failed child exits at once; reap it here (the caller holds the reaper off).
    if (pid > 0) reap_child(pid);
    return err;
  }
  out.pid = pid;
  if (plan.terminal) {
    // Exec'd, so the child sent the master before (a failure to would have been reported).
    UniqueFd master = receive_terminal(pty_parent.get());
    if (!master.valid()) {
      idm::log_line("start of '" + plan.argv.front() + "': no terminal came back from the child");
      ::kill(pid, SIGKILL);
      reap_child(pid);
      return EIO;
    }
    if (plan.stdin_pipe) out.in.reset(::fcntl(master.get(), F_DUPFD_CLOEXEC, 3));
    out.tty.reset(::fcntl(master.get(), F_DUPFD_CLOEXEC, 3));
    out.out = std::move(master);
    return 0;
  }
  out.in = std::move(in_w);
  out.out = std::move(out_r);
  out.err = std::move(err_r);
  return 0;
}

}  // namespace xg::zone
