// Xen mode's reading of what containerd hands the shim: the pod's annotations and the shim config give the
// domain (XenPodSpec), an OCI process (a container's config.json "process", or an exec's process spec) gives
// what the zone init starts (ZoneStart). Pure functions, no Xen: unit-tested in shim_test.cc.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "cri-shim/shim_config.h"
#include "cri-shim/xen_pod.h"
#include "cri-shim/zone_control.h"

namespace xg::shim {

// Per-pod overrides of the config's zone_memory / zone_vcpus (same bounds; an error names the annotation).
inline constexpr const char* kAnnotationZoneMemory = "xen-gpu.io/zone-memory";
inline constexpr const char* kAnnotationZoneVcpus = "xen-gpu.io/zone-vcpus";

// The domain of the pod whose sandbox has `annotations`, named `name` (the pod's zone name), its files in
// `workdir` (the sandbox's bundle).
[[nodiscard]] std::variant<XenPodSpec, std::string> xen_pod_spec_for(
    const std::map<std::string, std::string>& annotations, const std::string& name, const ShimConfig& cfg,
    const std::string& workdir);

// `obj[key]` if it is a string, else "" (never throws: a spec is input, and nothing may throw across ttrpc).
[[nodiscard]] std::string json_string(const nlohmann::json& obj, const char* key);

// Where libvgpu sits in a zone (the zone image's copy), first on LD_LIBRARY_PATH.
inline constexpr const char* kZoneLibDir = "/usr/lib/xen-gpu";

// The ZoneStart for OCI `process` (args, env, cwd, user.uid/gid/additionalGids, rlimits, capabilities,
// noNewPrivileges, oomScoreAdj), with the zone's environment added (LD_LIBRARY_PATH with kZoneLibDir first,
// XEN_GPU_TRANSPORT=xen, XEN_GPU_ZONE=zone). proc_id, container_proc, rootfs_disk, id, stdin_open and resources
// are the caller's. The error says what the spec lacks or what Xen mode cannot do (a terminal). As under runc: a
// process without a capabilities object gets none; a capability name this shim does not know is ignored (logged);
// an unknown rlimit type, a repeated one, or soft above hard is an error.
[[nodiscard]] std::variant<ZoneStart, std::string> zone_start_for(const nlohmann::json& process,
                                                                  const std::string& hostname,
                                                                  const std::string& zone);

// A container's cgroup limits from the spec's linux.resources: memory.limit -> memory.max, cpu.quota/period ->
// cpu.max, cpu.shares -> cpu.weight (runc's conversion), pids.limit -> pids.max. What a zone cannot do is an
// error naming the field (cpuset cpus/mems, realtime CPU, memory reservation/swappiness/disableOOMKiller,
// blockIO, non-zero hugepage limits, network, rdma, unified). Ignored, as runc on cgroup v2 ignores them or
// because a zone has nothing to limit: memory.swap (a zone has no swap), memory.kernel/kernelTCP, devices (the
// container's /dev is the zone init's own short list; no device cgroup).
[[nodiscard]] std::variant<idm::CtlResources, std::string> zone_resources_for(const nlohmann::json& spec);
// An Update's resources (containerd's JSON of an OCI LinuxResources) as a CtlUpdate: the limits as above (the same
// refusals), and -1 for memory.limit, cpu.quota or pids.limit lifts that limit (idm::CtlUnlimit); fields the
// update leaves out stay as they are.
struct ZoneUpdate {
  idm::CtlResources resources{};
  uint32_t unlimit = 0;
};
[[nodiscard]] std::variant<ZoneUpdate, std::string> zone_update_for(const nlohmann::json& resources);
// `u` applied to CtlStart's limits of a container not started yet, as the zone applies it to a running one's
// cgroup: a set field replaces, a lifted one becomes 0 ("not limited" at start), the rest stays.
void apply_update(idm::CtlResources& limits, const ZoneUpdate& u);

// Capability and rlimit names (OCI's "CAP_CHOWN", "RLIMIT_NOFILE") to their numbers; nullopt if unknown.
[[nodiscard]] std::optional<uint32_t> capability_number(std::string_view name);
[[nodiscard]] std::optional<uint32_t> rlimit_number(std::string_view name);
// runc's cpu.shares -> cpu.weight: 1 + (shares - 2) * 9999 / 262142, shares clamped to 2..262144.
[[nodiscard]] uint32_t cpu_weight_from_shares(uint64_t shares);

}  // namespace xg::shim
