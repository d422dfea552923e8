// A container's cgroup figures for the Stats call (cgroup v1: io.containerd.cgroups.v1.Metrics, what
// containerd's CRI plugin and `ctr tasks metrics` read). Read from the cgroup files of the container's init.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

namespace xg::shim {

// The Any (type URL and bytes) for `pid`'s cgroups, or nullopt with `error` (cgroup v2 is not read yet).
struct StatsAny {
  std::string type_url, value;
};
[[nodiscard]] std::optional<StatsAny> cgroup_stats(pid_t pid, std::string& error);

}  // namespace xg::shim
