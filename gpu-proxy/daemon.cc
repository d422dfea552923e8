// The daemon's event loop and its programs: accepting a zone's connections, one worker process per program,
// registration into a zone, reaping, the time slicer's ticks. Admin verbs: daemon_admin.cc; views: daemon_view.cc.
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "gpu-proxy/daemon_internal.h"
#include "gpu-proxy/host_nvml.h"
#include "gpu-proxy/metrics.h"
#include "gpu-proxy/units.h"
#include "gpu-proxy/worker/worker_main.h"
#include "idm/log.h"
#include "idm/unix_socket.h"

namespace xg::proxy {

using idm::UniqueFd;

template <typename Page, size_t kBytes>
bool SharedPage<Page, kBytes>::create(const char* name) {
  fd.reset(::memfd_create(name, MFD_CLOEXEC));
  if (!fd.valid() || ::ftruncate(fd.get(), kBytes) != 0) return false;
  void* p = ::mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (p == MAP_FAILED) return false;
  page = static_cast<Page*>(p);  // zero-filled: every atomic starts at 0
  return true;
}

template <typename Page, size_t kBytes>
SharedPage<Page, kBytes>::~SharedPage() {
  if (page) ::munmap(page, kBytes);
}

template struct SharedPage<ZonePage, kZonePageBytes>;
template struct SharedPage<ControlPage, kControlPageBytes>;

Daemon::Daemon(DaemonOptions o) : opts_(std::move(o)), driver_(resolve_driver(opts_.driver, opts_.self_exe)) {
  opts_.max_programs_per_zone = std::min<uint32_t>(opts_.max_programs_per_zone, kMaxProgramsPerZone);
}

Daemon::~Daemon() = default;

size_t Daemon::unregistered_on(int listen_fd) const {
  return static_cast<size_t>(std::count_if(programs_.begin(), programs_.end(), [&](const auto& kv) {
    return !kv.second->registered && kv.second->listen_fd == listen_fd;
  }));
}

// A program about to get its worker: its control page (no zone slot yet) and its start time.
std::unique_ptr<Program> Daemon::new_program() {
  auto p = std::make_unique<Program>();
  if (!p->control_page.create("xen-gpu-control")) return nullptr;
  p->control_page.page->magic = kControlMagic;
  p->control_page.page->version = 3;
  p->control_page.page->zone_slot.store(-1);
  p->started = std::chrono::steady_clock::now();
  return p;
}

// A program connected. Its worker parses what it says (the daemon never does); until it registers, it counts
// against the socket's unregistered bound, so a flood of idle connections costs a bounded number of processes
// for at most register_timeout each, and only on the socket it came through.
void Daemon::accept_program(int listen_fd, const std::string& bound_name) {
  UniqueFd conn(::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
  if (!conn.valid()) return;
  const char* why = nullptr;
  if (programs_.size() >= opts_.max_workers) why = "the daemon's worker limit";
  else if (unregistered_on(listen_fd) >= opts_.max_unregistered) why = "this socket's limit of unregistered connections";
  if (why != nullptr) {
    // Closed at once: the program sees its connection end and may retry. The first, then every 100th, logged.
    if (refused_connections_++ % 100 == 0)
      idm::log_line(std::string("connection refused: ") + why + " reached (" + std::to_string(refused_connections_) +
                    " refused so far)");
    return;
  }
  auto p = new_program();
  if (!p) return;
  p->listen_fd = listen_fd;
  p->bound_name = bound_name;
  const pid_t pid = spawn_worker(*p, conn.get(), nullptr);
  if (pid < 0) return;
  programs_[pid] = std::move(p);
}

// Starts a program's worker: fork, then exec of ourselves as --worker with exactly three descriptors: the zone's
// socket (shm zones: `zone_fd`; a Xen zone has none, -1: the worker makes the channel over Xen itself), the
// control socket and the control page. A Xen zone's program is admitted before its worker starts (the operator
// attached the domain): its Accept, with the zone page, waits in the control socket.
pid_t Daemon::spawn_worker(Program& p, int zone_fd, const Zone* xen_zone) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return -1;
  UniqueFd ours(sv[0]), theirs(sv[1]);
  p.control = std::move(ours);
  if (xen_zone != nullptr) {
    ControlPage& cp = *p.control_page.page;
    std::memcpy(cp.name, xen_zone->name.data(), std::min(xen_zone->name.size(), sizeof cp.name - 1));
    if (!send_accept(p, const_cast<Zone&>(*xen_zone))) return -1;
  }
  const std::string domid_s = xen_zone && xen_zone->xen_domid ? std::to_string(*xen_zone->xen_domid) : "";
  const std::string devid_s = std::to_string(std::max(p.xen_devid, 0));
  const pid_t pid = ::fork();
  if (pid < 0) {
    idm::log_errno("fork worker");
    return -1;
  }
  if (pid == 0) {
    if (zone_fd >= 0) ::dup2(zone_fd, kWorkerZoneFd);
    else ::close(kWorkerZoneFd);
    ::dup2(theirs.get(), kWorkerControlFd);
    ::dup2(p.control_page.fd.get(), kWorkerPageFd);
    for (int fd = 6; fd < 1024; ++fd) ::close(fd);
    // Whatever the operator's environment says: only a Xen zone's worker sees a domain id.
    if (!domid_s.empty()) {
      ::setenv("XG_WORKER_XEN_DOMID", domid_s.c_str(), 1);
      ::setenv("XG_WORKER_XEN_DEVID", devid_s.c_str(), 1);
    } else {
      ::unsetenv("XG_WORKER_XEN_DOMID");
      ::unsetenv("XG_WORKER_XEN_DEVID");
    }
    const char* argv[] = {opts_.self_exe.c_str(), "--worker", "--driver", driver_.c_str(), nullptr};
    ::execv(opts_.self_exe.c_str(), const_cast<char* const*>(argv));
    ::_exit(127);
  }
  p.pid = pid;
  return pid;
}

void Daemon::ensure_xen_listener(Zone& z) {
  if (!z.xen_domid || z.draining || stopping_) return;
  std::vector<int> devids;
  for (const auto& [pid, p] : programs_) {
    if (p->zone != &z) continue;
    const auto state = p->control_page.page->state.load(std::memory_order_relaxed);
    if (state != static_cast<uint32_t>(WorkerState::kServing) && !p->kill_at) return;  // one is waiting already
    devids.push_back(p->xen_devid);
  }
  if (devids.size() >= opts_.max_programs_per_zone) return;
  int devid = 0;
  while (std::find(devids.begin(), devids.end(), devid) != devids.end()) ++devid;
  auto next = new_program();
  if (!next) return;
  next->xen_devid = devid;
  const pid_t pid = spawn_worker(*next, -1, &z);
  if (pid < 0) {
    idm::log_line("zone '" + z.name + "': cannot start a worker for the domain's next program");
    return;
  }
  programs_[pid] = std::move(next);
}

// Admits `p` into `z`: a slot in the zone page, the object limits, then Accept carrying the zone page.
bool Daemon::send_accept(Program& p, Zone& z) {
  const int slot = claim_slot(z.page());
  if (slot < 0) return false;
  ControlPage& cp = *p.control_page.page;
  const ZonePolicy* pol = policy_for(z.name);
  store_limits(cp, pol ? pol->limits : opts_.default_limits);
  cp.zone_slot.store(slot);
  if (idm::send_packet(p.control.get(), encode_control(ControlMessage::kAccept), z.shared.fd.get()) != idm::Error::kOk) {
    release_slot(z.page(), slot);
    return false;
  }
  p.zone = &z;
  p.slot = slot;
  p.registered = true;
  ++z.programs_started;
  return true;
}

// A worker read its program's Hello: decide whether the program may join (or create) the zone it names. Returns
// "" once it is accepted, or why not.
std::string Daemon::admit_program(Program& p, const std::string& name, uint32_t zone_pid) {
  if (p.registered) return "it registered already";
  ZonePolicy* pol = policy_for(name);
  if (!pol && !opts_.allow_unknown_zones) return "no zone '" + name + "' is declared (the daemon refuses unknown zones)";
  // A create-bound zone takes programs only through its own socket, and that socket takes programs for it alone:
  // a program that reaches one pod's socket can neither join another zone nor be joined from elsewhere.
  if (!p.bound_name.empty() && p.bound_name != name) return "this socket serves zone '" + p.bound_name + "' only";
  if (p.bound_name.empty() && pol && !pol->bound_socket.empty())
    return "zone '" + name + "' takes programs only through its own socket";
  Zone* z = zone_named(name);
  if (z != nullptr) {
    if (z->xen_domid) return "zone '" + name + "' is Xen domain " + std::to_string(*z->xen_domid) + "'s";
    if (z->draining) return "zone '" + name + "' is draining (no new programs)";
    const auto n = std::count_if(programs_.begin(), programs_.end(), [&](const auto& kv) { return kv.second->zone == z; });
    if (static_cast<uint32_t>(n) >= opts_.max_programs_per_zone)
      return "zone '" + name + "' has " + std::to_string(n) + " programs, the most a zone may have";
  } else {
    const uint64_t quota = pol ? pol->quota_bytes : opts_.default_quota;
    if (auto refusal = overcommit_refusal(name, quota)) return *refusal;
    z = new_zone(name, quota, pol ? pol->weight : opts_.default_weight);
    if (z == nullptr) return "no memory for its zone page";
  }
  if (!send_accept(p, *z)) {
    forget_zone_if_unused(z);
    return "its zone has no free program slot";
  }
  z->page().slots[p.slot].zone_pid.store(zone_pid);
  idm::log_line("zone " + std::to_string(z->id) + " '" + name + "': program " + std::to_string(z->programs_started) +
                " registered (pid " + std::to_string(zone_pid) + " in the zone, worker " + std::to_string(p.pid) +
                ", zone quota " + format_size(z->page().quota_bytes.load()) + ", weight " +
                std::to_string(z->page().weight.load()) + ")");
  return "";
}

void Daemon::on_worker_message(Program& p) {
  std::array<std::byte, 8> b{};
  auto n = idm::recv_packet(p.control.get(), b, nullptr, std::chrono::milliseconds(0));
  if (!n) {
    p.control.reset();  // the worker is exiting; SIGCHLD does the rest
    return;
  }
  // The worker's packet and page are read through control.h's decoders only: the worker parsed zone bytes.
  const auto msg = decode_control(std::span(b).first(*n), Sender::kWorker);
  if (msg != ControlMessage::kRegistered) return;
  auto reg = read_registration(*p.control_page.page);
  std::string why = reg ? admit_program(p, reg->name, reg->pid) : "the worker reported no valid zone name";
  if (why.empty()) return;
  idm::log_line("program refused" + (reg ? " for zone '" + reg->name + "'" : std::string()) + ": " + why);
  (void)idm::send_packet(p.control.get(), encode_control(ControlMessage::kRefuse));
}

void Daemon::program_ended(Program& p, int status) {
  Zone* z = p.zone;
  const ControlPage& cp = *p.control_page.page;
  std::string how = WIFEXITED(status) ? "exited " + std::to_string(WEXITSTATUS(status))
                                      : "killed by signal " + std::to_string(WTERMSIG(status));
  if (z == nullptr) {
    if (!p.registered && p.kill_at) how += " (it did not register in time)";
    idm::log_line("unregistered connection ended: worker " + std::to_string(p.pid) + " " + how);
    return;
  }
  const uint64_t bytes = slot_bytes(z->page().slots[p.slot]);
  // The zone keeps the counts of its programs that ended (its totals must not go down).
  z->ended_calls += cp.calls.load() + cp.posts.load();
  z->ended_rejected += cp.rejected.load();
  z->ended_oom += cp.oom_refusals.load();
  for (size_t i = 0; i < kProfileOps; ++i) z->ended_calls_by_op[i] += cp.profile[i].calls.load();
  for (const auto& [code, calls] : read_results(cp)) z->ended_results[code] += calls;
  release_slot(z->page(), p.slot);  // the driver freed its memory with the process: it no longer counts
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - p.started).count();
  idm::log_line("zone " + std::to_string(z->id) + " '" + z->name + "': program (worker " + std::to_string(p.pid) +
                ") ended after " + std::to_string(secs).substr(0, 5) + " s: " + how + "; its GPU memory (" +
                format_size(bytes) + "), " + std::to_string(cp.handles.load()) + " handles and worker reclaimed");
}

