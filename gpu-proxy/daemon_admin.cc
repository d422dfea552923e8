// The admin socket: who may use it (the operator: root, or the daemon's own user in stub mode; never one of our
// workers), and its verbs (admin_protocol.h): zones made, changed, drained and destroyed while they run.
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "gpu-proxy/daemon_internal.h"
#include "gpu-proxy/op_profile.h"
#include "gpu-proxy/units.h"
#include "idm/log.h"
#include "idm/unix_socket.h"

namespace xg::proxy {

using idm::UniqueFd;

// Replies may be long (zones-json): a packet of up to this many bytes.
inline constexpr size_t kMaxAdminReply = 200 * 1024;

Zone* Daemon::zone_named(const std::string& name) {
  auto it = zones_.find(name);
  return it == zones_.end() ? nullptr : it->second.get();
}

ZonePolicy* Daemon::policy_for(const std::string& name) {
  for (auto& z : opts_.zones)
    if (z.name == name) return &z;
  return nullptr;
}

Zone* Daemon::new_zone(const std::string& name, uint64_t quota, uint32_t weight) {
  auto z = std::make_unique<Zone>();
  if (!z->shared.create("xen-gpu-zone")) return nullptr;
  ZonePage& page = *z->shared.page;
  init_zone_page(page);
  page.quota_bytes.store(quota);
  page.weight.store(weight);
  z->id = next_id_++;
  page.zone_id.store(z->id);
  page.context_overhead_bytes.store(facts_ ? facts_->context_overhead : 0);
  stamp_driver_version(page);  // the host driver's version, for the zone's own NVML
  z->name = name;
  if (const ZonePolicy* pol = policy_for(name)) z->pod = pol->pod;
  z->created = std::chrono::steady_clock::now();
  z->window.at = z->created;
  Zone* raw = z.get();
  zones_[name] = std::move(z);
  return raw;
}

// A zone goes when nothing holds it: no program, no admin connection declaring it, no Xen domain.
void Daemon::forget_zone_if_unused(Zone* z) {
  if (z == nullptr) return;
  for (const auto& [pid, p] : programs_)
    if (p->zone == z) return;
  if (const ZonePolicy* pol = policy_for(z->name); pol && pol->owner != -1) return;
  if (z->xen_domid) return;
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - z->created).count();
  const std::string domain = z->served_domid ? " (Xen domain " + std::to_string(*z->served_domid) + ")" : "";
  idm::log_line("zone " + std::to_string(z->id) + " '" + z->name + "'" + domain + " ended after " +
                std::to_string(secs).substr(0, 5) + " s (" + std::to_string(z->programs_started) + " program(s))");
  zones_.erase(z->name);
}

// Why a zone of `quota` named `name` (replacing what that name holds now) would overcommit the GPU, or nullopt.
// Committed: every declared policy and every live zone, each name once. With name "" and quota 0: whether what is
// declared already overcommits (at start-up).
std::optional<std::string> Daemon::overcommit_refusal(const std::string& name, uint64_t quota) const {
  if (opts_.overcommit || !facts_ || facts_->total_mem == 0) return std::nullopt;
  std::map<std::string, uint64_t> committed;
  for (const ZonePolicy& p : opts_.zones) committed[p.name] = p.quota_bytes;
  for (const auto& [n, z] : zones_) committed[n] = z->page().quota_bytes.load();
  if (!name.empty()) committed[name] = quota;
  uint64_t sum = 0;
  for (const auto& [n, q] : committed) sum = q > UINT64_MAX - sum ? UINT64_MAX : sum + q;
  if (sum <= facts_->total_mem) return std::nullopt;
  return "zones' quotas would total " + format_size(sum) + ", more than the GPU's " + format_size(facts_->total_mem) +
         " (start gpu-proxy with --overcommit to allow it)";
}

void Daemon::stop_programs_of(const Zone& z) {
  // SIGTERM lets a worker publish its final counters and release its contexts; SIGKILL follows if it does not
  // exit promptly. Either way the driver reclaims the program's GPU state with the process.
  for (auto& [pid, p] : programs_) {
    if (p->zone != &z || p->kill_at) continue;
    ::kill(pid, SIGTERM);
    p->kill_at = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  }
}

