// Xen mode's reading of a spec's mounts and the copy of bind sources into the mount image's staging tree
// (xen_mounts.cc): which mounts become image entries, volumes, tmpfs mounts, which are refused; what a copy does
// with symlinks, devices and the bounds. Real files under a temporary directory; no Xen.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "cri-shim/xen_mounts.h"
#include "idm/messages_zonectl.h"

namespace xg::shim {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct TempDir {
  fs::path path;
  TempDir() {
    char t[] = "/tmp/xg-xen-mounts-XXXXXX";
    path = ::mkdtemp(t);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& s) const { return (path / s).string(); }
};

void spit(const std::string& p, const std::string& s) { std::ofstream(p) << s; }
std::string slurp(const std::string& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

json bind_mount(const std::string& src, const std::string& dst, bool ro) {
  json o = json::array({"rbind", "rprivate"});
  if (ro) o.push_back("ro");
  return {{"destination", dst}, {"type", "bind"}, {"source", src}, {"options", o}};
}

// What containerd's CRI puts in every spec (its default OCI spec): all left to the zone init.
json standard_mounts() {
  return json::array({
      {{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}, {"options", {"nosuid", "noexec", "nodev"}}},
      {{"destination", "/dev"}, {"type", "tmpfs"}, {"source", "tmpfs"}, {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}},
      {{"destination", "/dev/pts"}, {"type", "devpts"}, {"source", "devpts"}, {"options", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}}},
      {{"destination", "/dev/mqueue"}, {"type", "mqueue"}, {"source", "mqueue"}, {"options", {"nosuid", "noexec", "nodev"}}},
      {{"destination", "/sys"}, {"type", "sysfs"}, {"source", "sysfs"}, {"options", {"nosuid", "noexec", "nodev", "ro"}}},
      {{"destination", "/sys/fs/cgroup"}, {"type", "cgroup"}, {"source", "cgroup"}, {"options", {"nosuid", "noexec", "nodev", "relatime", "ro"}}},
  });
}

TEST_CASE("xen_mounts_for: CRI's files, a volume, an emptyDir, tmpfs; the standard mounts left to the zone") {
  TempDir t;
  spit(t / "hosts", "127.0.0.1 localhost\n");
  spit(t / "resolv.conf", "nameserver 10.0.0.10\n");
  fs::create_directories(t / "configmap");
  spit(t / "configmap/key", "value");
  fs::create_directories(t / "empty-dir");
  fs::create_directories(t / "shm");
  json spec = {{"mounts", standard_mounts()}};
  spec["mounts"].push_back(bind_mount(t / "hosts", "/etc/hosts", false));
  spec["mounts"].push_back(bind_mount(t / "resolv.conf", "/etc//resolv.conf/", false));  // made normal
  spec["mounts"].push_back(bind_mount(t / "configmap", "/etc/config", true));
  spec["mounts"].push_back(bind_mount(t / "empty-dir", "/cache", false));  // empty, rw: an emptyDir
  spec["mounts"].push_back(bind_mount(t / "shm", "/dev/shm", false));       // CRI's pod /dev/shm: empty too
  spec["mounts"].push_back({{"destination", "/scratch"}, {"type", "tmpfs"}, {"source", "tmpfs"},
                            {"options", {"nosuid", "size=64m", "mode=1770"}}});
  auto r = xen_mounts_for(spec);
  REQUIRE(std::holds_alternative<SpecMounts>(r));
  const SpecMounts& m = std::get<SpecMounts>(r);
  CHECK(m.skipped.size() == 6);
  REQUIRE(m.mounts.size() == 6);
  REQUIRE(m.copies.size() == 3);
  const auto image = static_cast<uint32_t>(idm::CtlMountKind::kImage);
  CHECK(m.mounts[0].m.kind == image);
  CHECK(m.mounts[0].source == "0");
  CHECK(m.mounts[0].destination == "/etc/hosts");
  CHECK(m.mounts[0].m.flags == 0);  // a file, read-write (a copy: writes stay in the zone)
  CHECK(m.mounts[1].destination == "/etc/resolv.conf");
  CHECK(m.mounts[2].m.flags == (idm::kCtlMountRo | idm::kCtlMountDir));
  CHECK(m.copies[2].source == t / "configmap");
  CHECK(m.copies[2].dir);
  CHECK(m.mounts[3].m.kind == static_cast<uint32_t>(idm::CtlMountKind::kVolume));
  CHECK(m.mounts[3].source == volume_name(t / "empty-dir"));
  CHECK(m.mounts[4].m.kind == static_cast<uint32_t>(idm::CtlMountKind::kVolume));
  CHECK(m.mounts[5].m.kind == static_cast<uint32_t>(idm::CtlMountKind::kTmpfs));
  CHECK(m.mounts[5].m.size == (64u << 20));
  CHECK(m.mounts[5].m.mode == 01770);
  for (const auto& z : m.mounts) CHECK(idm::valid_ctl_mount({z.m, z.source, z.destination}));
  // The same source twice (two containers): the same volume; a read-only empty directory is a copy, not a volume.
  CHECK(volume_name(t / "empty-dir") == volume_name(t / "empty-dir"));
  CHECK(volume_name(t / "empty-dir") != volume_name(t / "shm"));
  json ro = {{"mounts", json::array({bind_mount(t / "empty-dir", "/e", true)})}};
  auto r2 = xen_mounts_for(ro);
  REQUIRE(std::holds_alternative<SpecMounts>(r2));
  CHECK(std::get<SpecMounts>(r2).mounts[0].m.kind == image);
  // No mounts at all.
  auto none = xen_mounts_for(json::object());
  REQUIRE(std::holds_alternative<SpecMounts>(none));
  CHECK(std::get<SpecMounts>(none).mounts.empty());
}

TEST_CASE("xen_mounts_for refuses what a zone cannot do, naming the mount") {
  TempDir t;
  spit(t / "f", "x");
  auto err = [](const json& mounts) {
    auto r = xen_mounts_for(json{{"mounts", mounts}});
    return std::holds_alternative<std::string>(r) ? std::get<std::string>(r) : std::string();
  };
  CHECK(err(json::array({bind_mount(t / "f", "relative", true)})).find("absolute") != std::string::npos);
  CHECK(err(json::array({bind_mount(t / "f", "/a/../b", true)})).find("mount 0") != std::string::npos);
  CHECK_FALSE(err(json::array({bind_mount(t / "f", "/", true)})).empty());
  CHECK(err(json::array({bind_mount(t / "missing", "/a", true)})).find("cannot be used") != std::string::npos);
  CHECK(err(json::array({bind_mount("relative/src", "/a", true)})).find("absolute host path") != std::string::npos);
  CHECK(err(json::array({bind_mount("/dev/null", "/a", true)})).find("device, socket or FIFO") != std::string::npos);
  CHECK(err(json::array({bind_mount(t / "f", "/a", true), bind_mount(t / "f", "/a/", true)})).find("two mounts on /a") !=
        std::string::npos);
  // Types a zone does not mount for a container, or not where the standard set has them.
  CHECK(err(json::array({json{{"destination", "/mnt/nfs"}, {"type", "nfs"}, {"source", "server:/x"}}}))
            .find("mount 0 (/mnt/nfs): type \"nfs\" is not supported") != std::string::npos);
  CHECK(err(json::array({json{{"destination", "/proc2"}, {"type", "proc"}, {"source", "proc"}}})).find("proc") !=
        std::string::npos);
  CHECK(err(json::array({json{{"destination", "/t"}, {"type", "tmpfs"}, {"options", {"size=50%"}}}}))
            .find("tmpfs size") != std::string::npos);
  CHECK(err(json::array({json{{"destination", "/t"}, {"type", "tmpfs"}, {"options", {"mode=999"}}}}))
            .find("not octal") != std::string::npos);
  CHECK(err(json::array({json{{"destination", "/t"}, {"type", "tmpfs"}, {"options", {"uid=5"}}}}))
            .find("not supported") != std::string::npos);
  json idmapped = bind_mount(t / "f", "/a", true);
  idmapped["options"] = {"bind", "idmap"};
  CHECK(err(json::array({idmapped})).find("idmap") != std::string::npos);
  CHECK(err(json{{"x", 1}}) == "the spec's mounts are not a list");
  // More than kMaxMounts for the zone.
  json many = json::array();
  for (size_t i = 0; i <= kMaxMounts; ++i) many.push_back(json{{"destination", "/t" + std::to_string(i)}, {"type", "tmpfs"}});
  CHECK(err(many).find("at most 64") != std::string::npos);
  many.erase(many.size() - 1);
  CHECK(err(many).empty());
  CHECK(tmpfs_size("1g") == (uint64_t{1} << 30));
  CHECK(tmpfs_size("4096") == 4096u);
  CHECK_FALSE(tmpfs_size("2048g"));  // past 1 TiB
  CHECK_FALSE(tmpfs_size("k"));
  CHECK_FALSE(tmpfs_size("99999999999999999999"));
  CHECK(normal_destination("//a//b/") == "/a/b");
  CHECK_FALSE(normal_destination("/a/./b"));
  CHECK_FALSE(normal_destination("//"));
}

TEST_CASE("stage_mount_copies: files and trees copied; symlinks stay symlinks, never followed; devices skipped") {
  TempDir t;
  fs::create_directories(t / "outside");
  spit(t / "outside/secret", "do not copy");
  fs::create_directories(t / "src/sub");
  spit(t / "src/a.txt", "a");
  spit(t / "src/sub/b.txt", "b");
  ::chmod((t / "src/sub/b.txt").c_str(), 0640);
  fs::create_symlink(t / "outside", t / "src/out");           // absolute, leads out of the source
  fs::create_symlink("../outside/secret", t / "src/up");       // relative, climbs out
  fs::create_directory_symlink(t / "outside", t / "src/dirlink");
  REQUIRE(::mkfifo((t / "src/fifo").c_str(), 0600) == 0);      // skipped, with a log line
  spit(t / "file", "file content");
  const std::vector<MountCopy> copies = {{t / "src", "0", true}, {t / "file", "1", false}};
  const auto err = stage_mount_copies(copies, t / "stage");
  REQUIRE_MESSAGE(!err, *err);
  CHECK(slurp(t / "stage/0/a.txt") == "a");
  CHECK(slurp(t / "stage/0/sub/b.txt") == "b");
  CHECK((fs::status(t / "stage/0/sub/b.txt").permissions() & fs::perms::all) == (fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read));
  CHECK(slurp(t / "stage/1") == "file content");
  CHECK(fs::is_symlink(t / "stage/0/out"));
  CHECK(fs::read_symlink(t / "stage/0/out") == t / "outside");
  CHECK(fs::is_symlink(t / "stage/0/up"));
  CHECK(fs::read_symlink(t / "stage/0/up") == "../outside/secret");
  CHECK(fs::is_symlink(t / "stage/0/dirlink"));
  CHECK_FALSE(fs::exists(t / "stage/0/fifo"));
  // Nothing of the outside tree came in through a link.
  size_t files = 0;
  for (const auto& e : fs::recursive_directory_iterator(t / "stage")) {
    if (e.is_regular_file() && slurp(e.path().string()) == "do not copy") FAIL("a link was followed: " << e.path());
    ++files;
  }
  CHECK(files == 8);  // 0, 0/a.txt, 0/sub, 0/sub/b.txt, 0/out, 0/up, 0/dirlink, 1
  // The stage must be new: an existing one (or a symlink planted there) is refused.
  CHECK(stage_mount_copies(copies, t / "stage"));
}

TEST_CASE("stage_mount_copies: the size bound, and a source that changed kind") {
  TempDir t;
  {
    const int fd = ::open((t / "big").c_str(), O_CREAT | O_WRONLY, 0644);
    REQUIRE(fd >= 0);
    REQUIRE(::ftruncate(fd, static_cast<off_t>(kMaxCopyBytes + 1)) == 0);  // sparse: nothing written
    ::close(fd);
  }
  auto err = stage_mount_copies({{t / "big", "0", false}}, t / "stage");
  REQUIRE(err);
  CHECK(err->find("256 MiB") != std::string::npos);
  spit(t / "f", "x");
  err = stage_mount_copies({{t / "f", "0", true}}, t / "stage2");  // said a directory, is a file
  CHECK(err);
  err = stage_mount_copies({{t / "f", "../x", false}}, t / "stage3");
  CHECK(err);
}

}  // namespace
}  // namespace xg::shim