void Daemon::reap() {
  int status = 0;
  pid_t pid;
  while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
    auto it = programs_.find(pid);
    if (it == programs_.end()) continue;
    std::unique_ptr<Program> p = std::move(it->second);
    programs_.erase(it);
    program_ended(*p, status);
    Zone* z = p->zone;
    if (z == nullptr) continue;
    // A Xen zone's worker serves one program of the domain (one device); when that ends and the domain lives on
    // (kWorkerNextProgram), the zone goes on: a worker stays waiting for its next program (ensure_xen_listener).
    // Any other end of a Xen worker means the domain is gone: the zone ends with it.
    // A worker that dies after serving its program (a crash, a sanitizer's exit-time abort) costs that program
    // only: the domain's next program gets a fresh worker. One that fails before serving ends the zone (no retry
    // loop), as does a worker that saw the domain go (exit 0) or one we stopped.
    const bool program_ended = WIFEXITED(status) && WEXITSTATUS(status) == kWorkerNextProgram;
    const uint32_t last_state = p->control_page.page->state.load();
    const bool died_after_serving = !(WIFEXITED(status) && WEXITSTATUS(status) == 0) && !program_ended &&
                                    (last_state == static_cast<uint32_t>(WorkerState::kServing) ||
                                     last_state == static_cast<uint32_t>(WorkerState::kEnded));
    if (z->xen_domid && died_after_serving && !p->kill_at && !stopping_)
      idm::log_line("zone '" + z->name + "': a worker died after serving its program; the domain's next program gets a "
                    "fresh one");
    if (z->xen_domid && !((program_ended || died_after_serving) && !p->kill_at && !stopping_)) {
      stop_programs_of(*z);
      z->xen_domid.reset();
      z->draining = true;
    }
    if (z->xen_domid) ensure_xen_listener(*z);
    forget_zone_if_unused(z);
  }
}

