// The zone's real ProcessHost: containers in their own mount, PID and UTS namespaces.
//
// A container's first process is cloned into new namespaces and becomes PID 1 of its PID namespace. Before it
// execs, it builds its root inside its own mount namespace (so nothing is left to clean up in the zone's):
//   the image: the read-only EROFS disk /dev/xvd<'a'+rootfs_disk> (hot-plugged by the shim just before
//     CtlStart: waited for, bounded), mounted ro;
//   the writable layer: an overlay whose upper and work dirs are on a tmpfs (the zone's memory);
//   proc, sysfs (ro), a tmpfs /dev with the usual nodes, devpts and /dev/shm, and binds of /dev/xen/{xenbus,
//     gntdev,gntalloc,evtchn} (libvgpu in the container reaches gpu-proxy over Xen through them);
//   /opt/xen-gpu/lib bound read-only onto /usr/lib/xen-gpu when the zone has it (our libcuda.so.1);
//   the spec's mounts (CtlStart's list, mounts.h): the mount image's entries, the pod's volumes, tmpfs mounts;
//   the hostname; pivot_root (or, where the zone's root is the initramfs, which cannot be pivoted, a move of the
//     new root onto / and chroot, as runc's no_pivot_root does); then cwd, ids, exec (spawn.h).
// An exec joins a running container's namespaces (setns on /proc/<pid>/ns/{pid,uts,mnt}, then a second fork so
// that it is inside the PID namespace) and runs the same common steps.
//
// The zone is the isolation boundary (a Xen guest per pod): these namespaces keep a pod's containers apart
// from each other and from the zone init's view, not from a hostile kernel user.
#pragma once

#include <chrono>
#include <string>

#include "cri-shim/zone/cgroups.h"
#include "cri-shim/zone/process_host.h"

namespace xg::zone {

struct ContainerOptions {
  std::string disk_prefix = "/dev/xvd";  // + 'a' + rootfs_disk
  std::string disk_override;             // a fixed block device for every container (manual tests: a loop device)
  std::string rootfs_type = "erofs";
  // Bounded so that a disk that never appears is answered ENODEV inside the shim's 10 s call timeout
  // (ZoneControl::kDefaultCallTimeout), mounting included.
  std::chrono::milliseconds disk_wait{7'000};
  std::string gpu_lib_dir = "/opt/xen-gpu/lib";
  std::string scratch = "/run";  // where each container's mount namespace puts its private tmpfs
  // The pod's emptyDir-style volumes (kVolume mounts, mounts.h): directories of the zone's own namespace, in the
  // zone's memory like the rest of its root. Not under `scratch`: the container's own tmpfs there would hide them
  // from its setup, which binds them by path (a bind from an fd opened in the zone's namespace is refused).
  std::string volumes = "/var/lib/xg-volumes";
  ZoneCgroups* cgroups = nullptr;  // a cgroup per container (cgroups.h); none without
};

class ContainerHost final : public CgroupHost {
 public:
  // Makes us a child subreaper (an exec's process is reparented to us when its first fork exits; PID 1 is one
  // anyway).
  explicit ContainerHost(ContainerOptions options = {});
  [[nodiscard]] int start(const StartRequest& req, Spawned& out) override;
  [[nodiscard]] int signal_all(pid_t container_pid, int sig) override;
  [[nodiscard]] int pids(pid_t container_pid, std::vector<uint32_t>& out) override;

 private:
  ContainerOptions opt_;
};

}  // namespace xg::zone
