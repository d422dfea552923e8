// The zone init's mounts (mounts.cc) for real, as root on the build machine: each case runs in a forked child
// in a mount namespace of its own, with a tmpfs holding a container root, a directory standing for the mount
// image (what the zone mounts from the disk), the scratch tmpfs and the pod's volume directory. Not root, or no
// mount namespaces: the cases say so and pass nothing (a visible MESSAGE, no CHECK).
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "cri-shim/zone/container.h"
#include "cri-shim/zone/mounts.h"
#include "cri-shim/zone/spawn.h"

namespace xg::zone {
namespace {

using idm::CtlMount;
using idm::CtlMountEntry;
using idm::CtlMountKind;

std::string slurp(const std::string& p) {
  std::ifstream f(p);
  if (!f) return "<missing>";
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void spit(const std::string& p, const std::string& s) { std::ofstream(p) << s; }

CtlMountEntry entry(CtlMountKind k, uint32_t flags, std::string_view src, std::string_view dst, uint64_t size = 0,
                    uint32_t mode = 0) {
  return {CtlMount{static_cast<uint32_t>(k), flags, size, mode, 0}, src, dst};
}

// Runs `body` (returns "" or what went wrong) in a child in a private mount namespace, a tmpfs at T with
// T/{root,image,scratch,volumes}; the image holds "0" (a file "hosts\n") and "1" (a directory: a.txt, a symlink
// to /etc/shadow and one that climbs).
std::string in_namespace(const std::function<std::string(const std::string& T)>& body) {
  int fds[2];
  if (::pipe(fds) != 0) return "pipe";
  // Made here, removed here: the child's tmpfs on it goes with its mount namespace.
  char tmpl[] = "/tmp/xg-mounts-test-XXXXXX";
  if (!::mkdtemp(tmpl)) return "mkdtemp";
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    std::string err;
    if (::unshare(CLONE_NEWNS) != 0) {
      err = "SKIP";
    } else if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
               ::mount("tmpfs", tmpl, "tmpfs", 0, "mode=0755") != 0) {
      err = std::string("setup: ") + std::strerror(errno);
    } else {
      const std::string T = tmpl;
      for (const char* d : {"/root", "/root/etc", "/image", "/image/1", "/scratch", "/outside"})
        ::mkdir((T + d).c_str(), 0755);
      spit(T + "/image/0", "hosts\n");
      spit(T + "/image/1/a.txt", "a\n");
      (void)!::symlink("/etc/shadow", (T + "/image/1/abs").c_str());
      (void)!::symlink("../../../../x", (T + "/image/1/up").c_str());
      ::chmod((T + "/image").c_str(), 0755);
      err = body(T);
    }
    const ssize_t n = ::write(fds[1], err.data(), err.size());
    (void)n;
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string out;
  char buf[512];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::rmdir(tmpl);
  if (!WIFEXITED(status)) return "the child died";
  return out;
}

int plan_and_apply(const std::string& T, const std::vector<CtlMountEntry>& list, int* failed, MountPlan* keep = nullptr) {
  MountPaths paths;
  paths.scratch = T + "/scratch";
  paths.volumes = T + "/volumes";
  MountPlan plan;
  if (int e = prepare_mounts(list, 1, paths, plan)) return e;
  if (!plan.image_mnt.empty()) {
    plan.image_disk.clear();  // the image is the directory T/image here, not a disk
    plan.image_mnt = T + "/image";
  }
  // As in the zone: the plan is made in the zone init's mount namespace, applied in the container's copy of it.
  if (::unshare(CLONE_NEWNS) != 0) return errno;
  const int e = apply_mounts(plan, (T + "/root").c_str(), failed);
  if (keep) *keep = std::move(plan);
  return e;
}

bool writable(const std::string& p) {
  const int fd = ::open(p.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::write(fd, "w", 1) == 1;
  ::close(fd);
  return ok;
}

#define EXPECT(cond, what) \
  if (!(cond)) return std::string(what)

bool skip(const std::string& r) {
  if (r != "SKIP" && ::geteuid() == 0) return false;
  MESSAGE("SKIP: needs root and mount namespaces");
  return true;
}

TEST_CASE("zone mounts: image entries read-only (file and directory) with their content, writes refused") {
  if (::geteuid() != 0) {
    MESSAGE("SKIP: needs root");
    return;
  }
  const std::string r = in_namespace([](const std::string& T) -> std::string {
    int failed = -2;
    const std::vector<CtlMountEntry> list = {
        entry(CtlMountKind::kImage, idm::kCtlMountRo, "0", "/etc/hosts"),
        entry(CtlMountKind::kImage, idm::kCtlMountRo | idm::kCtlMountDir, "1", "/data/ro")};
    if (int e = plan_and_apply(T, list, &failed)) return "apply: " + std::string(std::strerror(e)) + " at " + std::to_string(failed);
    const std::string root = T + "/root";
    EXPECT(slurp(root + "/etc/hosts") == "hosts\n", "/etc/hosts: " + slurp(root + "/etc/hosts"));
    EXPECT(slurp(root + "/data/ro/a.txt") == "a\n", "/data/ro/a.txt");
    EXPECT(!writable(root + "/etc/hosts") && errno == EROFS, "a ro file took a write");
    EXPECT(::open((root + "/data/ro/new").c_str(), O_CREAT | O_WRONLY, 0644) < 0 && errno == EROFS,
           "a ro directory took a new file");
    char link[64] = {};
    EXPECT(::readlink((root + "/data/ro/abs").c_str(), link, sizeof link - 1) > 0 && std::string(link) == "/etc/shadow",
           "the symlink in the image is not itself");
    return "";
  });
  if (!skip(r)) CHECK(r == "");
}

TEST_CASE("zone mounts: read-write image entries are writable copies; the image stays as it was") {
  if (::geteuid() != 0) {
    MESSAGE("SKIP: needs root");
    return;
  }
  const std::string r = in_namespace([](const std::string& T) -> std::string {
    int failed = -2;
    const std::vector<CtlMountEntry> list = {entry(CtlMountKind::kImage, 0, "0", "/etc/conf"),
                                             entry(CtlMountKind::kImage, idm::kCtlMountDir, "1", "/rw")};
    if (int e = plan_and_apply(T, list, &failed)) return "apply: " + std::string(std::strerror(e)) + " at " + std::to_string(failed);
    const std::string root = T + "/root";
    EXPECT(slurp(root + "/etc/conf") == "hosts\n", "/etc/conf: " + slurp(root + "/etc/conf"));
    EXPECT(writable(root + "/etc/conf"), "the rw file refused a write");
    EXPECT(writable(root + "/rw/a.txt"), "the rw directory's file refused a write");
    spit(root + "/rw/new", "n");
    EXPECT(slurp(root + "/rw/new") == "n", "a new file in the rw directory");
    EXPECT(slurp(T + "/image/0") == "hosts\n" && slurp(T + "/image/1/a.txt") == "a\n", "the image changed");
    EXPECT(::access((T + "/image/1/new").c_str(), F_OK) != 0, "the image got the new file");
    return "";
  });
  if (!skip(r)) CHECK(r == "");
}

TEST_CASE("zone mounts: a destination through a symlink that leads out of the root stays inside it") {
  if (::geteuid() != 0) {
    MESSAGE("SKIP: needs root");
    return;
  }
  const std::string r = in_namespace([](const std::string& T) -> std::string {
    const std::string root = T + "/root";
    // An absolute symlink to the zone's T/outside and one that climbs: both resolve under the root.
    EXPECT(::symlink((T + "/outside").c_str(), (root + "/abs").c_str()) == 0, "symlink");
    EXPECT(::symlink("../../../../../outside", (root + "/up").c_str()) == 0, "symlink");
    // A dangling symlink as the destination (an image's /etc/resolv.conf -> ../run/systemd/...).
    EXPECT(::symlink("../run/systemd/resolve/stub-resolv.conf", (root + "/etc/resolv.conf").c_str()) == 0, "symlink");
    // Where those links lead inside the root exists there (a dangling link on the way is refused: below).
    const std::string inside = root + T + "/outside";
    EXPECT(mkdir_p(inside.c_str(), 0755) == 0 && ::mkdir((root + "/outside").c_str(), 0755) == 0, "mkdir");
    int failed = -2;
    const std::vector<CtlMountEntry> list = {
        entry(CtlMountKind::kImage, idm::kCtlMountRo, "0", "/abs/hosts"),
        entry(CtlMountKind::kTmpfs, idm::kCtlMountDir, "", "/up/t", 1 << 20),
        entry(CtlMountKind::kImage, idm::kCtlMountRo, "0", "/etc/resolv.conf")};
    if (int e = plan_and_apply(T, list, &failed)) return "apply: " + std::string(std::strerror(e)) + " at " + std::to_string(failed);
    EXPECT(::access((T + "/outside/hosts").c_str(), F_OK) != 0, "the mount point was made outside the root");
    EXPECT(::access((T + "/outside/t").c_str(), F_OK) != 0, "the tmpfs went outside the root");
    EXPECT(slurp(root + T + "/outside/hosts") == "hosts\n", "not found under the root: " + root + T + "/outside/hosts");
    EXPECT(::access((root + "/outside/t").c_str(), F_OK) == 0, "the climbing link's target not under the root");
    EXPECT(slurp(root + "/etc/resolv.conf") == "hosts\n", "resolv.conf: " + slurp(root + "/etc/resolv.conf"));
    // A directory on the way that is a symlink to nothing inside the root: refused, nothing made anywhere.
    ::mkdir((T + "/outside2").c_str(), 0755);
    EXPECT(::symlink((T + "/outside2").c_str(), (root + "/dangle").c_str()) == 0, "symlink");
    MountPaths paths;
    paths.scratch = T + "/scratch3";
    paths.volumes = T + "/volumes";
    MountPlan plan;
    const std::vector<CtlMountEntry> bad = {entry(CtlMountKind::kTmpfs, idm::kCtlMountDir, "", "/dangle/x")};
    EXPECT(prepare_mounts(bad, 0, paths, plan) == 0, "prepare");
    const int e = apply_mounts(plan, root.c_str(), &failed);
    EXPECT(e == ENOENT, "a dangling directory link: " + std::string(std::strerror(e)));
    EXPECT(::access((T + "/outside2/x").c_str(), F_OK) != 0, "made outside the root through a dangling link");
    return "";
  });
  if (!skip(r)) CHECK(r == "");
}

TEST_CASE("zone mounts: tmpfs with its size and mode; a volume shared by two containers of the pod") {
  if (::geteuid() != 0) {
    MESSAGE("SKIP: needs root");
    return;
  }
  const std::string r = in_namespace([](const std::string& T) -> std::string {
    int failed = -2;
    const std::vector<CtlMountEntry> list = {
        entry(CtlMountKind::kTmpfs, idm::kCtlMountDir, "", "/tmp/small", 2 << 20, 0700),
        entry(CtlMountKind::kTmpfs, idm::kCtlMountDir | idm::kCtlMountRo, "", "/tmp/ro"),
        entry(CtlMountKind::kVolume, idm::kCtlMountDir, "vabc", "/cache")};
    MountPlan keep;
    if (int e = plan_and_apply(T, list, &failed, &keep)) return "apply: " + std::string(std::strerror(e)) + " at " + std::to_string(failed);
    const std::string root = T + "/root";
    struct statfs sf {};
    EXPECT(::statfs((root + "/tmp/small").c_str(), &sf) == 0, "statfs");
    EXPECT(static_cast<uint64_t>(sf.f_blocks) * static_cast<uint64_t>(sf.f_bsize) == (2u << 20),
           "tmpfs size " + std::to_string(static_cast<uint64_t>(sf.f_blocks) * sf.f_bsize));
    struct stat st {};
    EXPECT(::stat((root + "/tmp/small").c_str(), &st) == 0 && (st.st_mode & 07777) == 0700, "tmpfs mode");
    EXPECT(::mkdir((root + "/tmp/ro/x").c_str(), 0755) != 0 && errno == EROFS, "a ro tmpfs took a directory");
    spit(root + "/cache/shared", "s");
    // The volume is the zone's directory: a second container (root2) naming it sees the first one's file.
    ::mkdir((T + "/root2").c_str(), 0755);
    MountPaths paths;
    paths.scratch = T + "/scratch2";
    paths.volumes = T + "/volumes";
    MountPlan plan2;
    const std::vector<CtlMountEntry> list2 = {entry(CtlMountKind::kVolume, idm::kCtlMountDir | idm::kCtlMountRo, "vabc", "/v")};
    if (int e = prepare_mounts(list2, 0, paths, plan2)) return "prepare 2: " + std::string(std::strerror(e));
    if (::unshare(CLONE_NEWNS) != 0) return "unshare: " + std::string(std::strerror(errno));
    if (int e = apply_mounts(plan2, (T + "/root2").c_str(), &failed)) return "apply 2: " + std::string(std::strerror(e));
    EXPECT(slurp(T + "/root2/v/shared") == "s", "the second container does not see the volume's file");
    EXPECT(slurp(T + "/volumes/vabc/shared") == "s", "the volume is not the zone's directory");
    EXPECT(!writable(T + "/root2/v/shared") && errno == EROFS, "a ro volume mount took a write");
    return "";
  });
  if (!skip(r)) CHECK(r == "");
}

TEST_CASE("zone mounts: prepare_mounts checks the list again") {
  MountPaths paths;
  paths.scratch = "/nonexistent/scratch";
  paths.volumes = "/nonexistent/volumes";
  MountPlan plan;
  CHECK(prepare_mounts({entry(CtlMountKind::kImage, 0, "0", "relative")}, 1, paths, plan) == EINVAL);
  CHECK(prepare_mounts({entry(CtlMountKind::kImage, 0, "../0", "/a")}, 1, paths, plan) == EINVAL);
  CHECK(prepare_mounts({entry(CtlMountKind::kVolume, idm::kCtlMountDir, "..", "/a")}, 1, paths, plan) == EINVAL);
  CHECK(prepare_mounts({entry(CtlMountKind::kImage, 0, "0", "/a"), entry(CtlMountKind::kImage, 0, "1", "/a")}, 1,
                       paths, plan) == EINVAL);
  CHECK(prepare_mounts({entry(CtlMountKind::kImage, 0, "0", "/a")}, idm::kMaxCtlDisks, paths, plan) == EINVAL);
  MountPlan ok;
  CHECK(prepare_mounts({entry(CtlMountKind::kImage, idm::kCtlMountRo, "0", "/a"),
                        entry(CtlMountKind::kTmpfs, idm::kCtlMountDir, "", "/t", 4096, 0755)},
                       2, paths, ok) == 0);
  CHECK(ok.image_disk == "/dev/xvdc");
  REQUIRE(ok.entries.size() == 2);
  CHECK(ok.entries[0].dest == "a");
  CHECK(ok.entries[1].data == "mode=755,size=4096");
  // A volume directory under the container's scratch tmpfs would be hidden from the setup that binds it.
  MountPaths hidden;
  hidden.scratch = "/run";
  hidden.volumes = "/run/xg-volumes";
  CHECK(prepare_mounts({entry(CtlMountKind::kTmpfs, idm::kCtlMountDir, "", "/t")}, 0, hidden, plan) == EINVAL);
  const ContainerOptions zone;  // the zone init's defaults
  CHECK(zone.volumes.rfind(zone.scratch + "/", 0) != 0);

}

}  // namespace
}  // namespace xg::zone
