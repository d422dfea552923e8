#include "cri-shim/zone/mounts.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "cri-shim/zone/spawn.h"

namespace xg::zone {
namespace {

using idm::CtlMountKind;

// ---- the child's side: system calls only ------------------------------------------------------------------------

// An fd closed at scope end, without the allocation-free promise being in doubt (UniqueFd is fine too, but this
// keeps the child's code visibly syscall-only).
struct ChildFd {
  int fd = -1;
  ~ChildFd() {
    if (fd >= 0) ::close(fd);
  }
};

// `path` (relative) resolved under `root` as if `root` were "/": "..", absolute symlinks and symlinks that climb
// all stay inside (openat2 RESOLVE_IN_ROOT); /proc magic links are refused.
int open_in_root(int root, const char* path, int flags, int* out) noexcept {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  for (int tries = 0; tries < 16; ++tries) {
    const long fd = ::syscall(SYS_openat2, root, path, &how, sizeof how);
    if (fd >= 0) {
      *out = static_cast<int>(fd);
      return 0;
    }
    if (errno != EAGAIN && errno != EINTR) return errno;  // EAGAIN: a rename raced the lookup
  }
  return EAGAIN;
}


// The directory holding the component that starts at buf[last] (the root itself when last is 0), as an O_PATH
// fd resolved inside `root`; `buf` is left as it was.
int open_parent(int root, char* buf, size_t last, int* out) noexcept {
  if (last == 0) {
    *out = ::fcntl(root, F_DUPFD_CLOEXEC, 0);
    return *out < 0 ? errno : 0;
  }
  const char saved = buf[last - 1];
  buf[last - 1] = '\0';
  const int e = open_in_root(root, buf, O_PATH | O_DIRECTORY, out);
  buf[last - 1] = saved;
  return e;
}

// Opens (O_PATH) the mount point `dest` inside `root`, creating what is missing on the way: directories, then the
// point itself (a directory or an empty file). A dangling symlink as the last component (an image's
// /etc/resolv.conf -> /run/systemd/resolve/...) is replaced by the mount point on the writable layer: the mount
// is what the spec asks to see there.
int mount_point(int root, const char* dest, bool dir, int* out) noexcept {
  char buf[idm::kMaxCtlMountPath + 1];
  const size_t len = std::strlen(dest);
  if (len == 0 || len > idm::kMaxCtlMountPath) return EINVAL;
  std::memcpy(buf, dest, len + 1);
  // The parents, each resolved from the root (so a symlink among them means what it means in the container).
  size_t last = 0;
  for (size_t i = 0; i <= len; ++i) {
    if (i != len && buf[i] != '/') continue;
    if (i == len) break;
    buf[i] = '\0';
    ChildFd d;
    int e = open_in_root(root, buf, O_PATH | O_DIRECTORY, &d.fd);
    if (e == ENOENT) {
      ChildFd parent;
      if (int pe = open_parent(root, buf, last, &parent.fd)) return pe;
      if (::mkdirat(parent.fd, buf + last, 0755) != 0 && errno != EEXIST) return errno;
      e = open_in_root(root, buf, O_PATH | O_DIRECTORY, &d.fd);
    }
    if (e) return e;
    buf[i] = '/';
    last = i + 1;
  }
  int e = open_in_root(root, dest, O_PATH, out);
  if (e == ENOENT) {
    ChildFd parent;
    if (int pe = open_parent(root, buf, last, &parent.fd)) return pe;
    const char* name = dest + last;
    struct stat st {};
    if (::fstatat(parent.fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
      if (::unlinkat(parent.fd, name, 0) != 0) return errno;  // the link itself, never what it names
    }
    if (dir) {
      if (::mkdirat(parent.fd, name, 0755) != 0 && errno != EEXIST) return errno;
    } else {
      const int f = ::openat(parent.fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
      if (f < 0 && errno != EEXIST) return errno;
      if (f >= 0) ::close(f);
    }
    e = open_in_root(root, dest, O_PATH, out);
  }
  if (e) return e;
  struct stat st {};
  if (::fstat(*out, &st) != 0) return errno;
  if (dir != S_ISDIR(st.st_mode)) {
    ::close(*out);
    *out = -1;
    return dir ? ENOTDIR : EISDIR;
  }
  return 0;
}

int fd_path(int fd, char (&out)[64]) noexcept {
  const int n = std::snprintf(out, sizeof out, "/proc/self/fd/%d", fd);
  return n > 0 && static_cast<size_t>(n) < sizeof out ? 0 : ENAMETOOLONG;
}

// Remounts the mount now at `dest` (looked up again: the first fd names what lies under it) with its flags.
int remount(int root, const char* dest, unsigned long flags) noexcept {
  ChildFd top;
  if (int e = open_in_root(root, dest, O_PATH, &top.fd)) return e;
  char p[64];
  if (int e = fd_path(top.fd, p)) return e;
  return ::mount(nullptr, p, nullptr, MS_BIND | MS_REMOUNT | flags, nullptr) == 0 ? 0 : errno;
}

int copy_into(int src, int dst) noexcept {
  char buf[16 * 1024];
  for (;;) {
    const ssize_t n = ::read(src, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) return 0;
    for (ssize_t off = 0; off < n;) {
      const ssize_t w = ::write(dst, buf + off, static_cast<size_t>(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return errno;
      off += w;
    }
  }
}

int apply_one(const MountPlan::Entry& m, int root, int image) noexcept {
  constexpr unsigned long kSafe = MS_NOSUID | MS_NODEV;
  const unsigned long ro = m.ro ? MS_RDONLY : 0;
  // The source first (an image entry is resolved inside the image: what it holds cannot lead elsewhere).
  ChildFd src;
  char src_path[64] = {};
  if (m.kind == static_cast<uint32_t>(CtlMountKind::kImage)) {
    if (image < 0) return EINVAL;
    if (int e = open_in_root(image, m.src.c_str(), m.dir ? O_PATH | O_DIRECTORY : O_RDONLY | O_NOFOLLOW, &src.fd))
      return e;
    struct stat st {};
    if (::fstat(src.fd, &st) != 0) return errno;
    if (m.dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) return m.dir ? ENOTDIR : EISDIR;
    if (int e = fd_path(src.fd, src_path)) return e;
  }
  ChildFd target;
  if (int e = mount_point(root, m.dest.c_str(), m.dir, &target.fd)) return e;
  char tgt[64];
  if (int e = fd_path(target.fd, tgt)) return e;
  switch (static_cast<CtlMountKind>(m.kind)) {
    case CtlMountKind::kImage:
      if (m.ro) {
        if (::mount(src_path, tgt, nullptr, MS_BIND, nullptr) != 0) return errno;
        return remount(root, m.dest.c_str(), kSafe | MS_RDONLY);
      }
      if (m.dir) {
        // A writable view of the copy: an overlay whose upper is on the container's scratch tmpfs.
        if (int e = mkdir_p(m.upper.c_str(), 0755)) return e;
        if (int e = mkdir_p(m.work.c_str(), 0755)) return e;
        char opts[3 * idm::kMaxCtlMountPath + 256];
        const int n = std::snprintf(opts, sizeof opts, "lowerdir=%s,upperdir=%s,workdir=%s", src_path,
                                    m.upper.c_str(), m.work.c_str());
        if (n < 0 || static_cast<size_t>(n) >= sizeof opts) return ENAMETOOLONG;
        return ::mount("overlay", tgt, "overlay", kSafe, opts) == 0 ? 0 : errno;
      } else {
        // A file: its copy on the writable layer (its writes stay in the zone).
        ChildFd out;
        if (int e = open_in_root(root, m.dest.c_str(), O_WRONLY | O_TRUNC, &out.fd)) return e;
        struct stat st {};
        if (::fstat(src.fd, &st) == 0) (void)::fchmod(out.fd, st.st_mode & 0777);
        return copy_into(src.fd, out.fd);
      }
    case CtlMountKind::kVolume: {
      // Opened here, in the container's mount namespace (prepare_mounts made it, in the zone's).
      ChildFd vol;
      vol.fd = ::open(m.src.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (vol.fd < 0) return errno;
      char vol_path[64];
      if (int e = fd_path(vol.fd, vol_path)) return e;
      if (::mount(vol_path, tgt, nullptr, MS_BIND, nullptr) != 0) return errno;
      return remount(root, m.dest.c_str(), kSafe | ro);
    }
    case CtlMountKind::kTmpfs:
      return ::mount("tmpfs", tgt, "tmpfs", kSafe | ro, m.data.c_str()) == 0 ? 0 : errno;
  }
  return EINVAL;
}

long now_ms() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1'000'000;
}

}  // namespace

int wait_block(const char* path, long wait_ms) noexcept {
  const long until = now_ms() + wait_ms;
  for (;;) {
    struct stat st {};
    if (::stat(path, &st) == 0) return S_ISBLK(st.st_mode) ? 0 : ENOTBLK;
    if (now_ms() >= until) return ENODEV;
    const timespec nap{0, 50'000'000};
    ::nanosleep(&nap, nullptr);
  }
}

int prepare_mounts(const std::vector<idm::CtlMountEntry>& mounts, uint32_t mounts_disk, const MountPaths& paths,
                   MountPlan& out) {
  if (mounts.size() > idm::kMaxCtlMounts || mounts_disk >= idm::kMaxCtlDisks) return EINVAL;
  // The setup binds volumes by path after mounting its own tmpfs on scratch: a volume under it would be hidden.
  if (!paths.scratch.empty() && (paths.volumes == paths.scratch || paths.volumes.rfind(paths.scratch + "/", 0) == 0))
    return EINVAL;
  bool image = false;
  for (size_t i = 0; i < mounts.size(); ++i) {
    const auto& m = mounts[i];
    if (!idm::valid_ctl_mount(m)) return EINVAL;
    for (size_t j = 0; j < i; ++j)
      if (mounts[j].destination == m.destination) return EINVAL;
    MountPlan::Entry e;
    e.kind = m.m.kind;
    e.ro = (m.m.flags & idm::kCtlMountRo) != 0;
    e.dir = (m.m.flags & idm::kCtlMountDir) != 0;
    e.dest = std::string(m.destination.substr(1));  // relative to the root
    switch (static_cast<CtlMountKind>(m.m.kind)) {
      case CtlMountKind::kImage:
        image = true;
        e.src = std::string(m.source);
        if (!e.ro && e.dir) {
          e.upper = paths.scratch + "/mrw/" + std::to_string(i) + "/upper";
          e.work = paths.scratch + "/mrw/" + std::to_string(i) + "/work";
        }
        break;
      case CtlMountKind::kVolume: {
        // The pod's volume: made empty on first use, then shared by every container naming it (emptyDir).
        if (int r = mkdir_p(paths.volumes.c_str(), 0700)) return r;
        const std::string dir = paths.volumes + "/" + std::string(m.source);
        if (::mkdir(dir.c_str(), 0777) == 0) {
          (void)::chmod(dir.c_str(), 0777);  // emptyDir's mode, whatever the umask
        } else if (errno != EEXIST) {
          return errno;
        }
        // By path: an fd opened here would name this mount namespace's mount, and the container's setup binds
        // from its own copy of the namespace (the kernel refuses a bind from another namespace: EINVAL).
        e.src = dir;
        break;
      }
      case CtlMountKind::kTmpfs: {
        char data[96];
        std::snprintf(data, sizeof data, "mode=%o", m.m.mode ? m.m.mode : 01777u);
        e.data = data;
        if (m.m.size) e.data += ",size=" + std::to_string(m.m.size);
        break;
      }
    }
    out.entries.push_back(std::move(e));
  }
  if (image) {
    out.image_mnt = paths.scratch + "/mounts";
    out.image_disk = paths.disk_override.empty() ? paths.disk_prefix + static_cast<char>('a' + mounts_disk)
                                                 : paths.disk_override;
    out.disk_wait_ms = paths.disk_wait_ms;
  }
  return 0;
}

int apply_mounts(const MountPlan& plan, const char* root, int* failed) noexcept {
  *failed = -1;
  ChildFd image;
  if (!plan.image_mnt.empty()) {
    if (!plan.image_disk.empty()) {
      if (int e = wait_block(plan.image_disk.c_str(), plan.disk_wait_ms)) return e;
      if (int e = mkdir_p(plan.image_mnt.c_str(), 0755)) return e;
      if (::mount(plan.image_disk.c_str(), plan.image_mnt.c_str(), plan.fstype.c_str(),
                  MS_RDONLY | MS_NOSUID | MS_NODEV, nullptr) != 0)
        return errno;
    }
    image.fd = ::open(plan.image_mnt.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (image.fd < 0) return errno;
  }
  ChildFd r;
  r.fd = ::open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (r.fd < 0) return errno;
  for (size_t i = 0; i < plan.entries.size(); ++i) {
    if (int e = apply_one(plan.entries[i], r.fd, image.fd)) {
      *failed = static_cast<int>(i);
      return e;
    }
  }
  return 0;
}

}  // namespace xg::zone