// A Xen zone: the operator names the domain (xen-gpu attach), so the policy is known now and the program needs no
// Hello. Its worker creates the domain's xenstore device node and serves the domain's program.
std::string Daemon::create_xen_zone(const AdminRequest& r) {
  if (ZonePolicy* existing = policy_for(r.name); existing && existing->owner != -1)
    return "error zone name '" + r.name + "' is in use";
  if (zone_named(r.name)) return "error zone name '" + r.name + "' is in use";
  for (const auto& [n, z] : zones_)
    if (z->xen_domid == r.domid) return "error domain " + std::to_string(r.domid) + " is already attached (zone '" + n + "')";
  if (auto refusal = overcommit_refusal(r.name, r.quota)) return "error " + *refusal;
  Zone* z = new_zone(r.name, r.quota, r.weight);
  if (z == nullptr) return "error zone page";
  z->xen_domid = r.domid;
  z->served_domid = r.domid;
  ensure_xen_listener(*z);
  pid_t pid = -1;
  for (const auto& [wp, p] : programs_)
    if (p->zone == z) pid = wp;
  if (pid < 0) {
    z->xen_domid.reset();
    forget_zone_if_unused(z);
    return "error cannot start its worker";
  }
  idm::log_line("zone " + std::to_string(z->id) + " '" + r.name + "' registered (Xen domain " + std::to_string(r.domid) +
                ", worker pid " + std::to_string(pid) + ", quota " + format_size(r.quota) + ", weight " +
                std::to_string(r.weight) + ")");
  return "ok " + std::to_string(z->id);
}

