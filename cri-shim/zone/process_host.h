// The zone init's processes, behind one interface so that the control server (zone_ctl_server.h) is tested with
// plain host processes (plain_host.h) and runs containers in the zone (container.h). Errors are errno values.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "idm/messages_zonectl.h"
#include "idm/unique_fd.h"

namespace xg::zone {

// One CtlStart, validated. `strings` views the server's private copy of the request.
struct StartRequest {
  uint32_t proc_id = 0;
  pid_t container_pid = 0;      // an exec: the container's first process (0 for a container)
  uint32_t container_proc = 0;  // an exec: the container's proc_id (its cgroup)
  uint32_t rootfs_disk = 0;
  uint32_t mounts_disk = 0;  // the mount image's disk, with a kImage mount in strings->mounts
  uint32_t uid = 0, gid = 0;
  bool stdin_pipe = false;
  bool terminal = false;  // stdio on a pseudo-terminal (kCtlStartTerminal)
  bool no_new_privs = false;
  bool set_caps = false;
  idm::CtlCaps caps{};
  std::optional<int> oom_score_adj;
  idm::CtlResources resources{};  // a container's cgroup limits
  // The seccomp program installed on the process (a container's own, or for an exec its container's); empty: none.
  std::span<const idm::CtlFilterInsn> filter;
  uint32_t filter_flags = 0;  // idm::CtlFilterFlags
  const idm::CtlStartStrings* strings = nullptr;  // also the gids and rlimits
};

// What start() hands over: the pid (in the zone init's PID namespace) and our ends of the child's pipes
// (stdin: invalid unless asked for). With a terminal, `out` is its master (all the process writes), `in` a copy
// of it (when stdin was asked for), `err` invalid, and `tty` another copy, for the window size.
struct Spawned {
  pid_t pid = -1;
  idm::UniqueFd in, out, err, tty;
};

// How long a freeze may take before CtlFreeze answers ETIMEDOUT (well inside the shim's 10 s call bound).
inline constexpr std::chrono::milliseconds kFreezeWait{3'000};

class ProcessHost {
 public:
  virtual ~ProcessHost() = default;
  // Starts the process; 0 or an errno. A failure before exec is reported here, never as an exit. The caller
  // holds the reaper off, so the child cannot be reaped before it is recorded; start() itself must not wait for
  // any process other than helpers of its own.
  [[nodiscard]] virtual int start(const StartRequest& req, Spawned& out) = 0;
  // `sig` to every process of the container whose first process is `container_pid`; 0 or an errno.
  [[nodiscard]] virtual int signal_all(pid_t container_pid, int sig) = 0;
  // The pids (zone init's namespace) of every process of that container.
  [[nodiscard]] virtual int pids(pid_t container_pid, std::vector<uint32_t>& out) = 0;
  // Changes container `proc_id`'s cgroup limits (CtlUpdate); 0 or an errno (ENOENT: it has no cgroup).
  [[nodiscard]] virtual int update(uint32_t proc_id, const idm::CtlResources& r, uint32_t unlimit) = 0;
  // Freezes (true) or thaws container `proc_id` (CtlFreeze); 0 or an errno.
  [[nodiscard]] virtual int freeze(uint32_t proc_id, bool frozen) = 0;
  // Container `proc_id`'s cgroup figures; 0 or an errno (ENOENT: it has no cgroup).
  [[nodiscard]] virtual int stats(uint32_t proc_id, idm::CtlStatsRsp& out) = 0;
  // Container `proc_id`'s first process was reaped, or the container was removed: its cgroup can go. May be
  // called from the supervisor's reaper, with the supervisor's lock held: must not call into it.
  virtual void container_gone(uint32_t proc_id) = 0;
};

}  // namespace xg::zone
