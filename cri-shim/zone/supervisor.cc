#include "cri-shim/zone/supervisor.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>

#include "idm/log.h"
#include "idm/messages_zonectl.h"

namespace xg::zone {
namespace {

using Clock = std::chrono::steady_clock;

// epoll keys: the proc_id and which of its descriptors.
constexpr int kOut = 1, kErr = 2, kIn = 3;
constexpr uint64_t kSigKey = 1, kWakeKey = 2;
uint64_t key(uint32_t proc_id, int which) { return (uint64_t{proc_id} << 8) | static_cast<uint64_t>(which); }

constexpr size_t kReadChunk = 64 * 1024;  // per wake-up and stream, so one chatty process cannot starve others
constexpr auto kTick = std::chrono::milliseconds(50);  // linger checks and deferred reaping

void set_nonblock(int fd) {
  const int fl = ::fcntl(fd, F_GETFL);
  if (fl >= 0) (void)::fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int shell_status(int st) {
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
  return 255;
}

}  // namespace

Supervisor::Supervisor(SupervisorLimits limits) : limits_(limits) {
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  ::pthread_sigmask(SIG_BLOCK, &chld, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
  sigfd_.reset(::signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK));
  wake_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!epoll_.valid() || !sigfd_.valid() || !wake_.valid()) {
    idm::log_errno("supervisor: epoll/signalfd/eventfd");
    return;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kSigKey;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, sigfd_.get(), &ev);
  ev.data.u64 = kWakeKey;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wake_.get(), &ev);
  io_ = std::thread([this] { run(); });
}

Supervisor::~Supervisor() {
  {
    std::lock_guard l(mu_);
    stopping_ = true;
  }
  const uint64_t one = 1;
  if (wake_.valid()) (void)!::write(wake_.get(), &one, sizeof one);
  if (io_.joinable()) io_.join();
}

std::optional<Supervisor::Entry> Supervisor::find(uint32_t proc_id) {
  std::lock_guard l(mu_);
  auto it = procs_.find(proc_id);
  if (it == procs_.end()) return std::nullopt;
  return Entry{it->second.pid, it->second.container_proc, it->second.exited};
}

void Supervisor::set_on_container_exit(std::function<void(uint32_t)> fn) {
  std::lock_guard l(mu_);
  on_container_exit_ = std::move(fn);
}

bool Supervisor::full() {
  std::lock_guard l(mu_);
  return procs_.size() >= limits_.max_procs;
}

size_t Supervisor::running() {
  std::lock_guard l(mu_);
  return static_cast<size_t>(std::count_if(procs_.begin(), procs_.end(), [](auto& kv) { return !kv.second.exited; }));
}

int Supervisor::add(uint32_t proc_id, uint32_t container_proc, Spawned&& s) {
  std::lock_guard l(mu_);
  if (procs_.count(proc_id)) return EEXIST;
  if (procs_.size() >= limits_.max_procs) return ENOSPC;
  Proc& p = procs_[proc_id];
  p.pid = s.pid;
  p.container_proc = container_proc;
  p.out.fd = std::move(s.out);
  p.err.fd = std::move(s.err);
  p.in = std::move(s.in);
  p.tty = std::move(s.tty);
  for (int which : {kOut, kErr}) {
    Stream& st = which == kOut ? p.out : p.err;
    set_nonblock(st.fd.get());
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = key(proc_id, which);
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, st.fd.get(), &ev) == 0) st.armed = true;
  }
  if (p.in.valid()) set_nonblock(p.in.get());
  return 0;
}

int Supervisor::signal(uint32_t proc_id, int sig) {
  std::lock_guard l(mu_);
  auto it = procs_.find(proc_id);
  if (it == procs_.end()) return ENOENT;
  if (it->second.exited) return ESRCH;
  return ::kill(it->second.pid, sig) == 0 ? 0 : errno;
}

int Supervisor::resize(uint32_t proc_id, uint16_t cols, uint16_t rows) {
  std::lock_guard l(mu_);
  auto it = procs_.find(proc_id);
  if (it == procs_.end()) return ENOENT;
  if (!it->second.tty.valid()) return ENOTTY;
  if (it->second.exited) return ESRCH;
  const winsize ws{rows, cols, 0, 0};
  return ::ioctl(it->second.tty.get(), TIOCSWINSZ, &ws) == 0 ? 0 : errno;
}

int Supervisor::write_stdin(uint32_t proc_id, std::span<const std::byte> bytes, bool close) {
  std::lock_guard l(mu_);
  auto it = procs_.find(proc_id);
  if (it == procs_.end()) return ENOENT;
  Proc& p = it->second;
  if (!p.in.valid() || p.in_close) return EPIPE;
  if (bytes.size() > limits_.stdin_bytes - std::min(limits_.stdin_bytes, p.in_queue.size())) return EAGAIN;
  p.in_queue.insert(p.in_queue.end(), bytes.begin(), bytes.end());
  p.in_close = close;
  flush_stdin_locked(proc_id, p);
  return 0;
}

