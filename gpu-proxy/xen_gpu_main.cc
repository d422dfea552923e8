// xen-gpu: the operator's command line.
//   xen-gpu run [--name N] [--quota 512MiB] [--weight W] -- CMD ARGS...   run CMD in zone N (joined if it exists)
//   xen-gpu set NAME [--quota SIZE] [--weight W]                           change a running zone
//   xen-gpu drain NAME                                                     no new programs in zone NAME
//   xen-gpu attach --domid N [--name N] [--quota 512MiB] [--weight W]     serve Xen domain N as a zone
//   xen-gpu zones [--json | --table]                                       list the proxy's zones
//   xen-gpu top [--interval S] [--iterations N]                            the zones, refreshed, by GPU share
//   xen-gpu profile [NAME] [--json]                                        per-opcode calls and handler times
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "gpu-proxy/admin_client.h"
#include "gpu-proxy/control.h"
#include "gpu-proxy/units.h"
#include "gpu-proxy/xen_gpu_view.h"

namespace {

std::string exe_dir() {
  char exe[PATH_MAX] = {};
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  std::string s = n > 0 ? std::string(exe, static_cast<size_t>(n)) : ".";
  return s.substr(0, s.rfind('/'));
}

// Where our libcuda.so.1 (libvgpu) lives: the build tree, then an installed tree.
std::string find_libvgpu() {
  const std::string dir = exe_dir();
  for (const std::string& c : {dir + "/../libvgpu", dir + "/../lib/xen-gpu", std::string("/usr/local/lib/xen-gpu")}) {
    if (::access((c + "/libcuda.so.1").c_str(), R_OK) == 0) return c;
  }
  return "";
}

// The zone name and quota every zone-creating command takes; prints why and returns nullopt if either is bad.
std::optional<uint64_t> checked_quota(const std::string& name, const std::string& quota) {
  if (!xg::proxy::valid_zone_name(name)) {
    std::fprintf(stderr, "xen-gpu: bad zone name '%s' (letters, digits, . _ -, at most 63)\n", name.c_str());
    return std::nullopt;
  }
  const auto q = xg::proxy::parse_size(quota);
  if (!q || *q == 0) {
    std::fprintf(stderr, "xen-gpu: bad --quota '%s' (e.g. 512MiB, 2GiB)\n", quota.c_str());
    return std::nullopt;
  }
  return q;
}

// The daemon's admin socket, or nullopt after saying why it cannot be reached.
std::optional<xg::proxy::AdminClient> connect_admin(const std::string& path) {
  std::string error;
  auto admin = xg::proxy::AdminClient::connect(path, error);
  if (!admin) std::fprintf(stderr, "xen-gpu: %s\n", error.c_str());
  return admin;
}

// An existing zone's quota, weight and socket (the `join` answer "ok QUOTA WEIGHT SOCKET"), or nullopt with the
// daemon's reason in `why`.
struct ExistingZone {
  uint64_t quota = 0;
  unsigned weight = 0;
  std::string socket;
};
std::optional<ExistingZone> join_zone(xg::proxy::AdminClient& admin, const std::string& name, std::string& why) {
  using namespace xg::proxy;
  auto reply = admin.request(AdminRequest{AdminVerb::kJoin, name, 0, 0, 0});
  if (!reply) {
    why = "no answer from the proxy";
    return std::nullopt;
  }
  ExistingZone z;
  char socket[4096] = {};
  unsigned long long q = 0;
  if (std::sscanf(reply->c_str(), "ok %llu %u %4095s", &q, &z.weight, socket) != 3) {
    why = *reply;
    return std::nullopt;
  }
  z.quota = q;
  z.socket = socket;
  return z;
}

// xen-gpu run: CMD as a program of zone NAME. When NAME exists (another program of the pod, an operator joining
// it), CMD joins it and the zone's quota and weight stay: a flag that contradicts them is an error. Otherwise the
// zone is created for CMD and ends with it.
int run_zone(const std::string& admin_path, const std::string& zone_socket, std::string name,
             const std::optional<std::string>& quota_flag, const std::optional<unsigned>& weight_flag,
             std::string libdir, const std::vector<std::string>& cmd) {
  using namespace xg::proxy;
  if (name.empty()) name = "run-" + std::to_string(::getpid());
  const auto q = checked_quota(name, quota_flag.value_or("1GiB"));
  if (!q) return 2;
  const unsigned weight = weight_flag.value_or(1);
  if (libdir.empty()) libdir = find_libvgpu();
  if (libdir.empty()) {
    std::fprintf(stderr, "xen-gpu: cannot find libvgpu's libcuda.so.1 (use --libvgpu DIR)\n");
    return 2;
  }
  auto admin = connect_admin(admin_path);
  if (!admin) return 3;
  std::string socket = zone_socket, why;
  bool owner = false;
  for (int attempt = 0; attempt < 2 && !owner; ++attempt) {
    if (auto existing = join_zone(*admin, name, why)) {
      if ((quota_flag && *q != existing->quota) || (weight_flag && *weight_flag != existing->weight)) {
        std::fprintf(stderr, "xen-gpu: zone '%s' exists with quota %s and weight %u; --quota/--weight must match "
                             "or be left out to join it\n", name.c_str(), format_size(existing->quota).c_str(),
                     existing->weight);
        return 2;
      }
      socket = existing->socket;
      break;
    }
    if (why.rfind("error no zone named", 0) != 0) {
      std::fprintf(stderr, "xen-gpu: cannot join zone '%s': %s\n", name.c_str(), why.c_str());
      return 3;
    }
    auto reply = admin->request(AdminRequest{AdminVerb::kCreate, name, *q, weight, 0});
    if (reply && reply->rfind("ok", 0) == 0) {
      owner = true;
    } else if (!reply || reply->find("is in use") == std::string::npos || attempt == 1) {
      // "in use": another program created it a moment ago; join it on the second attempt.
      std::fprintf(stderr, "xen-gpu: the proxy refused the zone: %s\n", reply ? reply->c_str() : "no answer");
      return 3;
    }
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    const char* old = std::getenv("LD_LIBRARY_PATH");
    const std::string path = libdir + (old && *old ? ":" + std::string(old) : "");
    ::setenv("LD_LIBRARY_PATH", path.c_str(), 1);
    ::setenv("XEN_GPU_SOCKET", socket.c_str(), 1);
    ::setenv("XEN_GPU_ZONE", name.c_str(), 1);
    std::vector<char*> argv;
    for (const auto& a : cmd) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    std::fprintf(stderr, "xen-gpu: cannot run %s: %s\n", argv[0], std::strerror(errno));
    ::_exit(127);
  }
  // A zone created here lives as long as CMD (the daemon also ends it when this connection closes); a zone joined
  // here is left to its owner. The terminal's signals reach CMD, not us.
  ::signal(SIGINT, SIG_IGN);
  ::signal(SIGTERM, SIG_IGN);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (owner) (void)admin->request(AdminRequest{AdminVerb::kDestroy, name, 0, 0, 0});
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Registers Xen domain `domid` as a zone and returns at once: the zone lives as long as the domain (its worker
// exits when the domain is destroyed or shut down) or until `xen-gpu detach NAME`.
int attach_zone(const std::string& admin_path, uint32_t domid, std::string name, const std::string& quota,
                unsigned weight) {
  using namespace xg::proxy;
  if (name.empty()) name = "xen-" + std::to_string(domid);
  const auto q = checked_quota(name, quota);
  if (!q) return 2;
  auto admin = connect_admin(admin_path);
  if (!admin) return 3;
  auto reply = admin->request(AdminRequest{AdminVerb::kCreateXen, name, *q, weight, domid});
  if (!reply || reply->rfind("ok", 0) != 0) {
    std::fprintf(stderr, "xen-gpu: the proxy refused the zone: %s\n", reply ? reply->c_str() : "no answer");
    return 3;
  }
  std::printf("zone '%s' (id %s) serves Xen domain %u\n", name.c_str(), reply->size() > 3 ? reply->c_str() + 3 : "?",
              domid);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"xen-gpu: run programs as GPU zones of a running gpu-proxy"};
  app.require_subcommand(1);
  std::string admin = "/run/xen-gpu/admin.sock", zone_socket = "/run/xen-gpu/zone.sock";
  app.add_option("--admin-socket", admin, "the proxy's admin socket")->capture_default_str();
  app.add_option("--socket", zone_socket, "the proxy's zone socket")->capture_default_str();

  auto* run = app.add_subcommand("run", "run CMD as a program of stub-mode zone NAME (joining it if it exists, "
                                          "else creating it for CMD's lifetime); exits with CMD's status");
  std::string name, libdir;
  std::optional<std::string> quota;
  std::optional<unsigned> weight;
  std::vector<std::string> cmd;
  run->add_option("--name", name, "zone name (default run-<pid>)");
  run->add_option("--quota", quota, "device-memory quota of a new zone, e.g. 512MiB (default 1GiB)");
  run->add_option("--weight", weight, "share of GPU time of a new zone, relative to other zones (default 1)")
      ->check(CLI::Range(1u, unsigned{xg::proxy::kMaxWeight}));
  run->add_option("--libvgpu", libdir, "directory holding libvgpu's libcuda.so.1 (found automatically)");
  run->add_option("cmd", cmd, "the program and its arguments (after --)")->required();

  auto* attach = app.add_subcommand("attach", "serve Xen domain N as a zone (returns once it is registered; the "
                                                "zone ends with the domain)");
  uint32_t domid = 0;
  std::string xname, xquota = "1GiB";
  unsigned xweight = 1;
  attach->add_option("--domid", domid, "the guest's domain id")->required()->check(CLI::Range(0u, 0x7FEFu));
  attach->add_option("--name", xname, "zone name (default xen-<domid>)");
  attach->add_option("--quota", xquota, "device-memory quota, e.g. 512MiB")->capture_default_str();
  attach->add_option("--weight", xweight, "share of GPU time relative to other zones")
      ->check(CLI::Range(1u, unsigned{xg::proxy::kMaxWeight}))->capture_default_str();

  auto* detach = app.add_subcommand("detach", "end a zone (e.g. one made by attach): its worker is stopped");
  std::string dname;
  detach->add_option("name", dname, "zone name")->required();

  auto* reweigh = app.add_subcommand("weight", "change a zone's share of GPU time while it runs");
  std::string wname;
  unsigned new_weight = 1;
  reweigh->add_option("name", wname, "zone name")->required();
  reweigh->add_option("weight", new_weight, "its new weight")->required()->check(CLI::Range(1u, unsigned{xg::proxy::kMaxWeight}));

  auto* set = app.add_subcommand("set", "change a running zone's quota and/or weight (a quota below its use "
                                        "refuses new allocations; running work goes on)");
  std::string sname;
  std::optional<std::string> squota;
  std::optional<unsigned> sweight;
  set->add_option("name", sname, "zone name")->required();
  set->add_option("--quota", squota, "its new device-memory quota, e.g. 2GiB");
  set->add_option("--weight", sweight, "its new weight")->check(CLI::Range(1u, unsigned{xg::proxy::kMaxWeight}));

  auto* drain = app.add_subcommand("drain", "refuse new programs in a zone; running ones finish");
  std::string drname;
  drain->add_option("name", drname, "zone name")->required();

  auto* zones = app.add_subcommand("zones", "list the proxy's zones (sizes and durations for people)");
  bool zones_json = false, zones_table = false;
  zones->add_flag("--json", zones_json, "the proxy's snapshot as JSON, for scripts");
  zones->add_flag("--table", zones_table, "the proxy's fixed-column table (stable columns, for awk)")->excludes("--json");
  auto* top = app.add_subcommand("top", "the zones, refreshed, busiest first (q quits; over a pipe: one frame per "
                                        "interval, separated by a blank line)");
  xg::proxy::TopOptions top_opts;
  top->add_option("--interval", top_opts.interval_s, "seconds between frames")->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  top->add_option("--iterations", top_opts.iterations, "stop after N frames (0: until q)")->capture_default_str();
  auto* profile = app.add_subcommand("profile", "per-opcode calls and handler times of the serving zones");
  std::string pname;
  bool profile_json = false;
  profile->add_option("name", pname, "only this zone");
  profile->add_flag("--json", profile_json, "as JSON, for scripts");
  CLI11_PARSE(app, argc, argv);

  if (*attach) return attach_zone(admin, domid, xname, xquota, xweight);
  if (*detach) {
    auto a = connect_admin(admin);
    if (!a) return 3;
    auto reply = a->request(xg::proxy::AdminRequest{xg::proxy::AdminVerb::kDestroy, dname, 0, 0, 0});
    return reply && reply->rfind("ok", 0) == 0 ? 0 : 3;
  }

  if (*reweigh) {
    auto a = connect_admin(admin);
    if (!a) return 3;
    auto reply = a->request(xg::proxy::AdminRequest{xg::proxy::AdminVerb::kWeight, wname, 0, new_weight, 0});
    if (!reply || reply->rfind("ok", 0) != 0) {
      std::fprintf(stderr, "xen-gpu: %s\n", reply ? reply->c_str() : "no answer from the proxy");
      return 3;
    }
    return 0;
  }
  if (*run) return run_zone(admin, zone_socket, name, quota, weight, libdir, cmd);
  if (*set || *drain) {
    using xg::proxy::AdminRequest;
    using xg::proxy::AdminVerb;
    std::vector<AdminRequest> requests;
    if (*drain) requests.push_back({AdminVerb::kDrain, drname, 0, 0, 0});
    if (*set && !squota && !sweight) {
      std::fprintf(stderr, "xen-gpu: set needs --quota and/or --weight\n");
      return 2;
    }
    if (*set && squota) {
      const auto q = checked_quota(sname, *squota);
      if (!q) return 2;
      requests.push_back({AdminVerb::kQuota, sname, *q, 0, 0});
    }
    if (*set && sweight) requests.push_back({AdminVerb::kWeight, sname, 0, *sweight, 0});
    auto a = connect_admin(admin);
    if (!a) return 3;
    for (const AdminRequest& r : requests) {
      auto reply = a->request(r);
      if (!reply || reply->rfind("ok", 0) != 0) {
        std::fprintf(stderr, "xen-gpu: %s\n", reply ? reply->c_str() : "no answer from the proxy");
        return 3;
      }
    }
    return 0;
  }
  using xg::proxy::ZonesFormat;
  if (*zones)
    return xg::proxy::zones_command(admin, zones_json    ? ZonesFormat::kJson
                                           : zones_table ? ZonesFormat::kTable
                                                         : ZonesFormat::kHuman);
  if (*top) return xg::proxy::top_command(admin, top_opts);
  if (*profile) return xg::proxy::profile_command(admin, pname, profile_json);
  return 0;
}