// Registration overdue: SIGKILL (the worker holds no driver state yet). Stopping zones: SIGKILL after the grace.
void Daemon::enforce_deadlines() {
  const auto now = std::chrono::steady_clock::now();
  for (auto& [pid, p] : programs_) {
    if (!p->registered && !p->kill_at && now - p->started > opts_.register_timeout) {
      ::kill(pid, SIGKILL);
      p->kill_at = now;
    } else if (p->kill_at && now >= *p->kill_at) {
      ::kill(pid, SIGKILL);
    }
  }
}

// One tick of the time slicer over the zones with serving programs: the zone is the unit that gets its weight.
// It reads what the zone's workers published in their slots and writes the zone's grant (waking every worker
// that waits for it) and its accounted GPU time.
void Daemon::schedule() {
  std::vector<TimeSlicer::Observation> obs;
  std::vector<Zone*> serving;
  for (auto& [name, z] : zones_) {
    bool any = false;
    for (auto& [pid, p] : programs_)
      any |= p->zone == z.get() &&
             p->control_page.page->state.load(std::memory_order_relaxed) == static_cast<uint32_t>(WorkerState::kServing);
    if (!any) continue;
    uint64_t submits = 0;
    bool waiting = false;
    for (const ProgramSlot& s : z->page().slots) {
      if (s.live.load(std::memory_order_acquire) == 0) continue;
      submits += s.sched_submits.load(std::memory_order_relaxed);
      waiting |= s.sched_waiting.load(std::memory_order_relaxed) != 0;
    }
    obs.push_back({z->id, std::max<uint32_t>(1, z->page().weight.load(std::memory_order_relaxed)), submits, waiting});
    serving.push_back(z.get());
  }
  std::vector<TimeSlicer::Decision> dec(obs.size());
  slicer_.tick(std::chrono::steady_clock::now(), obs, dec);
  for (size_t i = 0; i < dec.size(); ++i) {
    ZonePage& zp = serving[i]->page();
    zp.gpu_ns.store(dec[i].gpu_ns, std::memory_order_relaxed);
    const uint32_t g = dec[i].grant ? 1 : 0;
    if (zp.sched_grant.exchange(g, std::memory_order_release) == 0 && g == 1)
      ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(&zp.sched_grant), FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
  }
  update_windows();
  publish_metrics();
  // A Xen zone whose waiting worker took a program gets the next one waiting.
  for (auto& [name, z] : zones_)
    if (z->xen_domid) ensure_xen_listener(*z);
}