// A zone with its own socket, for a pod (the CRI shim, cri-shim/): the zone's policy lives as long as the admin
// connection `owner` (the shim), and `<zone socket dir>/zones/NAME.sock` accepts programs for this zone only.
// Answers "ok PATH".
std::string Daemon::create_bound_zone(const AdminRequest& r, int owner) {
  if (ZonePolicy* existing = policy_for(r.name); existing && existing->owner != -1)
    return "error zone name '" + r.name + "' is in use";
  if (zone_named(r.name)) return "error zone name '" + r.name + "' is in use";
  if (auto refusal = overcommit_refusal(r.name, r.quota)) return "error " + *refusal;
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
  // The CRI shim names a pod's zone after the pod (<namespace>.<pod>, cri-shim/pod_zone.cc): the name is the pod.
  ZonePolicy p{r.name, r.quota, r.weight, opts_.default_limits, owner, path, r.name};
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

// One admin request, parsed (admin_protocol.h); returns the answer.
std::string Daemon::serve_admin(const AdminRequest& r, int fd) {
  switch (r.verb) {
    case AdminVerb::kCreate: {
      ZonePolicy* existing = policy_for(r.name);
      if ((existing && existing->owner != -1) || zone_named(r.name)) return "error zone name '" + r.name + "' is in use";
      if (auto refusal = overcommit_refusal(r.name, r.quota)) return "error " + *refusal;
      // A declared zone keeps its object limits; a new one gets the defaults.
      const ObjectLimits limits = existing ? existing->limits : opts_.default_limits;
      const ZonePolicy p{r.name, r.quota, r.weight, limits, fd, "", ""};
      if (existing) *existing = p;
      else opts_.zones.push_back(p);
      return "ok";
    }
    case AdminVerb::kCreateXen:
      return create_xen_zone(r);
    case AdminVerb::kCreateBound:
      return create_bound_zone(r, fd);
    case AdminVerb::kDestroy: {
      for (auto it = opts_.zones.begin(); it != opts_.zones.end();) {
        if (it->name == r.name && it->owner != -1) {
          drop_policy(it);
          it = opts_.zones.begin();
        } else {
          ++it;
        }
      }
      if (Zone* z = zone_named(r.name)) {
        z->draining = true;
        z->xen_domid.reset();  // the domain stays; its zone does not
        stop_programs_of(*z);
        forget_zone_if_unused(z);
      }
      return "ok";
    }
    case AdminVerb::kWeight:
    case AdminVerb::kQuota: {
      // A running zone's new share of GPU time or memory, seen by all of its programs at their next submission or
      // allocation (the zone page); kept for its later programs. A quota below what the zone uses refuses its new
      // allocations and breaks nothing that runs.
      ZonePolicy* pol = policy_for(r.name);
      Zone* z = zone_named(r.name);
      if (!pol && !z) return "error no zone named '" + r.name + "'";
      if (r.verb == AdminVerb::kQuota) {
        if (auto refusal = overcommit_refusal(r.name, r.quota)) return "error " + *refusal;
        if (pol) pol->quota_bytes = r.quota;
        if (z) z->page().quota_bytes.store(r.quota);
        idm::log_line("zone '" + r.name + "': quota " + format_size(r.quota) +
                      (z ? " (uses " + format_size(zone_usage(z->page()).total()) + ")" : std::string()));
      } else {
        if (pol) pol->weight = r.weight;
        if (z) z->page().weight.store(r.weight);
        idm::log_line("zone '" + r.name + "': weight " + std::to_string(r.weight));
      }
      return "ok";
    }
    case AdminVerb::kDrain: {
      Zone* z = zone_named(r.name);
      if (!z) return "error no zone named '" + r.name + "' is running";
      z->draining = true;
      idm::log_line("zone '" + r.name + "' draining: no new programs");
      forget_zone_if_unused(z);
      return "ok";
    }
    case AdminVerb::kJoin: {
      // xen-gpu run --name Z when Z exists: where its programs connect, and its policy (for the flags' check).
      Zone* z = zone_named(r.name);
      const ZonePolicy* pol = policy_for(r.name);
      if (!z && !pol) return "error no zone named '" + r.name + "'";
      if (z && z->xen_domid) return "error zone '" + r.name + "' is a Xen domain's: its programs run in the domain";
      if (z && z->draining) return "error zone '" + r.name + "' is draining";
      const uint64_t quota = z ? z->page().quota_bytes.load() : pol->quota_bytes;
      const uint32_t weight = z ? z->page().weight.load() : pol->weight;
      const std::string socket = pol && !pol->bound_socket.empty() ? pol->bound_socket : opts_.zone_socket;
      return "ok " + std::to_string(quota) + " " + std::to_string(weight) + " " + socket;
    }
    case AdminVerb::kZones:
      return "ok\n" + zones_table();
    case AdminVerb::kZonesJson:
      return "ok\n" + to_json(snapshot());
    case AdminVerb::kProfile: {
      // Per-opcode calls and handler-time histograms of every serving program, or of the named zone's.
      std::string reply = "ok\n";
      bool header = false;
      for (const auto& [pid, p] : programs_) {
        if (p->zone == nullptr || (!r.name.empty() && p->zone->name != r.name)) continue;
        std::string t = format_profile(*p->control_page.page, p->zone->name);
        if (header) t.erase(0, t.find('\n') + 1);  // one header line for all
        header = true;
        reply += t;
      }
      if (!r.name.empty() && !header) return "error no zone named '" + r.name + "'";
      return reply;
    }
  }
  return "error unknown command";
}

// The admin socket's file mode already keeps others out; the peer's credentials are checked as well (a socket
// mounted or chmod-ed by mistake must not hand out zones), and a worker of ours, which parses zones' bytes, is
// never an operator even though it runs as the daemon's user.
void Daemon::accept_admin() {
  UniqueFd c(::accept4(admin_listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!c.valid()) return;
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(c.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return;
  const bool operator_uid = cred.uid == 0 || cred.uid == ::geteuid();
  const bool worker = programs_.count(cred.pid) != 0;
  if (!operator_uid || worker) {
    idm::log_line("admin connection refused: pid " + std::to_string(cred.pid) + " uid " + std::to_string(cred.uid) +
                  (worker ? " is one of the daemon's workers" : " is neither root nor the daemon's user"));
    // Its first request is answered with the refusal, then it is closed (closing now could discard the answer
    // with the request unread). A few such connections at a time; more are closed at once.
    if (refused_admins_.size() < 16) {
      const int fd = c.get();
      refused_admins_.insert(fd);
      admins_[fd] = std::move(c);
    }
    return;
  }
  const int sndbuf = static_cast<int>(kMaxAdminReply + 4096);
  ::setsockopt(c.get(), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  const int fd = c.get();
  admins_[fd] = std::move(c);
}

void Daemon::on_admin(int fd) {
  std::array<std::byte, 512> buf{};
  auto n = idm::recv_packet(fd, buf, nullptr, std::chrono::milliseconds(0));
  if (!n) {
    admin_closed(fd);
    return;
  }
  if (refused_admins_.count(fd) != 0) {
    const std::string no = "error the admin socket is root's";
    (void)idm::send_packet(fd, std::as_bytes(std::span(no.data(), no.size())));
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
  if (reply.size() > kMaxAdminReply) reply = "error the answer is larger than " + format_size(kMaxAdminReply);
  (void)idm::send_packet(fd, std::as_bytes(std::span(reply.data(), reply.size())));
}

void Daemon::admin_closed(int fd) {
  // A `xen-gpu run` (or a shim) that went away takes the zones it declared with it.
  for (auto it = opts_.zones.begin(); it != opts_.zones.end();) {
    if (it->owner == fd) {
      const std::string name = it->name;
      drop_policy(it);
      if (Zone* z = zone_named(name)) {
        z->draining = true;
        stop_programs_of(*z);
        forget_zone_if_unused(z);
      }
      it = opts_.zones.begin();
    } else {
      ++it;
    }
  }
  refused_admins_.erase(fd);
  admins_.erase(fd);
}

}  // namespace xg::proxy
