#include "cri-shim/zone/container.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "cri-shim/zone/mounts.h"
#include "cri-shim/zone/spawn.h"
#include "idm/log.h"

namespace xg::zone {
namespace {

// The container setup's steps, reported as stage SpawnStage::kSetup + step when one fails.
enum Step : int32_t {
  kPrivate = 1,  // make our copy of the zone's mounts private
  kDisk,         // the rootfs disk did not appear in time
  kScratch,      // the tmpfs for the writable layer
  kImage,        // mounting the read-only image
  kOverlay,
  kProc,
  kSys,
  kCgroupfs,  // the container's own cgroup namespace and its cgroup2 at /sys/fs/cgroup
  kDev,
  kDevNodes,
  kPts,
  kShm,
  kMqueue,
  kXenNodes,
  kGpuLib,
  kMounts,  // the spec's mounts (mounts.h)
  kHostname,
  kRoot,  // pivot_root / move + chroot
};
const char* step_name(int32_t step) {
  static constexpr const char* names[] = {"?", "private mounts", "waiting for the rootfs disk", "scratch tmpfs",
                                          "mounting the image", "overlay", "proc", "sysfs", "cgroupfs", "/dev tmpfs",
                                          "/dev nodes", "devpts", "/dev/shm", "/dev/mqueue", "/dev/xen binds",
                                          "GPU library bind", "the spec's mounts", "hostname",
                                          "pivot_root"};
  return step > 0 && step < static_cast<int32_t>(std::size(names)) ? names[step] : "?";
}

constexpr std::array<const char*, 4> kXenDevices = {"xenbus", "gntdev", "gntalloc", "evtchn"};

// Everything the child's setup needs, as strings made before the clone (the child only reads them).
struct Setup {
  std::string disk, fstype, hostname;
  std::string scratch, lower, upper, work, root, overlay_opts;
  std::string proc, sys, cgroupfs, dev, pts, shm, mqueue, ptmx, xen_dir, gpu_src, gpu_dst;
  bool cgroup_ns = false;  // the container has a cgroup of its own (joined before this setup runs)
  std::array<std::string, 4> xen_src, xen_dst;
  std::array<bool, 4> xen_present{};
  bool gpu_lib = false;
  long disk_wait_ms = 0;
  MountPlan mounts;
};

int make_node(const std::string& dev, const char* name, unsigned maj, unsigned min) noexcept {
  char path[512];
  const int n = std::snprintf(path, sizeof path, "%s/%s", dev.c_str(), name);  // snprintf: no allocation
  if (n < 0 || static_cast<size_t>(n) >= sizeof path) return ENAMETOOLONG;
  return ::mknod(path, S_IFCHR | 0666, makedev(maj, min)) == 0 || errno == EEXIST ? 0 : errno;
}

int symlink_in(const std::string& dev, const char* target, const char* name) noexcept {
  char path[512];
  const int n = std::snprintf(path, sizeof path, "%s/%s", dev.c_str(), name);
  if (n < 0 || static_cast<size_t>(n) >= sizeof path) return ENAMETOOLONG;
  return ::symlink(target, path) == 0 || errno == EEXIST ? 0 : errno;
}

// Runs in the cloned child: PID 1 of the new PID namespace, in its own mount and UTS namespaces. System calls
// only (spawn.h).
int setup_container(const void* ctx, int32_t* step) {
  const Setup& s = *static_cast<const Setup*>(ctx);
#define XG_STEP(st, expr)     \
  do {                        \
    *step = (st);             \
    if (int e_ = (expr); e_) return e_; \
  } while (0)
  auto sys = [](int r) { return r == 0 ? 0 : errno; };
  // Nothing we mount may propagate back into the zone's namespace.
  XG_STEP(kPrivate, sys(::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr)));
  XG_STEP(kDisk, wait_block(s.disk.c_str(), s.disk_wait_ms));
  XG_STEP(kScratch, mkdir_p(s.scratch.c_str(), 0755));
  XG_STEP(kScratch, sys(::mount("tmpfs", s.scratch.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")));
  for (const auto* d : {&s.lower, &s.upper, &s.work, &s.root}) XG_STEP(kScratch, mkdir_p(d->c_str(), 0755));
  XG_STEP(kImage, sys(::mount(s.disk.c_str(), s.lower.c_str(), s.fstype.c_str(), MS_RDONLY, nullptr)));
  XG_STEP(kOverlay, sys(::mount("overlay", s.root.c_str(), "overlay", 0, s.overlay_opts.c_str())));

  XG_STEP(kProc, mkdir_p(s.proc.c_str(), 0555));
  XG_STEP(kProc, sys(::mount("proc", s.proc.c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr)));
  XG_STEP(kSys, mkdir_p(s.sys.c_str(), 0555));
  XG_STEP(kSys, sys(::mount("sysfs", s.sys.c_str(), "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr)));
  if (s.cgroup_ns) {
    // As runc does: the container's cgroup (joined first, spawn.cc) becomes the root of a cgroup namespace of its
    // own, and its cgroup2 is mounted read-only at /sys/fs/cgroup, so the container reads its own limits there
    // (memory.max, cpu.max: what JVMs and Go runtimes size themselves by) and sees nothing of the zone's tree.
    XG_STEP(kCgroupfs, sys(::unshare(CLONE_NEWCGROUP)));
    XG_STEP(kCgroupfs, sys(::mount("cgroup2", s.cgroupfs.c_str(), "cgroup2", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                                   nullptr)));
  }
  XG_STEP(kDev, mkdir_p(s.dev.c_str(), 0755));
  XG_STEP(kDev, sys(::mount("tmpfs", s.dev.c_str(), "tmpfs", MS_NOSUID, "mode=0755,size=65536k")));
  // The nodes every OCI runtime provides (runtime-spec "Default Devices").
  XG_STEP(kDevNodes, make_node(s.dev, "null", 1, 3));
  XG_STEP(kDevNodes, make_node(s.dev, "zero", 1, 5));
  XG_STEP(kDevNodes, make_node(s.dev, "full", 1, 7));
  XG_STEP(kDevNodes, make_node(s.dev, "random", 1, 8));
  XG_STEP(kDevNodes, make_node(s.dev, "urandom", 1, 9));
  XG_STEP(kDevNodes, make_node(s.dev, "tty", 5, 0));
  XG_STEP(kDevNodes, symlink_in(s.dev, "/proc/self/fd", "fd"));
  XG_STEP(kDevNodes, symlink_in(s.dev, "/proc/self/fd/0", "stdin"));
  XG_STEP(kDevNodes, symlink_in(s.dev, "/proc/self/fd/1", "stdout"));
  XG_STEP(kDevNodes, symlink_in(s.dev, "/proc/self/fd/2", "stderr"));
  XG_STEP(kPts, mkdir_p(s.pts.c_str(), 0755));
  XG_STEP(kPts, sys(::mount("devpts", s.pts.c_str(), "devpts", MS_NOSUID | MS_NOEXEC,
                            "newinstance,ptmxmode=0666,mode=0620")));
  XG_STEP(kPts, symlink_in(s.dev, "pts/ptmx", "ptmx"));
  XG_STEP(kShm, mkdir_p(s.shm.c_str(), 01777));
  XG_STEP(kShm, sys(::mount("shm", s.shm.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=65536k")));
  // POSIX message queues, as every OCI runtime mounts them (the queues are the zone's IPC namespace: the pod's,
  // as CRI shares one per pod). A zone kernel without them (ENODEV) just has none.
  XG_STEP(kMqueue, mkdir_p(s.mqueue.c_str(), 01777));
  if (::mount("mqueue", s.mqueue.c_str(), "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0 && errno != ENODEV) {
    *step = kMqueue;
    return errno;
  }
  for (size_t i = 0; i < kXenDevices.size(); ++i) {
    if (!s.xen_present[i]) continue;
    XG_STEP(kXenNodes, mkdir_p(s.xen_dir.c_str(), 0755));
    const int fd = ::open(s.xen_dst[i].c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);  // a bind target
    XG_STEP(kXenNodes, fd < 0 ? errno : (::close(fd), 0));
    XG_STEP(kXenNodes, sys(::mount(s.xen_src[i].c_str(), s.xen_dst[i].c_str(), nullptr, MS_BIND, nullptr)));
  }
  if (s.gpu_lib) {
    XG_STEP(kGpuLib, mkdir_p(s.gpu_dst.c_str(), 0755));
    XG_STEP(kGpuLib, sys(::mount(s.gpu_src.c_str(), s.gpu_dst.c_str(), nullptr, MS_BIND | MS_REC, nullptr)));
    // A bind is writable whatever its flags; read-only takes a remount of the bind itself.
    XG_STEP(kGpuLib, sys(::mount(nullptr, s.gpu_dst.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr)));
  }
  if (!s.mounts.entries.empty()) {
    int failed = -1;
    XG_STEP(kMounts, apply_mounts(s.mounts, s.root.c_str(), &failed));
  }
  if (!s.hostname.empty()) XG_STEP(kHostname, sys(::sethostname(s.hostname.data(), s.hostname.size())));

  XG_STEP(kRoot, sys(::chdir(s.root.c_str())));
  if (::syscall(SYS_pivot_root, ".", ".") == 0) {
    // The old root is now stacked under the new one at "."; detach it so the container cannot reach the zone's.
    XG_STEP(kRoot, sys(::umount2(".", MNT_DETACH)));
  } else if (errno == EINVAL) {
    // The zone's root is the initramfs (rootfs), which cannot be pivoted away: move the new root over it and
    // chroot, as switch_root and runc's no_pivot_root do.
    XG_STEP(kRoot, sys(::mount(".", "/", nullptr, MS_MOVE, nullptr)));
    XG_STEP(kRoot, sys(::chroot(".")));
  } else {
    *step = kRoot;
    return errno;
  }
  XG_STEP(kRoot, sys(::chdir("/")));
#undef XG_STEP
  return 0;
}

bool exists(const std::string& p) { return ::access(p.c_str(), F_OK) == 0; }

// The PID namespace of `pid` (device and inode of /proc/<pid>/ns/pid), or {0, 0}.
std::pair<dev_t, ino_t> pid_ns(const std::string& pid) {
  struct stat st {};
  if (::stat(("/proc/" + pid + "/ns/pid").c_str(), &st) != 0) return {0, 0};
  return {st.st_dev, st.st_ino};
}

// Every process in the PID namespace whose init is `container_pid`.
template <typename Fn>
int for_each_in_container(pid_t container_pid, Fn&& fn) {
  const auto ns = pid_ns(std::to_string(container_pid));
  if (ns.second == 0) return ESRCH;
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir("/proc"), &::closedir);
  if (!d) return errno;
  while (dirent* e = ::readdir(d.get())) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    if (pid_ns(e->d_name) == ns) fn(static_cast<pid_t>(std::strtol(e->d_name, nullptr, 10)));
  }
  return 0;
}

}  // namespace

ContainerHost::ContainerHost(ContainerOptions options) : CgroupHost(options.cgroups), opt_(std::move(options)) {
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) idm::log_errno("PR_SET_CHILD_SUBREAPER");
}

int ContainerHost::start(const StartRequest& req, Spawned& out) {
  SpawnPlan plan = make_plan(req);
  plan.make_cwd = true;
  idm::UniqueFd cgroup;
  if (int e = cgroup_for_start(cgroups_, req, cgroup); e != 0) return e;
  plan.cgroup_procs = cgroup.valid() ? cgroup.get() : -1;
  std::array<idm::UniqueFd, 4> ns_fds;
  std::array<int, 4> ns_raw{};
  Setup s;
  if (req.container_pid) {
    // pid first (it only applies to the next fork), mnt last (it changes what /proc paths would mean).
    constexpr std::array<const char*, 4> kinds = {"pid", "uts", "cgroup", "mnt"};
    for (size_t i = 0; i < kinds.size(); ++i) {
      const std::string p = "/proc/" + std::to_string(req.container_pid) + "/ns/" + kinds[i];
      ns_fds[i].reset(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
      if (!ns_fds[i].valid()) return errno == ENOENT ? ESRCH : errno;
      ns_raw[i] = ns_fds[i].get();
    }
    plan.join_ns = ns_raw;
  } else {
    s.disk = opt_.disk_override.empty() ? opt_.disk_prefix + static_cast<char>('a' + req.rootfs_disk)
                                        : opt_.disk_override;
    s.fstype = opt_.rootfs_type;
    s.hostname = std::string(req.strings->hostname);
    s.scratch = opt_.scratch;
    s.lower = s.scratch + "/lower";
    s.upper = s.scratch + "/rw/upper";
    s.work = s.scratch + "/rw/work";
    s.root = s.scratch + "/root";
    s.overlay_opts = "lowerdir=" + s.lower + ",upperdir=" + s.upper + ",workdir=" + s.work;
    s.proc = s.root + "/proc";
    s.sys = s.root + "/sys";
    s.cgroupfs = s.sys + "/fs/cgroup";
    s.cgroup_ns = cgroup.valid();
    s.dev = s.root + "/dev";
    s.pts = s.dev + "/pts";
    s.shm = s.dev + "/shm";
    s.mqueue = s.dev + "/mqueue";
    s.xen_dir = s.dev + "/xen";
    for (size_t i = 0; i < kXenDevices.size(); ++i) {
      s.xen_src[i] = std::string("/dev/xen/") + kXenDevices[i];
      s.xen_dst[i] = s.xen_dir + "/" + kXenDevices[i];
      s.xen_present[i] = exists(s.xen_src[i]);
    }
    s.gpu_lib = !opt_.gpu_lib_dir.empty() && exists(opt_.gpu_lib_dir);
    s.gpu_src = opt_.gpu_lib_dir;
    s.gpu_dst = s.root + "/usr/lib/xen-gpu";
    s.disk_wait_ms = static_cast<long>(opt_.disk_wait.count());
    MountPaths mp;
    mp.disk_prefix = opt_.disk_prefix;
    mp.scratch = s.scratch;
    mp.volumes = opt_.volumes;
    mp.disk_wait_ms = s.disk_wait_ms;
    if (int e = prepare_mounts(req.strings->mounts, req.mounts_disk, mp, s.mounts); e != 0) {
      idm::log_line("container " + std::string(req.strings->id) + ": its mounts are refused (" + std::strerror(e) + ")");
      if (cgroups_) cgroups_->release(req.proc_id);
      return e;
    }
    plan.clone_flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS;
    plan.setup = &setup_container;
    plan.setup_ctx = &s;
  }
  int32_t stage = 0;
  const int e = spawn(plan, out, &stage);
  if (e != 0 && stage >= static_cast<int32_t>(SpawnStage::kSetup))
    idm::log_line("container " + std::string(req.strings->id) + ": " +
                  step_name(stage - static_cast<int32_t>(SpawnStage::kSetup)) + " failed (" +
                  (s.disk.empty() ? std::string() : s.disk + ", ") + std::strerror(e) + ")");
  if (e != 0 && !req.container_pid && cgroups_) cgroups_->release(req.proc_id);
  return e;
}

int ContainerHost::signal_all(pid_t container_pid, int sig) {
  int first_err = 0;
  const int e = for_each_in_container(container_pid, [&](pid_t pid) {
    if (::kill(pid, sig) != 0 && errno != ESRCH && first_err == 0) first_err = errno;
  });
  return e ? e : first_err;
}

int ContainerHost::pids(pid_t container_pid, std::vector<uint32_t>& out) {
  return for_each_in_container(container_pid, [&](pid_t pid) { out.push_back(static_cast<uint32_t>(pid)); });
}

}  // namespace xg::zone
