// The shim's settings: a `key = value` file (default /etc/xen-gpu/shim.conf; containerd's runtime options
// `ConfigPath` or $XEN_GPU_SHIM_CONFIG name another), every key optional.
//   admin_socket   = /run/xen-gpu/admin.sock   gpu-proxy's admin socket (the shim declares each pod's zone there)
//   libvgpu_dir    = /usr/lib/xen-gpu          host directory holding our libcuda.so.1, mounted read-only in pods
//   runc           = runc                      the runc binary
//   runc_root      = /run/xen-gpu/runc         runc's state, one subdirectory per containerd namespace
//   socket_dir     = /run/containerd/s         where the shim's ttrpc sockets go
//   default_memory = 1GiB                      a pod's zone quota without xen-gpu.io/memory
//   default_weight = 1                         its GPU-time weight without xen-gpu.io/weight
#pragma once

#include <cstdint>
#include <string>

namespace xg::shim {

struct ShimConfig {
  std::string admin_socket = "/run/xen-gpu/admin.sock";
  std::string libvgpu_dir = "/usr/lib/xen-gpu";
  std::string runc = "runc";
  std::string runc_root = "/run/xen-gpu/runc";
  std::string socket_dir = "/run/containerd/s";
  uint64_t default_memory = 1ull << 30;
  uint32_t default_weight = 1;
};

// Reads `path` over the defaults; false with `error` naming the line if a line does not parse. A missing file
// at the default path is not an error (the defaults apply); a missing file named explicitly is.
[[nodiscard]] bool load_shim_config(const std::string& path, bool must_exist, ShimConfig& cfg, std::string& error);

// Where the config comes from: runtime options' ConfigPath if given, else $XEN_GPU_SHIM_CONFIG, else the default.
[[nodiscard]] bool load_shim_config_for(const std::string& options_config_path, ShimConfig& cfg, std::string& error);

}  // namespace xg::shim
