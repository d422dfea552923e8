// The OCI bundle containerd hands us: its config.json (read, and for pod containers extended with the zone's
// mounts and environment) and its root filesystem (containerd's mounts, mounted on <bundle>/rootfs).
// Everything the shim adds is written into the bundle, so cleanup after a crash can read it back.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace xg::shim {

// Where a pod's containers find the zone: our libcuda.so.1 and the zone's socket, both mounted read-only.
inline constexpr const char* kContainerLibDir = "/usr/lib/xen-gpu";
inline constexpr const char* kContainerZoneSocket = "/run/xen-gpu/zone.sock";

// config.json of `bundle`; nullopt with `error` if unreadable or not an object. Bounded: a spec larger than
// 4 MiB is refused (containerd writes tens of KiB).
[[nodiscard]] std::optional<nlohmann::json> read_spec(const std::string& bundle, std::string& error);
// Replaces config.json atomically (a temporary file renamed over it).
[[nodiscard]] bool write_spec(const std::string& bundle, const nlohmann::json& spec, std::string& error);
// The spec's annotations (string values only).
[[nodiscard]] std::map<std::string, std::string> spec_annotations(const nlohmann::json& spec);
// Mounts our libcuda.so.1 directory and the zone's socket read-only into the container, and sets
// LD_LIBRARY_PATH (ours first), XEN_GPU_SOCKET and XEN_GPU_ZONE in its process's environment.
void add_zone_to_spec(nlohmann::json& spec, const std::string& libvgpu_dir, const std::string& zone_socket,
                      const std::string& zone_name);
// The environment part of the above, for one process (an exec's process spec comes from containerd, not from
// the bundle's config.json, so it needs the same variables).
void add_zone_env(nlohmann::json& process, const std::string& zone_name);
// The zone a container was given (XEN_GPU_ZONE in its spec's environment), if any.
[[nodiscard]] std::optional<std::string> spec_zone(const nlohmann::json& spec);

struct RootfsMount {
  std::string type, source;
  std::vector<std::string> options;
};
// Mounts containerd's rootfs mounts on <bundle>/rootfs in order.
[[nodiscard]] bool mount_rootfs(const std::string& bundle, const std::vector<RootfsMount>& mounts, std::string& error);
// Unmounts whatever is on <bundle>/rootfs (all layers; nothing if nothing is mounted).
void unmount_rootfs(const std::string& bundle);

}  // namespace xg::shim
