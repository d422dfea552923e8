// The daemon's state, shared by its parts: daemon.cc (the event loop, programs and their workers),
// daemon_admin.cc (the admin socket's verbs) and daemon_view.cc (snapshots: tables, JSON, metrics).
//
// Model: a Zone is the unit of policy (name, quota, weight) and owns the zone page all of its programs' workers
// map; a Program is one worker process serving one program (one connection of the zone). A zone lives while it
// is declared by an admin connection (xen-gpu run, the CRI shim) or a Xen domain, or while it has programs.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "gpu-proxy/admin_protocol.h"
#include "gpu-proxy/control.h"
#include "gpu-proxy/daemon.h"
#include "gpu-proxy/driver_probe.h"
#include "gpu-proxy/time_slicer.h"
#include "gpu-proxy/zone_page.h"
#include "gpu-proxy/zone_snapshot.h"
#include "idm/unique_fd.h"

namespace xg::proxy {

class HostNvml;
class MetricsServer;

// A MAP_SHARED mapping of a memfd, unmapped on destruction.
template <typename Page, size_t kBytes>
struct SharedPage {
  idm::UniqueFd fd;
  Page* page = nullptr;
  [[nodiscard]] bool create(const char* name);
  SharedPage() = default;
  SharedPage(const SharedPage&) = delete;
  SharedPage& operator=(const SharedPage&) = delete;
  ~SharedPage();
};

struct Zone {
  uint32_t id = 0;
  std::string name;
  std::string pod;
  SharedPage<ZonePage, kZonePageBytes> shared;
  std::optional<uint32_t> xen_domid;  // a Xen zone (create-xen): its workers are the domain's Xen backends
  std::optional<uint32_t> served_domid;  // the domain it served (for the log, after xen_domid is cleared)
  bool draining = false;              // xen-gpu drain: no new programs; running ones finish
  uint32_t programs_started = 0;
  uint64_t peak_bytes = 0;
  std::chrono::steady_clock::time_point created;
  // Counters of programs that ended, so the zone's totals do not drop when one does.
  uint64_t ended_calls = 0, ended_rejected = 0, ended_oom = 0;
  std::array<uint64_t, kProfileOps> ended_calls_by_op{};
  std::map<int32_t, uint64_t> ended_results;
  // The last interval's rates (daemon_view.cc).
  struct Window {
    std::chrono::steady_clock::time_point at;
    uint64_t gpu_ns = 0, calls = 0;
  } window;
  double gpu_share = 0, calls_per_s = 0;
  [[nodiscard]] ZonePage& page() const noexcept { return *shared.page; }
};

struct Program {
  pid_t pid = -1;
  idm::UniqueFd control;
  SharedPage<ControlPage, kControlPageBytes> control_page;
  Zone* zone = nullptr;  // once accepted
  int slot = -1;         // its slot in the zone page
  int listen_fd = -1;    // the socket its connection came through (its unregistered count)
  int xen_devid = -1;    // a Xen zone's program: the device (device/xen-gpu/N) its worker serves
  std::string bound_name;  // accepted on a create-bound zone's own socket: may register only as it
  std::chrono::steady_clock::time_point started;
  std::optional<std::chrono::steady_clock::time_point> kill_at;  // SIGTERM sent (or registration overdue)
  bool registered = false;
};

class Daemon {
 public:
  explicit Daemon(DaemonOptions o);
  ~Daemon();
  int run();

 private:
  friend class DaemonView;
  // --- programs (daemon.cc)
  [[nodiscard]] std::unique_ptr<Program> new_program();
  void accept_program(int listen_fd, const std::string& bound_name);
  [[nodiscard]] pid_t spawn_worker(Program& p, int zone_fd, const Zone* xen_zone);
  // A Xen zone keeps one worker waiting on a free device for the guest's next program (up to the per-zone bound).
  void ensure_xen_listener(Zone& z);
  void on_worker_message(Program& p);
  [[nodiscard]] std::string admit_program(Program& p, const std::string& name, uint32_t zone_pid);
  [[nodiscard]] bool send_accept(Program& p, Zone& z);
  void reap();
  void program_ended(Program& p, int status);
  void enforce_deadlines();
  void schedule();
  void shutdown();
  [[nodiscard]] size_t unregistered_on(int listen_fd) const;
  // --- zones (daemon_admin.cc)
  [[nodiscard]] Zone* zone_named(const std::string& name);
  [[nodiscard]] Zone* new_zone(const std::string& name, uint64_t quota, uint32_t weight);
  void forget_zone_if_unused(Zone* z);
  [[nodiscard]] std::optional<std::string> overcommit_refusal(const std::string& name, uint64_t quota) const;
  [[nodiscard]] ZonePolicy* policy_for(const std::string& name);
  [[nodiscard]] std::string create_bound_zone(const AdminRequest& r, int owner);
  [[nodiscard]] std::string create_xen_zone(const AdminRequest& r);
  void drop_policy(std::vector<ZonePolicy>::iterator it);
  void stop_programs_of(const Zone& z);
  [[nodiscard]] std::string serve_admin(const AdminRequest& r, int fd);
  void accept_admin();
  void on_admin(int fd);
  void admin_closed(int fd);
  // --- views (daemon_view.cc)
  [[nodiscard]] ProxySnapshot snapshot() const;
  [[nodiscard]] std::string zones_table() const;
  void update_windows();
  // --- the GPU's NVML and the metrics endpoint (daemon_metrics.cc)
  [[nodiscard]] bool start_monitoring();
  void publish_metrics();
  void stamp_driver_version(ZonePage& page) const;

  DaemonOptions opts_;
  std::string driver_;
  std::optional<DriverFacts> facts_;  // the driver probe's answer (none: unknown GPU size, no overhead charged)
  idm::UniqueFd zone_listen_, admin_listen_, signals_;
  std::map<std::string, std::unique_ptr<Zone>> zones_;  // by name
  std::map<pid_t, std::unique_ptr<Program>> programs_;  // by worker pid
  std::map<int, idm::UniqueFd> admins_;
  std::set<int> refused_admins_;  // admin connections of peers that are not operators: answered once, then closed
  std::map<std::string, idm::UniqueFd> bound_listen_;  // create-bound zones' own sockets, by zone name
  uint32_t next_id_ = 1;
  bool stopping_ = false;
  uint64_t refused_connections_ = 0;
  TimeSlicer slicer_;
  std::unique_ptr<HostNvml> nvml_;          // the driver domain's NVML (--driver real only)
  std::unique_ptr<MetricsServer> metrics_;  // --metrics
  std::chrono::steady_clock::time_point metrics_at_;
};

}  // namespace xg::proxy
