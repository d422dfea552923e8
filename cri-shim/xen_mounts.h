// Xen mode's reading of an OCI spec's "mounts", and the mount image that carries a container's bind sources into
// its zone.
//
// A Xen pod's zone shares no filesystem with dom0 (no 9p or virtio-fs for PV guests here): what a container
// needs from the host travels as a block device. So each bind mount's source (a file or a directory tree) is
// COPIED at Create into one read-only EROFS image per container, hot-plugged into the domain beside the rootfs
// image; the zone init mounts it once and binds each entry at its destination (idm::CtlMount). Consequences,
// stated in STATUS.md and the README:
//   - the container sees the source as it was at Create: later changes on the host are not seen;
//   - a mount the spec makes read-write is writable in the container, but writes stay in the zone (an overlay
//     with a tmpfs upper for a directory, a copy on the writable layer for a file) and never reach the host;
//   - an emptyDir-style volume (a read-write bind whose source is an EMPTY directory at Create: what the kubelet
//     hands for an emptyDir) is not copied: it becomes a per-pod directory in the zone (kVolume), named by a hash
//     of the source path, so every container of the pod that mounts the same source shares it, as emptyDir means.
// tmpfs mounts become kTmpfs (size and mode kept). The mounts containerd's CRI always puts in a spec are provided
// by the zone init (kStandardMounts) and skipped. Anything else is refused at Create, naming the mount.
//
// Everything here is input from containerd and the host: bounded (kMaxMounts mounts, kMaxCopyBytes bytes and
// kMaxCopyEntries entries copied), validated, and copied without ever following a symlink out of a source tree
// (a symlink is copied as a symlink) and without writing outside the staging directory in the bundle.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "cri-shim/zone_control.h"

namespace xg::shim {

inline constexpr size_t kMaxMounts = 64;                    // = idm::kMaxCtlMounts
inline constexpr uint64_t kMaxCopyBytes = 256ull << 20;     // regular files' bytes of one container's bind sources
inline constexpr uint64_t kMaxCopyEntries = 65'536;         // files, directories and symlinks of them
inline constexpr uint64_t kMaxTmpfsBytes = uint64_t{1} << 40;

// A bind source to copy into the mount image: `source` on the host, as entry `name` ("0", "1", ...) at the
// image's root.
struct MountCopy {
  std::string source, name;
  bool dir = false;
};
struct SpecMounts {
  std::vector<ZoneMount> mounts;  // for CtlStart, in the spec's order (kImage entries name a MountCopy)
  std::vector<MountCopy> copies;  // empty: no mount image is needed
  std::vector<std::string> skipped;  // the standard mounts left to the zone init, for the log
};

// The standard mounts containerd's CRI (and its default OCI spec) puts in every container's spec, by
// destination and type: the zone init provides /proc, /sys, /dev, /dev/pts and /dev/shm itself; /dev/mqueue
// (mqueue) and /sys/fs/cgroup (cgroup, cgroup2) are NOT provided in a zone (no POSIX message queues mounted, no
// cgroup view inside the container) and are skipped with a log line rather than failing every container.
struct StandardMount {
  const char* destination;
  const char* type;
};
inline constexpr StandardMount kStandardMounts[] = {
    {"/proc", "proc"},      {"/sys", "sysfs"},          {"/dev", "tmpfs"},
    {"/dev/pts", "devpts"}, {"/dev/shm", "tmpfs"},      {"/dev/mqueue", "mqueue"},
    {"/sys/fs/cgroup", "cgroup"}, {"/sys/fs/cgroup", "cgroup2"}};

// The zone mounts of `spec` ("mounts"; absent or null: none). Bind mounts (type "bind", or options with "bind" or
// "rbind"): absolute source that exists (a regular file or a directory; a device, socket or FIFO is refused),
// destination absolute without "." or ".." (made normal: "//" and a trailing '/' dropped). Options: "ro" makes it
// read-only; "rw", "bind", "rbind", propagation and nosuid/nodev/noexec-style flags are accepted (propagation has
// no meaning for a copy). Errors name the mount.
[[nodiscard]] std::variant<SpecMounts, std::string> xen_mounts_for(const nlohmann::json& spec);

// A destination made normal ("/a//b/" -> "/a/b"); nullopt if relative, "/" or with a "." or ".." component.
[[nodiscard]] std::optional<std::string> normal_destination(std::string_view d);
// A tmpfs "size=" value (bytes, or with k/m/g suffix); nullopt if malformed, a percentage, or past
// kMaxTmpfsBytes.
[[nodiscard]] std::optional<uint64_t> tmpfs_size(std::string_view v);
// The per-pod volume name of an emptyDir-style source: "v" + 16 hex digits of a 64-bit FNV-1a of the path.
[[nodiscard]] std::string volume_name(std::string_view source);

// Copies each of `copies` into `stage` (created; must not exist) as stage/<name>: a regular file's bytes and
// mode, a directory tree with its files, directories and symlinks (as symlinks, their targets untouched: never
// followed); owners kept where we may set them. Inside a tree, a device, socket or FIFO is skipped with a log
// line (a volume may hold a socket; it has no meaning in a copy). Bounded by kMaxCopyBytes and kMaxCopyEntries
// (an error beyond). Every file is created with O_EXCL|O_NOFOLLOW under a directory fd of the stage, so nothing
// is written outside it. The error names the source.
[[nodiscard]] std::optional<std::string> stage_mount_copies(const std::vector<MountCopy>& copies,
                                                            const std::string& stage);

}  // namespace xg::shim