void Daemon::shutdown() {
  idm::log_line("shutting down: stopping " + std::to_string(programs_.size()) + " worker(s)");
  for (auto& [pid, p] : programs_) ::kill(pid, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (!programs_.empty() && std::chrono::steady_clock::now() < deadline) {
    reap();
    ::usleep(10'000);
  }
  for (auto& [pid, p] : programs_) ::kill(pid, SIGKILL);
  while (!programs_.empty()) {
    ::usleep(1000);
    reap();
  }
  ::unlink(opts_.zone_socket.c_str());
  ::unlink(opts_.admin_socket.c_str());
  for (const ZonePolicy& p : opts_.zones)
    if (!p.bound_socket.empty()) ::unlink(p.bound_socket.c_str());
}

int Daemon::run() {
  idm::set_log_prefix("gpu-proxy");
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  ::sigprocmask(SIG_BLOCK, &mask, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  std::string why;
  facts_ = probe_driver(opts_.self_exe, driver_, why);
  if (facts_) {
    idm::log_line("GPU: " + facts_->name + ", " + format_size(facts_->total_mem) + "; one context costs " +
                  format_size(facts_->context_overhead) + " (measured), charged to its zone's quota");
  } else {
    idm::log_line("warning: cannot measure the GPU (" + why + "): zones' quotas are not checked against its memory "
                  "and contexts are not charged");
  }
  if (!start_monitoring()) return 2;  // after the signal mask: the metrics server's threads inherit it
  if (auto refusal = overcommit_refusal("", 0)) {
    idm::log_line("the declared zones' quotas exceed the GPU's memory: " + *refusal);
    return 2;
  }
  signals_.reset(::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
  for (const std::string& path : {opts_.zone_socket, opts_.admin_socket}) {
    const std::string dir = path.substr(0, path.rfind('/'));
    if (!dir.empty()) ::mkdir(dir.c_str(), 0755);
  }
  auto zl = idm::listen_unix(opts_.zone_socket);
  auto al = idm::listen_unix(opts_.admin_socket);
  if (!zl || !al) return 1;
  ::chmod(opts_.admin_socket.c_str(), 0600);  // the admin socket is the operator's; the peer is checked too
  zone_listen_ = std::move(zl.value());
  admin_listen_ = std::move(al.value());
  idm::log_line("listening: zones on " + opts_.zone_socket + ", admin on " + opts_.admin_socket + "; driver " + driver_);

  while (!stopping_) {
    std::vector<pollfd> fds = {{signals_.get(), POLLIN, 0}, {zone_listen_.get(), POLLIN, 0},
                               {admin_listen_.get(), POLLIN, 0}};
    for (auto& [fd, conn] : admins_) fds.push_back({fd, POLLIN, 0});
    const size_t first_bound = fds.size();
    std::vector<std::string> bound_names;
    for (auto& [name, l] : bound_listen_) {
      fds.push_back({l.get(), POLLIN, 0});
      bound_names.push_back(name);
    }
    const size_t first_worker = fds.size();
    std::vector<pid_t> worker_of;
    for (auto& [pid, p] : programs_) {
      if (!p->control.valid()) continue;
      fds.push_back({p->control.get(), POLLIN, 0});
      worker_of.push_back(pid);
    }
    const int timeout_ms = static_cast<int>(std::min<int64_t>(slicer_.next_tick().count(), 250));
    if (::poll(fds.data(), fds.size(), timeout_ms) < 0) continue;
    enforce_deadlines();
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo si{};
      while (::read(signals_.get(), &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGCHLD) reap();
        else stopping_ = true;
      }
    }
    if (fds[1].revents & POLLIN) accept_program(zone_listen_.get(), "");
    if (fds[2].revents & POLLIN) accept_admin();
    for (size_t i = 3; i < first_bound; ++i)
      if (fds[i].revents) on_admin(fds[i].fd);
    for (size_t i = first_bound; i < first_worker; ++i) {
      // An admin request above may have closed this zone's socket.
      auto it = bound_listen_.find(bound_names[i - first_bound]);
      if ((fds[i].revents & POLLIN) && it != bound_listen_.end() && it->second.get() == fds[i].fd)
        accept_program(fds[i].fd, it->first);
    }
    for (size_t i = first_worker; i < fds.size(); ++i) {
      // The program may have been reaped while we handled signals above.
      auto it = programs_.find(worker_of[i - first_worker]);
      if (it != programs_.end() && fds[i].revents) on_worker_message(*it->second);
    }
    schedule();
  }
  shutdown();
  return 0;
}

int run_daemon(DaemonOptions opts) { return Daemon(std::move(opts)).run(); }

}  // namespace xg::proxy
