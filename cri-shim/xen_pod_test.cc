// What of a pod's domain can be checked without Xen: the rootfs image (a real mkfs.erofs run, read back by its
// superblock) and the refusals before anything reaches the toolstack. The domain itself is tested on real Xen
// (tests/xen, the pod checks).
#include "cri-shim/xen_pod.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "cri-shim/spawn.h"
#include "cri-shim/test_reaper.h"
#include "cri-shim/xen_mounts.h"

namespace fs = std::filesystem;
using namespace xg::shim;


TEST_CASE("a container's rootfs becomes an EROFS image") {
  start_reaper_for_tests();
  if (::access("/usr/bin/mkfs.erofs", X_OK) != 0 && ::access("/sbin/mkfs.erofs", X_OK) != 0) {
    WARN_MESSAGE(false, "SKIP: mkfs.erofs not installed (scripts/deps.sh xen installs erofs-utils)");
    return;
  }
  const fs::path dir = fs::temp_directory_path() / ("xg-rootfs-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "bin");
  std::ofstream(dir / "bin" / "hello") << "#!/bin/sh\necho hello\n";
  const std::string image = dir.string() + ".erofs";
  uint64_t ms = 0;
  const auto err = build_rootfs_image(dir.string(), image, ms);
  REQUIRE_MESSAGE(!err, *err);
  // EROFS superblock at byte 1024 starts with its magic, 0xE0F5E1E2 (little-endian).
  std::ifstream f(image, std::ios::binary);
  f.seekg(1024);
  uint32_t magic = 0;
  f.read(reinterpret_cast<char*>(&magic), 4);
  CHECK(magic == 0xE0F5E1E2u);
  CHECK(fs::file_size(image) >= 4096);
  const auto missing = build_rootfs_image((dir / "no-such-dir").string(), image + ".2", ms);
  CHECK(missing.has_value());
  fs::remove_all(dir);
  fs::remove(image);
}

TEST_CASE("a domain config value that could end xl's string early is refused before xl runs") {
  start_reaper_for_tests();
  XenPodSpec spec;
  spec.name = "pod\"evil";
  spec.kernel = "/boot/zone-kernel-of-the-test";
  spec.initramfs = "/boot/zone-initramfs-of-the-test";
  spec.workdir = "/tmp/xg-pod-workdir-of-the-test";
  const auto r = XenPod::boot(spec, "/nonexistent/xl");
  REQUIRE(std::holds_alternative<std::string>(r));
  CHECK(std::get<std::string>(r).find("quote") != std::string::npos);
  spec.name = "pod";
  spec.memory_mib = 16;
  const auto r2 = XenPod::boot(spec, "/nonexistent/xl");
  REQUIRE(std::holds_alternative<std::string>(r2));
  CHECK(std::get<std::string>(r2).find("64 MiB") != std::string::npos);
  spec.memory_mib = 128;
  fs::create_directories(spec.workdir);
  const auto r3 = XenPod::boot(spec, "/nonexistent/xl");  // xl itself missing: an error naming xl create
  REQUIRE(std::holds_alternative<std::string>(r3));
  CHECK(std::get<std::string>(r3).find("xl create") != std::string::npos);
  CHECK(fs::exists(spec.workdir + "/domain.cfg"));
  fs::remove_all(spec.workdir);
}

// The mount image as Xen mode builds it (xen_mounts.h): bind sources staged, then mkfs.erofs; read back with
// fsck.erofs --extract: a symlink that leads out of its source is in the image as that symlink, and nothing of
// what it names came in.
TEST_CASE("a container's mount image keeps a symlink leading out as a symlink") {
  start_reaper_for_tests();
  if (::access("/usr/bin/mkfs.erofs", X_OK) != 0 || ::access("/usr/bin/fsck.erofs", X_OK) != 0) {
    WARN_MESSAGE(false, "SKIP: mkfs.erofs or fsck.erofs not installed (erofs-utils)");
    return;
  }
  const fs::path dir = fs::temp_directory_path() / ("xg-mount-image-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "outside");
  std::ofstream(dir / "outside" / "secret") << "do not copy";
  fs::create_directories(dir / "src" / "sub");
  std::ofstream(dir / "src" / "sub" / "f") << "content";
  fs::create_symlink(dir / "outside" / "secret", dir / "src" / "abs");
  fs::create_directory_symlink("../outside", dir / "src" / "up");
  std::ofstream(dir / "file") << "a file";
  const auto staged = stage_mount_copies({{(dir / "src").string(), "0", true}, {(dir / "file").string(), "1", false}},
                                         (dir / "stage").string());
  REQUIRE_MESSAGE(!staged, *staged);
  const std::string image = (dir / "m.erofs").string();
  uint64_t ms = 0;
  const auto err = build_rootfs_image((dir / "stage").string(), image, ms);
  REQUIRE_MESSAGE(!err, *err);
  const fs::path out = dir / "extracted";
  // Through the shim's own runner: the test reaper would take a child of system() from under it.
  const RunResult x = run_captured({"fsck.erofs", "--extract=" + out.string(), image});
  REQUIRE_MESSAGE(x.status == 0, x.output);
  std::ifstream f(out / "0" / "sub" / "f");
  std::string got((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  CHECK(got == "content");
  CHECK(fs::is_symlink(out / "0" / "abs"));
  CHECK(fs::read_symlink(out / "0" / "abs") == dir / "outside" / "secret");
  CHECK(fs::is_symlink(out / "0" / "up"));
  CHECK(fs::read_symlink(out / "0" / "up") == "../outside");
  CHECK(fs::is_regular_file(out / "1"));
  for (const auto& e : fs::recursive_directory_iterator(out)) {
    if (fs::is_symlink(e.path()) || !fs::is_regular_file(e.path())) continue;
    std::ifstream g(e.path());
    std::string s((std::istreambuf_iterator<char>(g)), std::istreambuf_iterator<char>());
    CHECK_MESSAGE(s != "do not copy", e.path().string());
  }
  fs::remove_all(dir);
}
