#include "cri-shim/zone/zone_boot.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

#include "cri-shim/zone/spawn.h"
#include "idm/log.h"

namespace xg::zone {
namespace {

struct Mount {
  const char* source;
  const char* target;
  const char* type;
  unsigned long flags;
  const char* data;
  bool required;
};

// What every zone has before any container starts. /dev/shm and /tmp are for the zone's own tools; containers get
// their own (container.h).
constexpr Mount kBootMounts[] = {
    {"proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr, true},
    {"sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr, true},
    {"devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755", true},  // block devices appear as the shim hot-plugs them
    {"devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "mode=0620,ptmxmode=0666", false},
    {"shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", false},
    {"tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755", true},  // containers' scratch (ContainerOptions)
    {"tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", false},
};

bool filesystem_known(std::string_view type) {
  std::ifstream f("/proc/filesystems");
  std::string line;
  while (std::getline(f, line)) {
    const auto tab = line.rfind('\t');
    if ((tab == std::string::npos ? line : line.substr(tab + 1)) == type) return true;
  }
  return false;
}

}  // namespace

void say(std::string_view msg) noexcept { idm::log_line(msg); }

void attach_console() noexcept {
  // Keep what the kernel gave us (it opens /dev/console for /init when the initramfs has the node); fill the
  // gaps with the console, else /dev/null: a descriptor 0-2 left closed would be reused by the next pipe.
  for (int i = 0; i < 3; ++i) {
    if (::fcntl(i, F_GETFD) >= 0) continue;
    int fd = ::open("/dev/console", O_RDWR | O_NOCTTY);
    if (fd < 0) fd = ::open("/dev/null", O_RDWR);
    if (fd < 0) continue;
    if (fd != i) {
      ::dup2(fd, i);
      ::close(fd);
    }
  }
}

bool mount_basics() noexcept {
  bool ok = true;
  for (const Mount& m : kBootMounts) {
    (void)mkdir_p(m.target, 0755);
    if (::mount(m.source, m.target, m.type, m.flags, m.data) == 0 || errno == EBUSY) continue;
    say(std::string("mount ") + m.type + " on " + m.target + ": " + std::strerror(errno));
    if (m.required) ok = false;
  }
  return ok;
}

int load_modules(const std::string& list) noexcept {
  std::ifstream f(list);
  if (!f) return 0;  // no list: the kernel has what we need built in
  int failed = 0, loaded = 0;
  std::string path;
  while (std::getline(f, path)) {
    if (path.empty() || path[0] == '#') continue;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || (::syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST)) {
      say("module " + path + ": " + std::strerror(errno));
      ++failed;
    } else {
      ++loaded;
    }
    if (fd >= 0) ::close(fd);
  }
  say("modules: " + std::to_string(loaded) + " loaded, " + std::to_string(failed) + " failed");
  return failed;
}

void mount_xenfs() noexcept {
  if (!filesystem_known("xenfs")) {
    say("xenfs not offered by this kernel; /dev/xen only");
    return;
  }
  (void)mkdir_p("/proc/xen", 0755);
  if (::mount("xenfs", "/proc/xen", "xenfs", 0, nullptr) != 0 && errno != EBUSY)
    say(std::string("mount xenfs on /proc/xen: ") + std::strerror(errno));
}

void end_all_processes(std::chrono::milliseconds grace) noexcept {
  // kill(-1) from PID 1 reaches every process but ourselves. Every user process of the zone is our descendant
  // (orphans are reparented to us), so "no child left" means none is left; kill(-1, 0) cannot tell, as kernel
  // threads count for it. WNOWAIT: the supervisor's I/O thread does the reaping meanwhile.
  auto none_left = [] {
    siginfo_t si{};
    return ::waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) != 0 && errno == ECHILD;
  };
  auto wait_for = [&](std::chrono::milliseconds d) {
    const auto until = std::chrono::steady_clock::now() + d;
    while (!none_left() && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return none_left();
  };
  ::kill(-1, SIGTERM);
  if (wait_for(grace)) return;
  say("processes left after the grace: SIGKILL");
  ::kill(-1, SIGKILL);
  if (!wait_for(std::chrono::milliseconds(2000))) say("processes survive SIGKILL (stuck in the kernel?)");
}

void power_off() noexcept {
  say("powering off");
  ::sync();
  ::reboot(RB_POWER_OFF);
  // Only reached without CAP_SYS_BOOT: an init must not exit, so wait for whoever can stop us.
  for (;;) ::pause();
}

}  // namespace xg::zone
