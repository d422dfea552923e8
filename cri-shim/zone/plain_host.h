// A ProcessHost of plain processes, without namespaces or mounts: a container is a process group (its first
// process leads it, its execs join it), its pids are the group's members. The control server's tests run on
// it; it is also what a zone init would run in a development mode outside Xen. rootfs_disk is ignored, and
// uid/gid are applied only when they differ from ours.
#pragma once

#include "cri-shim/zone/process_host.h"

namespace xg::zone {

class PlainHost final : public ProcessHost {
 public:
  [[nodiscard]] int start(const StartRequest& req, Spawned& out) override;
  [[nodiscard]] int signal_all(pid_t container_pid, int sig) override;
  [[nodiscard]] int pids(pid_t container_pid, std::vector<uint32_t>& out) override;
};

}  // namespace xg::zone
