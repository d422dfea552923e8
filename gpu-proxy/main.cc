// gpu-proxy: the driver-domain daemon (default) or, re-executed by it, one zone's worker (--worker).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <climits>

#include "gpu-proxy/daemon.h"
#include "gpu-proxy/driver_probe.h"
#include "gpu-proxy/units.h"
#include "gpu-proxy/worker/worker_main.h"

int main(int argc, char** argv) {
  using namespace xg::proxy;
  CLI::App app{"gpu-proxy: serves CUDA to zones (one worker process per zone)"};
  DaemonOptions opts;
  bool worker = false, check_config = false, probe = false;
  std::string config, default_quota = "1GiB";
  std::vector<std::string> zone_specs;
  app.add_option("--driver", opts.driver, "CUDA driver to load: real (the host's libcuda.so.1), sim (the simulated driver), or a path")
      ->capture_default_str();
  app.add_option("--socket", opts.zone_socket, "zones register here")->capture_default_str();
  app.add_option("--admin-socket", opts.admin_socket, "xen-gpu talks to the daemon here (mode 0600)")->capture_default_str();
  app.add_option("--config", config, "config file: `zone NAME quota=SIZE weight=N`, `default quota=SIZE weight=N`");
  app.add_option("--zone", zone_specs, "declare a zone NAME:QUOTA:WEIGHT (repeatable)");
  app.add_option("--default-quota", default_quota, "quota of zones not declared elsewhere")->capture_default_str();
  app.add_flag("--refuse-unknown", [&](int64_t) { opts.allow_unknown_zones = false; }, "refuse zones not declared");
  app.add_flag("--check-config", check_config, "parse --config (and --zone flags) and exit: 0 if valid");
  app.add_flag("--overcommit", opts.overcommit, "allow zones' quotas to total more than the GPU's memory");
  app.add_option("--max-programs-per-zone", opts.max_programs_per_zone, "programs (workers) one zone may run at once")
      ->check(CLI::Range(1u, 64u))->capture_default_str();
  app.add_option("--max-workers", opts.max_workers, "workers in all")->check(CLI::Range(1u, 4096u))->capture_default_str();
  app.add_option("--max-unregistered", opts.max_unregistered,
                 "connections per socket that have not registered yet (each holds a worker)")
      ->check(CLI::Range(1u, 1024u))->capture_default_str();
  app.add_option("--metrics", opts.metrics_address, "serve Prometheus metrics on HOST:PORT/metrics (off by default)");
  app.add_flag("--worker", worker, "internal: run as a zone worker (started by the daemon)")->group("");
  app.add_flag("--probe", probe, "internal: measure the GPU for the daemon")->group("");
  CLI11_PARSE(app, argc, argv);

  char exe[PATH_MAX] = {};
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  opts.self_exe = n > 0 ? std::string(exe, static_cast<size_t>(n)) : argv[0];
  if (worker) return worker_main(opts.driver);
  if (probe) return probe_main(opts.driver);

  auto dq = parse_size(default_quota);
  if (!dq) {
    std::fprintf(stderr, "gpu-proxy: bad --default-quota '%s' (e.g. 512MiB, 2GiB)\n", default_quota.c_str());
    return 2;
  }
  opts.default_quota = *dq;
  std::string error;
  if (!config.empty() && !load_config(config, opts, error)) {
    std::fprintf(stderr, "gpu-proxy: %s\n", error.c_str());
    return 2;
  }
  for (const std::string& spec : zone_specs) {
    const auto a = spec.find(':'), b = spec.rfind(':');
    ZonePolicy z;
    z.name = spec.substr(0, a);
    auto q = a == std::string::npos ? std::nullopt : parse_size(spec.substr(a + 1, b - a - 1));
    const auto w = a == b ? std::nullopt : parse_weight(spec.substr(b + 1));
    if (a == b || !q || !w) {
      std::fprintf(stderr, "gpu-proxy: bad --zone '%s' (want NAME:QUOTA:WEIGHT, e.g. train:4GiB:2)\n", spec.c_str());
      return 2;
    }
    z.quota_bytes = *q;
    z.weight = *w;
    z.limits = opts.default_limits;  // object limits: the config's `default` line (or the built-in defaults)
    opts.zones.push_back(z);
  }
  if (check_config) {
    std::printf("gpu-proxy: configuration valid: %zu declared zone(s), default quota %s, weight %u\n",
                opts.zones.size(), format_size(opts.default_quota).c_str(), opts.default_weight);
    return 0;
  }
  return run_daemon(std::move(opts));
}
