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

#include "cri-shim/test_reaper.h"

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