// Writes what the pipe takes now; the rest waits for EPOLLOUT on the I/O thread.
void Supervisor::flush_stdin_locked(uint32_t proc_id, Proc& p) {
  if (!p.in.valid()) return;
  while (!p.in_queue.empty()) {
    const ssize_t n = ::write(p.in.get(), p.in_queue.data(), p.in_queue.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    if (n < 0) {  // EPIPE: the process closed its stdin or exited; what it did not read is gone with it
      idm::log_line("proc " + std::to_string(proc_id) + ": stdin closed by the process; " +
                    std::to_string(p.in_queue.size()) + " bytes not delivered");
      p.in_queue.clear();
      p.in_close = true;
      break;
    }
    p.in_queue.erase(p.in_queue.begin(), p.in_queue.begin() + n);
  }
  const bool want_out = !p.in_queue.empty();
  if (want_out != p.in_armed) {
    epoll_event ev{};
    ev.events = EPOLLOUT;
    ev.data.u64 = key(proc_id, kIn);
    ::epoll_ctl(epoll_.get(), want_out ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, p.in.get(), &ev);
    p.in_armed = want_out;
  }
  if (p.in_queue.empty() && p.in_close) p.in.reset();
}

int Supervisor::remove(uint32_t proc_id) {
  std::lock_guard l(mu_);
  auto it = procs_.find(proc_id);
  if (it == procs_.end()) return ENOENT;
  if (!it->second.exited) return EBUSY;
  Proc& p = it->second;
  close_stream_locked(p.out);
  close_stream_locked(p.err);
  if (p.in_armed) ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, p.in.get(), nullptr);
  procs_.erase(it);
  return 0;
}

void Supervisor::close_stream_locked(Stream& s) {
  if (!s.fd.valid()) return;
  if (s.armed) ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, s.fd.get(), nullptr);
  s.armed = false;
  s.fd.reset();
}

void Supervisor::set_armed_locked(uint32_t proc_id, int which, Stream& s, bool on) {
  if (s.closed() || s.armed == on) return;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = key(proc_id, which);
  ::epoll_ctl(epoll_.get(), on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, s.fd.get(), &ev);
  s.armed = on;
}

bool Supervisor::exit_ready(const Proc& p) const noexcept {
  return p.exited && !p.exit_sent && p.out.closed() && p.err.closed() && p.out.available() == 0 &&
         p.err.available() == 0;
}

bool Supervisor::anything_ready_locked() const noexcept {
  for (const auto& [id, p] : procs_)
    if (p.out.available() || p.err.available() || exit_ready(p)) return true;
  return false;
}

void Supervisor::notify_ready_locked() {
  ready_cv_.notify_all();
  if (on_ready_) on_ready_();
}

bool Supervisor::ready() {
  std::lock_guard l(mu_);
  return anything_ready_locked();
}

void Supervisor::set_on_ready(std::function<void()> fn) {
  std::lock_guard l(mu_);
  on_ready_ = std::move(fn);
}

