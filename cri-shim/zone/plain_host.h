// A ProcessHost of plain processes, without namespaces or mounts: a container is a process group (its first
// process leads it, its execs join it), its pids are the group's members. The control server's tests run on
// it; it is also what a zone init would run in a development mode outside Xen. rootfs_disk is ignored, and
// uid/gid (and gids) are applied only when they differ from ours. Given a cgroup tree, each container gets a
// cgroup as in a zone (tests mount a private cgroup2 for it); rlimits, capabilities, no_new_privs and
// oom_score_adj are applied as the zone applies them. A container with mounts (CtlStart's list) is refused
// (ENOTSUP): they need the ContainerHost's mount namespace.
#pragma once

#include "cri-shim/zone/cgroups.h"
#include "cri-shim/zone/process_host.h"

namespace xg::zone {

class PlainHost final : public CgroupHost {
 public:
  explicit PlainHost(ZoneCgroups* cgroups = nullptr) : CgroupHost(cgroups) {}
  [[nodiscard]] int start(const StartRequest& req, Spawned& out) override;
  [[nodiscard]] int signal_all(pid_t container_pid, int sig) override;
  [[nodiscard]] int pids(pid_t container_pid, std::vector<uint32_t>& out) override;
};

}  // namespace xg::zone
