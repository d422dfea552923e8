// The daemon's Prometheus endpoint (`gpu-proxy --metrics HOST:PORT`, off by default): GET /metrics answers the
// text exposition format, built from the latest ProxySnapshot (zone_snapshot.h) the daemon handed to update().
// The daemon is single-threaded and calls update() about once a second from its loop; the HTTP server
// (prometheus-cpp's Exposer, civetweb underneath) answers from its own threads, so the stored snapshot is behind a
// mutex and a scrape never touches the daemon's state. Built only with prometheus-cpp (Debian's
// prometheus-cpp-dev); without it start() refuses with a sentence saying so (metrics_unavailable.cc).
//
// Metric names (one `zone` label on every zone metric):
//   xen_gpu_zone_memory_used_bytes, _memory_quota_bytes, _memory_overhead_bytes, _memory_peak_bytes   gauges
//   xen_gpu_zone_gpu_time_seconds_total                                          counter (the time slicer's)
//   xen_gpu_zone_calls_total{op}          counter, by opcode (idm/messages.h names; opcodes never called: absent)
//   xen_gpu_zone_errors_total{result}     counter, by CUresult name (CUDA_ERROR_OUT_OF_MEMORY, ...)
//   xen_gpu_zone_rejected_total, xen_gpu_zone_oom_refusals_total                counters
//   xen_gpu_zone_programs, xen_gpu_zone_weight                                   gauges
//   xen_gpu_gpu_utilization_ratio{gpu}, xen_gpu_gpu_memory_used_bytes{gpu}, xen_gpu_gpu_memory_total_bytes{gpu},
//   xen_gpu_gpu_temperature_celsius{gpu}   gauges, from the driver domain's NVML (memory total: the driver probe
//                                          where NVML is absent); a value nobody measured is absent, not zero
//   xen_gpu_driver_info{version}          1, where NVML gave the host driver's version
#pragma once

#include <memory>
#include <string>

#include "gpu-proxy/zone_snapshot.h"

namespace xg::proxy {

class MetricsServer {
 public:
  // Serves http://`address`/metrics (HOST:PORT, e.g. 127.0.0.1:9400, [::1]:9400, 0.0.0.0:9400); nullptr with
  // `error` set when the address does not parse, it cannot be bound, or this build has no prometheus-cpp.
  [[nodiscard]] static std::unique_ptr<MetricsServer> start(const std::string& address, std::string& error);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // The snapshot the next scrapes describe (until the next update). Before the first, /metrics is empty.
  void update(ProxySnapshot s);

  struct Impl;

 private:
  explicit MetricsServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Whether this build serves metrics (found prometheus-cpp).
[[nodiscard]] bool metrics_available() noexcept;
// What /metrics answers for `s` (Prometheus text format 0.0.4); empty without prometheus-cpp. For tests.
[[nodiscard]] std::string metrics_text(const ProxySnapshot& s);

}  // namespace xg::proxy