bool Supervisor::read_stream_locked(uint32_t proc_id, int which, Stream& s, size_t budget) {
  bool changed = false;
  while (!s.closed() && budget > 0) {
    const size_t room = limits_.stream_bytes - std::min(limits_.stream_bytes, s.available());
    if (room == 0) {
      set_armed_locked(proc_id, which, s, false);  // back-pressure: the writer blocks until a Poll takes bytes
      break;
    }
    if (s.head > 0 && s.head >= s.buf.size() / 2) {
      s.buf.erase(s.buf.begin(), s.buf.begin() + static_cast<ptrdiff_t>(s.head));
      s.head = 0;
    }
    const size_t want = std::min({room, budget, kReadChunk});
    const size_t old = s.buf.size();
    s.buf.resize(old + want);
    const ssize_t n = ::read(s.fd.get(), s.buf.data() + old, want);
    s.buf.resize(old + (n > 0 ? static_cast<size_t>(n) : 0));
    if (n > 0) {
      changed = true;
      budget -= static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    close_stream_locked(s);  // EOF (or an error, which ends the stream the same way)
    changed = true;
  }
  return changed;
}

void Supervisor::on_stream(uint32_t proc_id, int which) {
  std::lock_guard l(mu_);
  auto it = procs_.find(proc_id);
  if (it == procs_.end()) return;
  Stream& s = which == kOut ? it->second.out : it->second.err;
  if (read_stream_locked(proc_id, which, s, kReadChunk)) notify_ready_locked();
}

void Supervisor::on_stdin(uint32_t proc_id) {
  std::lock_guard l(mu_);
  auto it = procs_.find(proc_id);
  if (it != procs_.end()) flush_stdin_locked(proc_id, it->second);
}

// Every child, tracked or not: as PID 1 we inherit the zone's orphans, and an unreaped one is a zombie for ever.
void Supervisor::reap_locked() {
  for (;;) {
    int st = 0;
    const pid_t pid = ::waitpid(-1, &st, WNOHANG);
    if (pid <= 0) return;
    for (auto& [id, p] : procs_) {
      if (p.pid != pid || p.exited) continue;
      p.exited = true;
      p.status = shell_status(st);
      p.exited_at = Clock::now();
      if (p.container_proc == 0 && on_container_exit_) on_container_exit_(id);
      notify_ready_locked();
      break;
    }
  }
}

// Pipes still open `linger` after their process exited belong to something it left behind: read what is
// there once more, then stop (see supervisor.h).
void Supervisor::linger_locked() {
  const auto now = Clock::now();
  for (auto& [id, p] : procs_) {
    if (!p.exited || (p.out.closed() && p.err.closed()) || now - p.exited_at < limits_.linger) continue;
    bool changed = false;
    for (int which : {kOut, kErr}) {
      Stream& s = which == kOut ? p.out : p.err;
      if (s.closed() || !s.armed) continue;  // a full buffer: wait for the Poll to make room, then drain
      changed |= read_stream_locked(id, which, s, limits_.stream_bytes);
      if (s.armed) {
        close_stream_locked(s);
        changed = true;
      }
    }
    if (changed) notify_ready_locked();
  }
}

void Supervisor::run() {
  epoll_event evs[64];
  bool deferred = false;
  for (;;) {
    const int n = ::epoll_wait(epoll_.get(), evs, 64, static_cast<int>(kTick.count()));
    if (n < 0 && errno != EINTR) {
      idm::log_errno("supervisor: epoll_wait");
      ::usleep(10'000);
    }
    bool chld = deferred;
    for (int i = 0; i < n; ++i) {
      const uint64_t k = evs[i].data.u64;
      if (k == kSigKey) {
        signalfd_siginfo si;
        while (::read(sigfd_.get(), &si, sizeof si) == sizeof si) {
        }
        chld = true;
      } else if (k == kWakeKey) {
        uint64_t v;
        (void)!::read(wake_.get(), &v, sizeof v);
      } else if ((k & 0xff) == static_cast<uint64_t>(kIn)) {
        on_stdin(static_cast<uint32_t>(k >> 8));
      } else {
        on_stream(static_cast<uint32_t>(k >> 8), static_cast<int>(k & 0xff));
      }
    }
    {
      std::unique_lock start(start_mu_, std::try_to_lock);
      std::lock_guard l(mu_);
      if (stopping_) return;
      // A start in progress holds start_mu_: reap on a later tick (see hold_reaper()).
      deferred = chld && !start.owns_lock();
      if (chld && start.owns_lock()) reap_locked();
      linger_locked();
    }
  }
}

PollBatch Supervisor::poll(size_t max_bytes, std::chrono::milliseconds wait) {
  PollBatch b;
  std::unique_lock l(mu_);
  ready_cv_.wait_for(l, wait, [&] { return anything_ready_locked(); });
  if (procs_.empty()) return b;
  constexpr size_t kEvent = sizeof(idm::CtlEvent);
  // Round robin: start after the process served first last time.
  auto start = procs_.upper_bound(rr_);
  if (start == procs_.end()) start = procs_.begin();
  auto it = start;
  bool first = true;
  do {
    const uint32_t id = it->first;
    Proc& p = it->second;
    for (int which : {kOut, kErr}) {
      Stream& s = which == kOut ? p.out : p.err;
      while (s.available() > 0) {
        const size_t room = max_bytes - std::min(max_bytes, b.tail.size());
        if (room < kEvent + 4) break;
        const size_t len = std::min(s.available(), (room - kEvent) & ~size_t{3});
        const idm::CtlEvent ev{id, static_cast<uint16_t>(idm::CtlEventType::kOutput), static_cast<uint16_t>(which), 0,
                               static_cast<uint32_t>(len)};
        if (!idm::append_ctl_event(b.tail, ev, std::span(s.buf).subspan(s.head, len), max_bytes)) break;
        ++b.events;
        s.head += len;
        if (s.available() == 0) {
          s.buf.clear();
          s.head = 0;
        }
        if (first) rr_ = id, first = false;
        set_armed_locked(id, which, s, true);  // room again: resume reading a pipe that back-pressure stopped
      }
    }
    if (exit_ready(p)) {
      const idm::CtlEvent ev{id, static_cast<uint16_t>(idm::CtlEventType::kExit), 0, p.status, 0};
      if (idm::append_ctl_event(b.tail, ev, {}, max_bytes)) {
        ++b.events;
        p.exit_sent = true;
        if (first) rr_ = id, first = false;
      }
    }
    if (++it == procs_.end()) it = procs_.begin();
  } while (it != start);
  b.pending = anything_ready_locked();
  return b;
}

}  // namespace xg::zone
