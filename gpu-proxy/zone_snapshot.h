// What the daemon knows about its zones at one instant, in one shape for every reader: `xen-gpu zones` (table and
// --json), `xen-gpu top`, and the Prometheus endpoint. The daemon fills it from the zone pages and its workers'
// control pages (zone_page.h, control.h); the admin socket carries it as JSON (to_json/from_json below), so the
// command line and scripts read the same fields.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "gpu-proxy/control.h"

namespace xg::proxy {

// One program (process) of a zone, served by one worker.
struct ProgramSnapshot {
  int32_t worker_pid = 0;
  uint32_t zone_pid = 0;        // the program's pid inside its zone (as it said in its Hello; 0 for Xen)
  std::string state;            // worker_state_name()
  uint64_t device_bytes = 0;    // allocations, pitch padding, module images charged to the zone
  uint64_t overhead_bytes = 0;  // the program's contexts' own GPU memory (measured per context at start-up)
  uint64_t calls = 0;
  uint64_t handles = 0;
};

struct ZoneSnapshot {
  uint32_t id = 0;
  std::string name;
  std::string pod;              // "namespace/name" for a pod's zone (the CRI shim says), else empty
  std::string state;            // "serving", "idle" (declared, no program), "draining"
  std::optional<uint32_t> xen_domid;
  uint32_t weight = 1;
  uint64_t quota_bytes = 0;
  uint64_t used_bytes = 0;      // device + overhead, over all programs: what counts against the quota
  uint64_t overhead_bytes = 0;  // the contexts' share of used_bytes
  uint64_t peak_bytes = 0;
  uint64_t gpu_ns = 0;          // GPU time accounted to the zone (time_slicer.h), since it was created
  double gpu_share = 0;         // fraction of GPU time over the last interval (0..1)
  double calls_per_s = 0;       // over the last interval
  uint64_t calls = 0, rejected = 0, oom_refusals = 0;
  std::array<uint64_t, kProfileOps> calls_by_op{};            // indexed like idm::all_ops()
  std::map<int32_t, uint64_t> errors_by_result;               // CUresult -> calls that returned it
  std::vector<ProgramSnapshot> programs;
};

// The GPU as the daemon sees it (the driver domain's NVML where there is one; absent values stay absent).
struct GpuSnapshot {
  std::string name;
  std::optional<uint64_t> memory_total_bytes, memory_used_bytes;
  std::optional<double> utilization;      // 0..1
  std::optional<double> temperature_celsius;
  std::string driver_version;             // the host driver's, from NVML ("580.159.04"); empty where unknown
  uint64_t context_overhead_bytes = 0;    // measured at start-up (driver free memory before/after a context)
};

struct ProxySnapshot {
  double interval_s = 0;  // the interval the rates and shares cover
  GpuSnapshot gpu;
  std::vector<ZoneSnapshot> zones;
};

// JSON (the admin socket's `zones-json` answer); from_json gives back what to_json wrote, and nullopt (with
// `error` set) for text that is not a snapshot.
[[nodiscard]] std::string to_json(const ProxySnapshot& s);
[[nodiscard]] std::optional<ProxySnapshot> snapshot_from_json(std::string_view text, std::string& error);

}  // namespace xg::proxy
