#include "gpu-proxy/daemon.h"

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
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include "gpu-proxy/admin_protocol.h"
#include "gpu-proxy/control.h"
#include "gpu-proxy/op_profile.h"
#include "gpu-proxy/time_slicer.h"
#include "gpu-proxy/units.h"
#include "gpu-proxy/worker/worker_main.h"
#include "idm/log.h"
#include "idm/transport_shm.h"

namespace xg::proxy {
namespace {

using idm::UniqueFd;

struct Zone {
  uint32_t id = 0;
  pid_t pid = -1;
  UniqueFd control;
  ControlPage* page = nullptr;
  std::string name;  // known once the worker registered it
  uint32_t weight = 1;
  std::optional<uint32_t> xen_domid;  // a Xen zone (create-xen): its worker is the domain's Xen backend
  UniqueFd page_fd;                   // the control page's memfd, handed to each worker (Xen: one per program)
  std::string bound_name;             // accepted on a create-bound zone's own socket: may register only as it
  uint32_t programs = 0;              // workers started so far
  std::chrono::steady_clock::time_point started;
  std::optional<std::chrono::steady_clock::time_point> kill_at;  // SIGTERM sent; SIGKILL if still alive then
  ~Zone() {
    if (page) ::munmap(page, kControlPageBytes);
  }
};

class Daemon {
 public:
  explicit Daemon(DaemonOptions o) : opts_(std::move(o)), driver_(resolve_driver(opts_.driver, opts_.self_exe)) {}
  int run();

 private:
  void accept_zone(int listen_fd, const std::string& bound_name);
  std::string create_bound_zone(const AdminRequest& r, int owner);
  void drop_policy(std::vector<ZonePolicy>::iterator it);
  std::string create_xen_zone(const std::string& name, uint32_t domid, uint64_t quota, uint32_t weight);
  pid_t spawn_worker(Zone& z, int zone_fd);
  std::string serve_admin(const AdminRequest& r, int fd);
  void accept_admin();
  void on_worker_message(Zone& z);
  void on_admin(int fd);
  void admin_closed(int fd);
  void reap();
  void destroy_zone_named(const std::string& name);
  void enforce_kill_deadlines();
  std::string zones_table() const;
  ZonePolicy* policy_for(const std::string& name);
  ControlPage* new_control_page(UniqueFd& fd);
  void schedule();
  void shutdown();

