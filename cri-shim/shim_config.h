// The shim's settings: a `key = value` file (default /etc/xen-gpu/shim.conf; containerd's runtime options
// `ConfigPath` or $XEN_GPU_SHIM_CONFIG name another), every key optional.
//   admin_socket   = /run/xen-gpu/admin.sock   gpu-proxy's admin socket (the shim declares each pod's zone there)
//   libvgpu_dir    = /usr/lib/xen-gpu          host directory holding our libcuda.so.1, mounted read-only in pods
//   runc           = runc                      the runc binary
//   runc_root      = /run/xen-gpu/runc         runc's state, one subdirectory per containerd namespace
//   socket_dir     = /run/containerd/s         where the shim's ttrpc sockets go
//   default_memory = 1GiB                      a pod's zone quota without xen-gpu.io/memory
//   default_weight = 1                         its GPU-time weight without xen-gpu.io/weight
// How pods run, and Xen mode's settings (Xen mode: each pod is its own PV domU, see task_service_xen.cc):
//   mode           = auto                      stub: runc containers on the host; xen: a PV domU per pod;
//                                              auto: xen where /proc/xen/capabilities says control_d (dom0)
//   zone_kernel    = /usr/lib/xen-gpu/zone/vmlinuz     the zone's PV kernel (`make kernel`)
//   zone_initramfs = /usr/lib/xen-gpu/zone/initramfs   holds the zone init as /init
//   zone_memory    = 256MiB                    a zone's memory without xen-gpu.io/zone-memory (64MiB..64GiB)
//   zone_vcpus     = 1                         its vCPUs without xen-gpu.io/zone-vcpus (1..64)
//   xl             = xl                        the toolstack's command
//   block_script   = /usr/lib/xen-gpu/xg-block-hotplug  the hotplug script of the zone's rootfs disks
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace xg::shim {

enum class ShimMode : uint8_t { kStub, kXen, kAuto };

// Bounds of a zone's memory and vCPUs (the config's defaults and the pod annotations alike): below 64 MiB the
// zone kernel and init do not come up; above, a typo rather than a plan.
inline constexpr uint64_t kMinZoneMemory = 64ull << 20;
inline constexpr uint64_t kMaxZoneMemory = 64ull << 30;
inline constexpr uint32_t kMaxZoneVcpus = 64;

struct ShimConfig {
  std::string admin_socket = "/run/xen-gpu/admin.sock";
  std::string libvgpu_dir = "/usr/lib/xen-gpu";
  std::string runc = "runc";
  std::string runc_root = "/run/xen-gpu/runc";
  std::string socket_dir = "/run/containerd/s";
  uint64_t default_memory = 1ull << 30;
  uint32_t default_weight = 1;
  ShimMode mode = ShimMode::kAuto;
  std::string zone_kernel = "/usr/lib/xen-gpu/zone/vmlinuz";
  std::string zone_initramfs = "/usr/lib/xen-gpu/zone/initramfs";
  uint64_t zone_memory = 256ull << 20;
  uint32_t zone_vcpus = 1;
  std::string xl = "xl";
  std::string block_script = "/usr/lib/xen-gpu/xg-block-hotplug";
};

// kStub or kXen: `auto` resolved by reading `capabilities` (Xen's /proc/xen/capabilities holds "control_d" in
// dom0 only; absent or otherwise: stub).
[[nodiscard]] ShimMode resolve_mode(ShimMode mode, const std::string& capabilities = "/proc/xen/capabilities");
[[nodiscard]] std::string_view mode_name(ShimMode mode) noexcept;

// A zone's memory or vCPU count, checked against the bounds above; nullopt if out of range or not a number.
[[nodiscard]] std::optional<uint64_t> parse_zone_memory(std::string_view s) noexcept;
[[nodiscard]] std::optional<uint32_t> parse_zone_vcpus(std::string_view s) noexcept;

// Reads `path` over the defaults; false with `error` naming the line if a line does not parse. A missing file
// at the default path is not an error (the defaults apply); a missing file named explicitly is.
[[nodiscard]] bool load_shim_config(const std::string& path, bool must_exist, ShimConfig& cfg, std::string& error);

// Where the config comes from: runtime options' ConfigPath if given, else $XEN_GPU_SHIM_CONFIG, else the default.
[[nodiscard]] bool load_shim_config_for(const std::string& options_config_path, ShimConfig& cfg, std::string& error);

}  // namespace xg::shim
