// A container's mounts from CtlStart (idm::CtlMount), made inside its root before it pivots.
//
// prepare_mounts() runs in the zone init (it may allocate): it checks the list again (the shim is not trusted
// more than any caller), makes each per-pod volume directory (kVolume: <volumes>/<name>, shared by the pod's
// containers; the setup binds it by path, so it must not lie under `scratch`), and lays the strings out.
// apply_mounts() runs in the container's cloned child, in its own mount namespace, after the root overlay is
// mounted: system calls only (spawn.h). It mounts the mount image once, read-only, then for each entry:
//   resolves the destination inside the root (openat2 RESOLVE_IN_ROOT: a symlink on the way, or the destination
//     itself, is followed as if the root were "/", so it can never lead out), creating what is missing on the
//     writable layer (directories, then the mount point: a file or a directory, as the entry says);
//   kImage read-only: a bind of <image>/<source>, remounted read-only;
//   kImage read-write, a directory: an overlay of <image>/<source> under a tmpfs upper (writes stay in the zone);
//   kImage read-write, a file: a copy of it onto the writable layer (writes stay in the zone);
//   kVolume: a bind of the volume directory (read-only if asked);
//   kTmpfs: a fresh tmpfs with the entry's size and mode.
// Every mount is nosuid and nodev.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "idm/messages_zonectl.h"
#include "idm/unique_fd.h"

namespace xg::zone {

struct MountPlan {
  struct Entry {
    uint32_t kind = 0;  // idm::CtlMountKind
    bool ro = false, dir = false;
    std::string dest;        // relative to the container's root ("etc/hosts")
    std::string src;         // kImage: the entry's path inside the image; kVolume: the volume directory
    std::string data;        // kTmpfs: "size=..,mode=.."; kImage rw directory: the overlay's options
    std::string upper, work;  // kImage rw directory: on the container's scratch tmpfs
  };
  std::string image_disk;  // the mount image's block device; empty: image_mnt is already there (tests)
  std::string image_mnt;   // where the image is mounted (on the scratch tmpfs); empty: no kImage entry
  std::string fstype = "erofs";
  long disk_wait_ms = 0;
  std::vector<Entry> entries;
};

// The plan for `mounts` (mounts_disk: the image's disk index). `disk_prefix` + 'a' + mounts_disk is the image's
// device; `scratch` the container's private tmpfs (image mount point, overlay upper dirs); `volumes` the zone's
// per-pod volume directory. 0 or an errno (EINVAL for a list that fails the checks).
struct MountPaths {
  std::string disk_prefix = "/dev/xvd";
  std::string disk_override;  // a fixed device for the image (manual tests)
  std::string scratch;
  std::string volumes = "/var/lib/xg-volumes";  // never under scratch (see prepare_mounts)
  long disk_wait_ms = 7'000;
};
[[nodiscard]] int prepare_mounts(const std::vector<idm::CtlMountEntry>& mounts, uint32_t mounts_disk,
                                 const MountPaths& paths, MountPlan& out);

// Makes `plan`'s mounts under `root` (an absolute path, the container's new root). 0 or an errno; *failed is
// the index of the entry that failed (-1: the image). System calls only: safe in a cloned child.
[[nodiscard]] int apply_mounts(const MountPlan& plan, const char* root, int* failed) noexcept;

// Waits up to `wait_ms` for the block device `path` to appear (a hot-plugged disk): 0, ENOTBLK, ENODEV. System
// calls only (the container's setup uses it too, for its rootfs disk).
[[nodiscard]] int wait_block(const char* path, long wait_ms) noexcept;

}  // namespace xg::zone
