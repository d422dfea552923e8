// The zone's cgroup v2 tree: one cgroup per container, with the limits the shim forwarded (CtlStart's
// `resources`), and the figures CtlStats reads back.
//
// The zone init mounts cgroup2 at the root (/sys/fs/cgroup) where nothing is mounted there yet, and enables in the
// root's cgroup.subtree_control whichever of cpu, memory, pids and io the kernel offers (cgroup.controllers). A
// container's cgroup is "<root>/ctr-<id>" (the id was validated: [A-Za-z0-9._-]{1,64}; the prefix keeps "." and
// ".." and the interface files' names out of reach). Its first process joins it before exec by writing "0" to the
// cgroup's cgroup.procs through a descriptor opened here (spawn.h: SpawnPlan::cgroup_procs); an exec joins the
// same one. The cgroup is removed once its container's first process is reaped (its PID namespace, and so every
// process of the container, is gone then), or at CtlRemove if something still held it.
//
// A controller the kernel lacks, or a limit file missing or refused, is logged and skipped: never fatal to the
// container. Thread-safe (starts on the server thread, removal also from the supervisor's reaper).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cri-shim/zone/process_host.h"
#include "idm/messages_zonectl.h"
#include "idm/unique_fd.h"

namespace xg::zone {

struct CgroupOptions {
  std::string root = "/sys/fs/cgroup";  // a cgroup v2 directory: the mount itself, or one below it (tests)
  bool mount = true;                    // mount cgroup2 at `root` when it is not a cgroup2 mount yet
};

// The (file, value) writes that apply `r` in a container's cgroup, in order. Pure: unit-tested.
[[nodiscard]] std::vector<std::pair<std::string, std::string>> cgroup_limit_writes(const idm::CtlResources& r);
// The writes of a CtlUpdate: `r`'s as above, then "max" for each lifted limit (idm::CtlUnlimit bits).
[[nodiscard]] std::vector<std::pair<std::string, std::string>> cgroup_update_writes(const idm::CtlResources& r,
                                                                                   uint32_t unlimit);
// Parsers of the files CtlStats reads (pure, tested on sample text): each fills its part of `out` and sets the
// group's bit in out.present only when the text had what the group needs.
void parse_cpu_stat(std::string_view text, idm::CtlStatsRsp& out);
void parse_memory_stat(std::string_view text, idm::CtlStatsRsp& out);    // memory.stat
void parse_memory_events(std::string_view text, idm::CtlStatsRsp& out);  // memory.events
void parse_io_stat(std::string_view text, idm::CtlStatsRsp& out);         // io.stat, summed over devices
// A single-value file: a number, or "max" (kCtlUnlimited); nullopt for anything else.
[[nodiscard]] std::optional<uint64_t> parse_cgroup_value(std::string_view text);

class ZoneCgroups {
 public:
  explicit ZoneCgroups(CgroupOptions options = {});
  ZoneCgroups(const ZoneCgroups&) = delete;
  ZoneCgroups& operator=(const ZoneCgroups&) = delete;
  // False when there is no cgroup v2 tree to use (then containers run without cgroups: logged once).
  [[nodiscard]] bool ok() const noexcept { return ok_; }
  [[nodiscard]] const std::string& root() const noexcept { return opt_.root; }
  [[nodiscard]] std::vector<std::string> enabled() const { return enabled_; }

  // Makes container `proc_id`'s cgroup (named after `id`), applies `r`, and opens its cgroup.procs for the
  // child. 0 or an errno (EEXIST: the name is taken). Without a tree: 0 and an invalid fd.
  [[nodiscard]] int create(uint32_t proc_id, std::string_view id, const idm::CtlResources& r, idm::UniqueFd& procs);
  // cgroup.procs of container `container_proc`'s cgroup, for an exec. 0 (invalid fd where it has none) or errno;
  // EBUSY while the container is frozen (the exec would be frozen before it could exec).
  [[nodiscard]] int join(uint32_t container_proc, idm::UniqueFd& procs);
  // Changes container `proc_id`'s limits (cgroup_update_writes). Unlike at creation, a write the kernel refuses
  // fails the update with its errno (ENOENT: a controller this zone lacks): the caller asked for that change.
  // ENOENT also when the container has no cgroup, ENOTSUP without a cgroup v2 tree.
  [[nodiscard]] int update(uint32_t proc_id, const idm::CtlResources& r, uint32_t unlimit);
  // Freezes or thaws the container's cgroup (cgroup.freeze) and waits, at most `wait`, until cgroup.events says
  // so. ENOENT: no cgroup for it; ENOTSUP: no tree; ETIMEDOUT: the kernel did not get there in time (a freeze
  // that times out is undone: the container is thawed again, as runc does).
  [[nodiscard]] int freeze(uint32_t proc_id, bool frozen, std::chrono::milliseconds wait);
  // Removes the container's cgroup; kept (and logged) while it still holds processes. Idempotent.
  void release(uint32_t proc_id);
  // The container's figures. ENOENT: no cgroup for it; ENOTSUP: no cgroup v2 tree in this zone.
  [[nodiscard]] int stats(uint32_t proc_id, idm::CtlStatsRsp& out);
  // The directory of a container's cgroup ("" if none): tests.
  [[nodiscard]] std::string path_of(uint32_t proc_id);

 private:
  CgroupOptions opt_;
  bool ok_ = false;
  std::vector<std::string> enabled_;
  std::mutex mu_;
  std::map<uint32_t, std::string> dirs_;  // container proc_id -> its cgroup's directory
  std::set<uint32_t> frozen_;             // containers frozen by freeze(): no exec may join them
};

// For a host's start(): the cgroup.procs descriptor `req`'s process joins (a container: its new cgroup; an exec:
// its container's). 0 with an invalid fd where there is no tree (`cgroups` null, or no cgroup v2).
[[nodiscard]] int cgroup_for_start(ZoneCgroups* cgroups, const StartRequest& req, idm::UniqueFd& procs);

// The cgroup half of a ProcessHost, the same for every host: each call goes to the zone's tree (`cgroups`, which
// may be null: then ENOTSUP, and nothing to release). The hosts add how processes start, are signalled, listed.
class CgroupHost : public ProcessHost {
 public:
  explicit CgroupHost(ZoneCgroups* cgroups) : cgroups_(cgroups) {}
  [[nodiscard]] int update(uint32_t proc_id, const idm::CtlResources& r, uint32_t unlimit) final;
  [[nodiscard]] int freeze(uint32_t proc_id, bool frozen) final;
  [[nodiscard]] int stats(uint32_t proc_id, idm::CtlStatsRsp& out) final;
  void container_gone(uint32_t proc_id) final;

 protected:
  ZoneCgroups* const cgroups_;
};

}  // namespace xg::zone