  DaemonOptions opts_;
  std::string driver_;
  UniqueFd zone_listen_, admin_listen_, signals_;
  std::map<pid_t, std::unique_ptr<Zone>> zones_;
  std::map<int, UniqueFd> admins_;
  std::map<std::string, UniqueFd> bound_listen_;  // create-bound zones' own sockets, by zone name
  uint32_t next_id_ = 1;
  bool stopping_ = false;
  TimeSlicer slicer_;
};

// A zeroed control page in a new memfd, with the fields the daemon owns from the start: a zone may submit GPU
// work until the time slicer says otherwise.
ControlPage* Daemon::new_control_page(UniqueFd& fd) {
  fd.reset(::memfd_create("xen-gpu-control", MFD_CLOEXEC));
  if (!fd.valid() || ::ftruncate(fd.get(), kControlPageBytes) != 0) return nullptr;
  void* p = ::mmap(nullptr, kControlPageBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (p == MAP_FAILED) return nullptr;
  auto* page = static_cast<ControlPage*>(p);
  page->magic = kControlMagic;
  page->version = 2;
  page->sched_grant.store(1);
  return page;
}

// One tick of the time slicer over the serving zones: it reads what each worker published and writes each
// zone's grant (waking a worker that waits for one) and its accounted GPU time.
void Daemon::schedule() {
  std::vector<TimeSlicer::Observation> obs;
  std::vector<Zone*> serving;
  for (auto& [pid, z] : zones_) {
    const ControlPage& p = *z->page;
    if (p.state.load(std::memory_order_relaxed) != static_cast<uint32_t>(WorkerState::kServing)) continue;
    obs.push_back({z->id, z->weight, p.sched_submits.load(std::memory_order_relaxed),
                   p.sched_waiting.load(std::memory_order_relaxed) != 0});
    serving.push_back(z.get());
  }
  std::vector<TimeSlicer::Decision> dec(obs.size());
  slicer_.tick(std::chrono::steady_clock::now(), obs, dec);
  for (size_t i = 0; i < dec.size(); ++i) {
    ControlPage& p = *serving[i]->page;
    p.gpu_ns.store(dec[i].gpu_ns, std::memory_order_relaxed);
    const uint32_t g = dec[i].grant ? 1 : 0;
    if (p.sched_grant.exchange(g, std::memory_order_release) == 0 && g == 1)
      ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(&p.sched_grant), FUTEX_WAKE, 1, nullptr, nullptr, 0);
  }
}

ZonePolicy* Daemon::policy_for(const std::string& name) {
  for (auto& z : opts_.zones)
    if (z.name == name) return &z;
  return nullptr;
}

void Daemon::accept_zone(int listen_fd, const std::string& bound_name) {
  UniqueFd conn(::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
  if (!conn.valid()) return;
  UniqueFd page_fd;
  ControlPage* page = new_control_page(page_fd);
  if (!page) return;
  auto z = std::make_unique<Zone>();
  z->page = page;
  z->page_fd = std::move(page_fd);
  z->id = next_id_++;
  z->started = std::chrono::steady_clock::now();
  z->bound_name = bound_name;
  const pid_t pid = spawn_worker(*z, conn.get());
  if (pid < 0) return;
  zones_[pid] = std::move(z);
}

// A Xen zone: the operator names the domain (xen-gpu attach), so the policy is known now and no Hello is
// needed. The worker gets the control page already filled and XG_WORKER_XEN_DOMID; it creates the domain's
// xenstore device node and serves the domain's programs until the domain is gone.
std::string Daemon::create_xen_zone(const std::string& name, uint32_t domid, uint64_t quota, uint32_t weight) {
  for (auto& [pid, z] : zones_) {
    if (z->name == name) return "error zone name '" + name + "' is in use";
    if (z->xen_domid == domid) return "error domain " + std::to_string(domid) + " is already attached (zone '" + z->name + "')";
  }
  UniqueFd page_fd;
  ControlPage* page = new_control_page(page_fd);
  if (!page) return "error control page";
  auto z = std::make_unique<Zone>();
  z->page = page;
  z->id = next_id_++;
  z->name = name;
  z->weight = weight;
  z->xen_domid = domid;
  std::memcpy(z->page->name, name.data(), std::min(name.size(), sizeof z->page->name - 1));
  z->page->quota_bytes.store(quota);
  z->page->weight.store(weight);
  const ZonePolicy* pol = policy_for(name);
  store_limits(*z->page, pol ? pol->limits : opts_.default_limits);
  z->page->zone_id.store(z->id);
  z->started = std::chrono::steady_clock::now();
  z->page_fd = std::move(page_fd);
  const pid_t pid = spawn_worker(*z, -1);
  if (pid < 0) return "error fork";
  idm::log_line("zone " + std::to_string(z->id) + " '" + name + "' registered (Xen domain " + std::to_string(domid) +
                ", worker pid " + std::to_string(pid) + ", quota " + format_size(quota) + ", weight " +
                std::to_string(weight) + ")");
  const std::string reply = "ok " + std::to_string(z->id);
  zones_[pid] = std::move(z);
  return reply;
}

// Starts a zone's worker: fork, then exec of ourselves as --worker with exactly three descriptors: the zone's
// socket (shm zones: `zone_fd`; a Xen zone has none, -1: the worker makes the channel over Xen itself), the
// control socket and the control page. A Xen zone runs one worker per program: when a program's channel ends and
// the domain lives on, the worker exits with kWorkerNextProgram and we start a fresh one (fresh driver state, as
// for a new shm zone).
pid_t Daemon::spawn_worker(Zone& z, int zone_fd) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return -1;
  UniqueFd ours(sv[0]), theirs(sv[1]);
  const std::string domid_s = z.xen_domid ? std::to_string(*z.xen_domid) : "";
  z.page->state.store(static_cast<uint32_t>(WorkerState::kStarting));
  // A previous program's worker may have died waiting for a grant: the new one starts with a clean slate.
  z.page->sched_waiting.store(0);
  z.page->sched_submits.store(0);
  const pid_t pid = ::fork();
  if (pid < 0) {
    idm::log_errno("fork worker");
    return -1;
  }
  if (pid == 0) {
    if (zone_fd >= 0) ::dup2(zone_fd, kWorkerZoneFd);
    else ::close(kWorkerZoneFd);
    ::dup2(theirs.get(), kWorkerControlFd);
    ::dup2(z.page_fd.get(), kWorkerPageFd);
    for (int fd = 6; fd < 1024; ++fd) ::close(fd);
    // Whatever the operator's environment says: only a Xen zone's worker sees a domain id.
    if (z.xen_domid) ::setenv("XG_WORKER_XEN_DOMID", domid_s.c_str(), 1);
    else ::unsetenv("XG_WORKER_XEN_DOMID");
    const char* argv[] = {opts_.self_exe.c_str(), "--worker", "--driver", driver_.c_str(), nullptr};
    ::execv(opts_.self_exe.c_str(), const_cast<char* const*>(argv));
    ::_exit(127);
  }
  z.pid = pid;
  z.control = std::move(ours);
  ++z.programs;
  return pid;
}

void Daemon::on_worker_message(Zone& z) {
  std::array<std::byte, 8> b{};
  auto n = idm::recv_packet(z.control.get(), b, nullptr, std::chrono::milliseconds(0));
  if (!n) {
    z.control.reset();  // the worker is exiting; SIGCHLD does the rest
    return;
  }
  // The worker's packet and page are read through control.h's decoders only: the worker parsed zone bytes.
  const auto msg = decode_control(std::span(b).first(*n), Sender::kWorker);
  if (msg != ControlMessage::kRegistered) return;
  auto reg = read_registration(*z.page);
  ControlMessage verdict = ControlMessage::kAccept;
  if (!reg) {
    idm::log_line("zone registration refused: the worker reported no valid zone name");
    const auto refuse = encode_control(ControlMessage::kRefuse);
    (void)idm::send_packet(z.control.get(), refuse);
    return;
  }
  const std::string& name = reg->name;
  ZonePolicy fallback{name, opts_.default_quota, opts_.default_weight, opts_.default_limits, -1, ""};
  const ZonePolicy* pol = policy_for(name);
  if (!pol && !opts_.allow_unknown_zones) {
    verdict = ControlMessage::kRefuse;
  } else if (!z.bound_name.empty() ? z.bound_name != name : pol && !pol->bound_socket.empty()) {
    // A create-bound zone registers only through its own socket, and that socket registers only it: a program
    // that reaches one pod's socket can neither claim another zone nor have its zone claimed from elsewhere.
    verdict = ControlMessage::kRefuse;
  } else {
    for (auto& [pid, other] : zones_)
      if (other.get() != &z && other->name == name) verdict = ControlMessage::kRefuse;  // one live zone per name
  }
  if (!pol) pol = &fallback;
  if (verdict == ControlMessage::kAccept) {
    z.name = name;
    z.weight = pol->weight;
    z.page->quota_bytes.store(pol->quota_bytes);
    z.page->weight.store(pol->weight);
    store_limits(*z.page, pol->limits);
    z.page->zone_id.store(z.id);
    idm::log_line("zone " + std::to_string(z.id) + " '" + name + "' registered (pid " +
                  std::to_string(reg->pid) + ", quota " + format_size(pol->quota_bytes) +
                  ", weight " + std::to_string(pol->weight) + ")");
  } else {
    idm::log_line("zone registration refused for name '" + name + "'");
  }
  (void)idm::send_packet(z.control.get(), encode_control(verdict));
}

std::string Daemon::zones_table() const {
  std::ostringstream out;
  out << "ID  NAME                 STATE        QUOTA      USED       PEAK       WEIGHT  CALLS      POSTS      "
         "REJECTED  OOM  HANDLES  BUSY_MS   GPU_MS    WORKER\n";
  for (const auto& [pid, z] : zones_) {
    const ControlPage& p = *z->page;
    char line[512];
    std::snprintf(line, sizeof line, "%-3u %-20s %-12s %-10s %-10s %-10s %-7u %-10llu %-10llu %-9llu %-4llu %-8llu %-9.1f %-9.1f %d\n",
                  z->id, z->name.empty() ? "-" : z->name.c_str(), worker_state_name(p.state.load()),
                  format_size(p.quota_bytes.load()).c_str(), format_size(p.used_bytes.load()).c_str(),
                  format_size(p.peak_bytes.load()).c_str(), z->weight, (unsigned long long)p.calls.load(),
                  (unsigned long long)p.posts.load(), (unsigned long long)p.rejected.load(),
                  (unsigned long long)p.oom_refusals.load(), (unsigned long long)p.handles.load(),
                  double(p.busy_ns.load()) / 1e6, double(p.gpu_ns.load()) / 1e6, pid);
    out << line;
  }
  // create-bound zones waiting for their first (or next) program: declared, no worker yet.
  for (const ZonePolicy& pol : opts_.zones) {
    if (pol.bound_socket.empty()) continue;
    bool live = false;
    for (const auto& [pid, z] : zones_) live |= z->name == pol.name;
    if (live) continue;
    char line[512];
    std::snprintf(line, sizeof line, "%-3s %-20s %-12s %-10s %-10s %-10s %-7u %-10d %-10d %-9d %-4d %-8d %-9.1f %-9.1f %s\n", "-",
                  pol.name.c_str(), "waiting", format_size(pol.quota_bytes).c_str(), "0", "0", pol.weight, 0, 0, 0, 0, 0,
                  0.0, 0.0, "-");
    out << line;
  }
  return out.str();
}

void Daemon::destroy_zone_named(const std::string& name) {
  // SIGTERM lets the worker publish its final counters and release its contexts; SIGKILL follows if it does not
  // exit promptly. Either way the driver reclaims the zone's GPU state with the process.
  for (auto& [pid, z] : zones_) {
    if (z->name != name || z->kill_at) continue;
    ::kill(pid, SIGTERM);
    z->kill_at = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  }
}

void Daemon::enforce_kill_deadlines() {
  const auto now = std::chrono::steady_clock::now();
  for (auto& [pid, z] : zones_)
    if (z->kill_at && now >= *z->kill_at) ::kill(pid, SIGKILL);
}

// One admin request, parsed (admin_protocol.h); returns the answer.
std::string Daemon::serve_admin(const AdminRequest& r, int fd) {
  switch (r.verb) {
    case AdminVerb::kCreate: {
      ZonePolicy* existing = policy_for(r.name);
      if (existing && existing->owner != -1) return "error zone name '" + r.name + "' is in use";
      // A declared zone keeps its object limits; a new one gets the defaults.
      const ObjectLimits limits = existing ? existing->limits : opts_.default_limits;
      const ZonePolicy p{r.name, r.quota, r.weight, limits, fd, ""};
      if (existing) *existing = p;
      else opts_.zones.push_back(p);
      return "ok";
    }
    case AdminVerb::kCreateXen: {
      if (ZonePolicy* existing = policy_for(r.name); existing && existing->owner != -1)
        return "error zone name '" + r.name + "' is in use";
      return create_xen_zone(r.name, r.domid, r.quota, r.weight);
    }
    case AdminVerb::kCreateBound:
      return create_bound_zone(r, fd);
    case AdminVerb::kDestroy:
      destroy_zone_named(r.name);
      for (auto it = opts_.zones.begin(); it != opts_.zones.end();) {
        if (it->name == r.name && it->owner != -1) {
          drop_policy(it);
          it = opts_.zones.begin();
        } else {
          ++it;
        }
      }
      return "ok";
    case AdminVerb::kWeight: {
      // A new share of GPU time for a live zone (and for its later programs or registrations under that name).
      bool found = false;
      for (auto& [pid, z] : zones_) {
        if (z->name != r.name) continue;
        z->weight = r.weight;
        z->page->weight.store(r.weight);
        found = true;
      }
      if (ZonePolicy* pol = policy_for(r.name)) {
        pol->weight = r.weight;
        found = true;
      }
      if (!found) return "error no zone named '" + r.name + "'";
      idm::log_line("zone '" + r.name + "': weight " + std::to_string(r.weight));
      return "ok";
    }
    case AdminVerb::kZones:
      return "ok\n" + zones_table();
    case AdminVerb::kProfile: {
      // Per-opcode calls and handler-time histograms of every serving zone, or of the one named.
      std::string reply = "ok\n";
      bool header = false;
      for (const auto& [pid, z] : zones_) {
        if (z->name.empty() || (!r.name.empty() && z->name != r.name)) continue;
        std::string t = format_profile(*z->page, z->name);
        if (header) t.erase(0, t.find('\n') + 1);  // one header line for all zones
        header = true;
        reply += t;
      }
      if (!r.name.empty() && !header) return "error no zone named '" + r.name + "'";
      return reply;
    }
  }
  return "error unknown command";
}

void Daemon::on_admin(int fd) {
  std::array<std::byte, 512> buf{};
  auto n = idm::recv_packet(fd, buf, nullptr, std::chrono::milliseconds(0));
  if (!n) {
    admin_closed(fd);
    return;
  }
  auto parsed = parse_admin_request(std::string_view(reinterpret_cast<const char*>(buf.data()), *n));
  std::string reply;
  if (auto* error = std::get_if<std::string>(&parsed)) {
    reply = *error;
  } else {
    reply = serve_admin(std::get<AdminRequest>(parsed), fd);
  }
  if (reply.size() > 60000) reply.resize(60000);
  (void)idm::send_packet(fd, std::as_bytes(std::span(reply.data(), reply.size())));
}

// A zone with its own socket, for a pod (the CRI shim, cri-shim/): the zone's policy lives as long as the admin
// connection `owner` (the shim), and `<zone socket dir>/zones/NAME.sock` accepts programs for this zone only.
// Answers "ok PATH".
std::string Daemon::create_bound_zone(const AdminRequest& r, int owner) {
  if (ZonePolicy* existing = policy_for(r.name); existing && existing->owner != -1)
    return "error zone name '" + r.name + "' is in use";
  for (auto& [pid, z] : zones_)
    if (z->name == r.name) return "error zone name '" + r.name + "' is in use";
  const size_t slash = opts_.zone_socket.rfind('/');
  const std::string dir = (slash == std::string::npos ? std::string(".") : opts_.zone_socket.substr(0, slash)) + "/zones";
  ::mkdir(dir.c_str(), 0700);  // the host side stays the operator's; a pod sees only its own socket, mounted in
  const std::string path = dir + "/" + r.name + ".sock";
  ::unlink(path.c_str());  // left by a daemon that died: nobody can be listening there now (the name was free)
  auto l = idm::listen_unix(path);
  if (!l) return "error cannot listen on " + path;
  // Programs in the pod may run under any uid: the socket's reach is decided by who has it mounted.
  ::chmod(path.c_str(), 0666);
  bound_listen_[r.name] = std::move(l.value());
  ZonePolicy p{r.name, r.quota, r.weight, opts_.default_limits, owner, path};
  if (ZonePolicy* existing = policy_for(r.name)) {
    p.limits = existing->limits;  // a zone declared in the config keeps its object limits
    *existing = p;
  } else {
    opts_.zones.push_back(p);
  }
  idm::log_line("zone '" + r.name + "' declared with its own socket " + path + " (quota " + format_size(r.quota) +
                ", weight " + std::to_string(r.weight) + ")");
  return "ok " + path;
}

// Forgets an admin-declared policy; a create-bound zone's socket goes with it.
void Daemon::drop_policy(std::vector<ZonePolicy>::iterator it) {
  if (!it->bound_socket.empty()) {
    bound_listen_.erase(it->name);
    ::unlink(it->bound_socket.c_str());
  }
  opts_.zones.erase(it);
}

void Daemon::admin_closed(int fd) {
  // A `xen-gpu run` that went away takes its zones with it.
  for (auto it = opts_.zones.begin(); it != opts_.zones.end();) {
    if (it->owner == fd) {
      destroy_zone_named(it->name);
      drop_policy(it);
      it = opts_.zones.begin();
    } else {
      ++it;
    }
  }
  admins_.erase(fd);
}

void Daemon::reap() {
  int status = 0;
  pid_t pid;
  while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
    auto it = zones_.find(pid);
    if (it == zones_.end()) continue;
    if (it->second->xen_domid && WIFEXITED(status) && WEXITSTATUS(status) == kWorkerNextProgram &&
        !it->second->kill_at && !stopping_) {
      std::unique_ptr<Zone> zp = std::move(it->second);
      zones_.erase(it);
      const pid_t next = spawn_worker(*zp, -1);
      if (next > 0) {
        zones_[next] = std::move(zp);
        continue;
      }
      zones_[pid] = std::move(zp);  // could not start one: log the zone's end below
      it = zones_.find(pid);
    }
    const Zone& z = *it->second;
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - z.started).count();
    std::string how = WIFEXITED(status) ? "exited " + std::to_string(WEXITSTATUS(status))
                                        : "killed by signal " + std::to_string(WTERMSIG(status));
    if (z.xen_domid) how += " (" + std::to_string(z.programs) + " worker(s) for its programs)";
    idm::log_line("zone " + std::to_string(z.id) + " '" + (z.name.empty() ? "?" : z.name) + "'" +
                  (z.xen_domid ? " (Xen domain " + std::to_string(*z.xen_domid) + ")" : std::string()) + " ended after " +
                  std::to_string(secs).substr(0, 5) + " s: worker " + how + "; its GPU memory (" +
                  format_size(z.page->used_bytes.load()) + "), " + std::to_string(z.page->handles.load()) +
                  " handles and worker reclaimed");
    zones_.erase(it);
  }
}

