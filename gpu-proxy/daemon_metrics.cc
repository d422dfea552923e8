// The daemon's GPU monitoring: the driver domain's NVML (host_nvml.h) and the Prometheus endpoint (metrics.h),
// both optional. NVML is opened only with the real driver: the simulated driver's GPU has none, and a node's
// NVML describes the real GPU, not the one the zones see in stub mode.
#include <algorithm>
#include <cstring>

#include "gpu-proxy/daemon_internal.h"
#include "gpu-proxy/host_nvml.h"
#include "gpu-proxy/metrics.h"
#include "idm/log.h"

namespace xg::proxy {

namespace {
constexpr auto kMetricsPeriod = std::chrono::seconds(1);
}

bool Daemon::start_monitoring() {
  if (opts_.driver == "real") {
    std::string why;
    nvml_ = HostNvml::open(why);
    if (nvml_) idm::log_line("NVML: host driver " + nvml_->driver_version());
    else idm::log_line("no NVML (" + why + "): the GPU's utilisation, memory in use and temperature are not reported");
  }
  if (opts_.metrics_address.empty()) return true;
  std::string error;
  metrics_ = MetricsServer::start(opts_.metrics_address, error);
  if (!metrics_) {
    idm::log_line(error);
    return false;
  }
  idm::log_line("metrics: http://" + opts_.metrics_address + "/metrics");
  return true;
}

// About once a second, from the loop: the exposer's threads serve this snapshot until the next.
void Daemon::publish_metrics() {
  if (!metrics_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - metrics_at_ < kMetricsPeriod) return;
  metrics_at_ = now;
  metrics_->update(snapshot());
}

void Daemon::stamp_driver_version(ZonePage& page) const {
  if (!nvml_) return;
  const std::string& v = nvml_->driver_version();
  const size_t n = std::min(v.size(), sizeof page.driver_version - 1);
  std::memcpy(page.driver_version, v.data(), n);
  page.driver_version[n] = 0;
}

}  // namespace xg::proxy
