// The gpu-proxy daemon: one per node. It accepts zone connections and starts one worker process per program (the
// worker, not the daemon, parses the zone's bytes); the programs of one zone share its zone page (zone_page.h:
// one quota ledger, one weight, one time-slicer grant). It keeps the zone registry and policy, answers the admin
// socket (xen-gpu run / set / drain / zones / top), reaps workers and logs every program's and zone's end. It
// never maps zone-written memory.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "gpu-proxy/object_limits.h"

namespace xg::proxy {

struct ZonePolicy {
  std::string name;
  uint64_t quota_bytes = 0;
  uint32_t weight = 1;
  ObjectLimits limits;  // driver objects the zone may create (object_limits.h)
  int owner = -1;  // admin connection that created it (xen-gpu run); the zone dies with that connection
  // create-bound: the zone's own socket (`<zone socket dir>/zones/NAME.sock`). Only connections made there may
  // register as this zone, and they may register as nothing else: the CRI shim mounts it into one pod alone.
  std::string bound_socket;
  std::string pod;  // the pod a create-bound zone serves ("namespace/name"), for the operator's view
};

struct DaemonOptions {
  std::string driver = "real";  // "real" (the host's libcuda.so.1), "sim", or a path
  std::string zone_socket = "/run/xen-gpu/zone.sock";
  std::string admin_socket = "/run/xen-gpu/admin.sock";
  std::string self_exe;         // this binary, re-executed as --worker
  uint64_t default_quota = 1ull << 30;
  uint32_t default_weight = 1;
  ObjectLimits default_limits;
  bool allow_unknown_zones = true;  // zones not declared by config/admin get the defaults
  std::vector<ZonePolicy> zones;    // from --zone and --config
  // Zones' quotas together may exceed the GPU's memory only if this is set (otherwise creating one is refused).
  bool overcommit = false;
  // Workers are processes: bounded per zone, in all, and while they wait for a connection's registration.
  uint32_t max_programs_per_zone = 32;  // <= kMaxProgramsPerZone
  uint32_t max_workers = 256;
  uint32_t max_unregistered = 16;       // per listening socket: a flood on one pod's socket spares the others
  std::chrono::milliseconds register_timeout{5000};
  std::string metrics_address;          // "HOST:PORT" serves Prometheus text on /metrics; empty: off
};

// Resolves "sim"/"real"/path to what dlopen should load.
[[nodiscard]] std::string resolve_driver(const std::string& driver, const std::string& self_exe);
// Reads a config file: lines `zone NAME quota=SIZE weight=N [LIMIT=N ...]` and `default quota=SIZE weight=N
// [LIMIT=N ...]` (LIMIT: a name of object_limits.h, e.g. streams=256), `#` comments.
[[nodiscard]] bool load_config(const std::string& path, DaemonOptions& opts, std::string& error);

// Runs until SIGTERM/SIGINT. Returns the process exit status.
int run_daemon(DaemonOptions opts);

}  // namespace xg::proxy