void Daemon::shutdown() {
  idm::log_line("shutting down: stopping " + std::to_string(zones_.size()) + " zone worker(s)");
  for (auto& [pid, z] : zones_) ::kill(pid, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (!zones_.empty() && std::chrono::steady_clock::now() < deadline) {
    reap();
    ::usleep(10'000);
  }
  for (auto& [pid, z] : zones_) ::kill(pid, SIGKILL);
  while (!zones_.empty()) {
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
  signals_.reset(::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
  for (const std::string& path : {opts_.zone_socket, opts_.admin_socket}) {
    const std::string dir = path.substr(0, path.rfind('/'));
    if (!dir.empty()) ::mkdir(dir.c_str(), 0755);
  }
  auto zl = idm::listen_unix(opts_.zone_socket);
  auto al = idm::listen_unix(opts_.admin_socket);
  if (!zl || !al) return 1;
  ::chmod(opts_.admin_socket.c_str(), 0600);  // the admin socket is the operator's, not the zones'
  zone_listen_ = std::move(zl.value());
  admin_listen_ = std::move(al.value());
  idm::log_line("listening: zones on " + opts_.zone_socket + ", admin on " + opts_.admin_socket + "; driver " + driver_);

  while (!stopping_) {
    std::vector<pollfd> fds = {{signals_.get(), POLLIN, 0}, {zone_listen_.get(), POLLIN, 0},
                               {admin_listen_.get(), POLLIN, 0}};
    std::vector<Zone*> zone_of;
    for (auto& [fd, conn] : admins_) fds.push_back({fd, POLLIN, 0});
    const size_t first_bound = fds.size();
    std::vector<std::string> bound_names;
    for (auto& [name, l] : bound_listen_) {
      fds.push_back({l.get(), POLLIN, 0});
      bound_names.push_back(name);
    }
    const size_t first_worker = fds.size();
    for (auto& [pid, z] : zones_) {
      if (!z->control.valid()) continue;
      fds.push_back({z->control.get(), POLLIN, 0});
      zone_of.push_back(z.get());
    }
    const int timeout_ms = static_cast<int>(slicer_.next_tick().count());
    if (::poll(fds.data(), fds.size(), timeout_ms) < 0) continue;
    enforce_kill_deadlines();
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo si{};
      while (::read(signals_.get(), &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGCHLD) reap();
        else stopping_ = true;
      }
    }
    if (fds[1].revents & POLLIN) accept_zone(zone_listen_.get(), "");
    if (fds[2].revents & POLLIN) {
      UniqueFd c(::accept4(admin_listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (c.valid()) {
        const int fd = c.get();
        admins_[fd] = std::move(c);
      }
    }
    for (size_t i = 3; i < first_bound; ++i)
      if (fds[i].revents) on_admin(fds[i].fd);
    for (size_t i = first_bound; i < first_worker; ++i) {
      // An admin request above may have closed this zone's socket.
      auto it = bound_listen_.find(bound_names[i - first_bound]);
      if ((fds[i].revents & POLLIN) && it != bound_listen_.end() && it->second.get() == fds[i].fd)
        accept_zone(fds[i].fd, it->first);
    }
    for (size_t i = first_worker; i < fds.size(); ++i) {
      Zone* z = zone_of[i - first_worker];
      // The zone may have been reaped while we handled signals above.
      bool live = false;
      for (auto& [pid, other] : zones_) live |= other.get() == z;
      if (live && fds[i].revents) on_worker_message(*z);
    }
    schedule();
  }
  shutdown();
  return 0;
}

}  // namespace

int run_daemon(DaemonOptions opts) { return Daemon(std::move(opts)).run(); }

}  // namespace xg::proxy
