// xg-zone-init: PID 1 of a pod's zone (the /init of our initramfs, linked static). Mounts what a zone needs,
// loads the modules listed in /etc/xg-zone/modules, connects the control channel to the CRI shim in dom0 and
// serves it (zone_ctl_server.h) with containers (container.h). On CtlShutdown or the channel's loss it ends every
// process and powers the domain off; it never exits (the kernel would panic). Each stage prints one console line.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>

#include "cri-shim/zone/cgroups.h"
#include "cri-shim/zone/container.h"
#include "cri-shim/zone/ctl_connect.h"
#include "cri-shim/zone/supervisor.h"
#include "cri-shim/zone/zone_boot.h"
#include "cri-shim/zone/zone_ctl_server.h"
#include "idm/log.h"

using namespace xg;
using namespace std::chrono_literals;

namespace {
constexpr auto kConnectWait = 120s;           // the shim adds the device right after the domain is built
constexpr auto kGraceOnChannelLoss = 5000ms;  // nobody told us a grace: the shim is gone
}  // namespace

int main() {
  idm::set_log_prefix("xg-zone-init");
  if (::getpid() != 1) {
    zone::say("must run as PID 1 (the /init of a zone's initramfs)");
    return 2;
  }
  zone::attach_console();
  if (!zone::mount_basics()) zone::power_off();
  zone::attach_console();  // devtmpfs now has /dev/console if the initramfs had none
  zone::say("mounted proc, sys, dev, run, tmp");
  (void)zone::load_modules("/etc/xg-zone/modules");
  zone::mount_xenfs();

  zone::Supervisor sup;  // before any other thread: it blocks SIGCHLD for all of them
  if (!sup.ok()) {
    zone::say("cannot start the I/O thread");
    zone::power_off();
  }
  zone::ZoneCgroups cgroups;  // mounts cgroup2 at /sys/fs/cgroup where the kernel has it (cgroups.h)
  zone::ContainerOptions options;
  options.cgroups = &cgroups;
  zone::ContainerHost host(options);
  zone::say("connecting the control channel");
  auto ep = zone::connect_control(kConnectWait);
  if (!ep) {
    zone::say(std::string("no control channel: ") + std::string(idm::error_name(ep.error())));
    zone::power_off();
  }
  zone::say("control channel connected; serving");
  zone::ZoneCtlServer server((*ep)->channel, host, sup);
  std::atomic<bool> stop{false};
  const zone::ServeResult r = server.serve(stop);
  std::chrono::milliseconds grace = kGraceOnChannelLoss;
  if (r.end == zone::ServeEnd::kShutdown) {
    grace = std::chrono::milliseconds(r.grace_ms);
    zone::say("shutdown requested (grace " + std::to_string(r.grace_ms) + " ms)");
  } else {
    zone::say(std::string("control channel lost (") + std::string(idm::error_name(r.error)) + ")");
  }
  zone::end_all_processes(grace);
  zone::power_off();
}
