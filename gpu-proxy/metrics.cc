#include "gpu-proxy/metrics.h"

#include <arpa/inet.h>
#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <exception>
#include <mutex>
#include <optional>
#include <vector>

#include "cuda/errors.h"
#include "gpu-proxy/units.h"
#include "idm/protocol.h"

namespace xg::proxy {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

class Families {
 public:
  // The family `name`, created on first use (families without a sample are left out: absent, not zero).
  MetricFamily& family(const std::string& name, const char* help, MetricType type) {
    for (MetricFamily& f : out_)
      if (f.name == name) return f;
    out_.push_back(MetricFamily{name, help, type, {}});
    return out_.back();
  }
  void gauge(const std::string& name, const char* help, std::vector<ClientMetric::Label> labels, double v) {
    ClientMetric m;
    m.label = std::move(labels);
    m.gauge.value = v;
    family(name, help, MetricType::Gauge).metric.push_back(std::move(m));
  }
  void counter(const std::string& name, const char* help, std::vector<ClientMetric::Label> labels, double v) {
    ClientMetric m;
    m.label = std::move(labels);
    m.counter.value = v;
    family(name, help, MetricType::Counter).metric.push_back(std::move(m));
  }
  std::vector<MetricFamily> take() { return std::move(out_); }

 private:
  std::vector<MetricFamily> out_;
};

std::string result_name(int32_t code) {
  const char* n = cuda::error_name(code);
  return n ? n : "CUresult_" + std::to_string(code);
}

std::vector<MetricFamily> families_of(const ProxySnapshot& s) {
  Families f;
  const auto ops = idm::all_ops();
  for (const ZoneSnapshot& z : s.zones) {
    const ClientMetric::Label zone{"zone", z.name};
    f.gauge("xen_gpu_zone_memory_used_bytes", "GPU memory charged to the zone (allocations and contexts)", {zone},
            double(z.used_bytes));
    f.gauge("xen_gpu_zone_memory_quota_bytes", "the zone's GPU-memory quota", {zone}, double(z.quota_bytes));
    f.gauge("xen_gpu_zone_memory_overhead_bytes", "the zone's contexts' own GPU memory (part of used)", {zone},
            double(z.overhead_bytes));
    f.gauge("xen_gpu_zone_memory_peak_bytes", "the most GPU memory the zone has held", {zone}, double(z.peak_bytes));
    f.counter("xen_gpu_zone_gpu_time_seconds_total", "GPU time accounted to the zone by the time slicer", {zone},
              double(z.gpu_ns) / 1e9);
    f.gauge("xen_gpu_zone_programs", "programs (workers) the zone runs now", {zone}, double(z.programs.size()));
    f.gauge("xen_gpu_zone_weight", "the zone's share of GPU time relative to other zones", {zone}, double(z.weight));
    f.counter("xen_gpu_zone_rejected_total", "requests of the zone refused as malformed or not allowed", {zone},
              double(z.rejected));
    f.counter("xen_gpu_zone_oom_refusals_total", "allocations refused for the zone's quota or object limits", {zone},
              double(z.oom_refusals));
    for (size_t i = 0; i < ops.size() && i < z.calls_by_op.size(); ++i)
      if (z.calls_by_op[i] != 0)
        f.counter("xen_gpu_zone_calls_total", "CUDA calls the zone's workers handled, by opcode",
                  {zone, {"op", ops[i].name}}, double(z.calls_by_op[i]));
    for (const auto& [code, n] : z.errors_by_result)
      f.counter("xen_gpu_zone_errors_total", "calls that returned an error, by CUresult",
                {zone, {"result", result_name(code)}}, double(n));
  }
  const ClientMetric::Label gpu{"gpu", "0"};
  const GpuSnapshot& g = s.gpu;
  if (g.utilization) f.gauge("xen_gpu_gpu_utilization_ratio", "GPU utilisation (NVML, 0..1)", {gpu}, *g.utilization);
  if (g.memory_used_bytes)
    f.gauge("xen_gpu_gpu_memory_used_bytes", "GPU memory in use (NVML)", {gpu}, double(*g.memory_used_bytes));
  if (g.memory_total_bytes)
    f.gauge("xen_gpu_gpu_memory_total_bytes", "GPU memory in all", {gpu}, double(*g.memory_total_bytes));
  if (g.temperature_celsius)
    f.gauge("xen_gpu_gpu_temperature_celsius", "GPU temperature (NVML)", {gpu}, *g.temperature_celsius);
  if (!g.driver_version.empty())
    f.gauge("xen_gpu_driver_info", "the host driver's version (NVML)", {{"version", g.driver_version}}, 1);
  return f.take();
}

// The daemon's latest snapshot, read by the exposer's threads.
class SnapshotCollectable : public prometheus::Collectable {
 public:
  void set(ProxySnapshot s) {
    std::lock_guard lock(mu_);
    latest_ = std::move(s);
  }
  std::vector<MetricFamily> Collect() const override {
    std::lock_guard lock(mu_);
    return latest_ ? families_of(*latest_) : std::vector<MetricFamily>{};
  }

 private:
  mutable std::mutex mu_;
  std::optional<ProxySnapshot> latest_;
};

// civetweb's listening_ports for HOST:PORT: an IPv4 literal (or localhost) or a bracketed IPv6 literal, and a port
// in 1..65535; civetweb resolves no names.
std::optional<std::string> listen_spec(const std::string& address, std::string& error) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    error = "bad --metrics '" + address + "' (want HOST:PORT, e.g. 127.0.0.1:9400)";
    return std::nullopt;
  }
  std::string host = address.substr(0, colon);
  const auto port = parse_count(address.substr(colon + 1), 1, 65535);
  if (host == "localhost") host = "127.0.0.1";
  bool literal = false;
  unsigned char buf[16];
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    literal = ::inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), buf) == 1;
  else literal = ::inet_pton(AF_INET, host.c_str(), buf) == 1;
  if (!port || !literal) {
    error = "bad --metrics '" + address + "' (want IPv4:PORT or [IPv6]:PORT with PORT 1..65535)";
    return std::nullopt;
  }
  return host + ":" + std::to_string(*port);
}

}  // namespace

struct MetricsServer::Impl {
  std::shared_ptr<SnapshotCollectable> collectable = std::make_shared<SnapshotCollectable>();
  std::unique_ptr<prometheus::Exposer> exposer;
};

MetricsServer::MetricsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MetricsServer::~MetricsServer() {
  // The exposer's threads stop (and stop reading the collectable) before the collectable goes.
  if (impl_) impl_->exposer.reset();
}

std::unique_ptr<MetricsServer> MetricsServer::start(const std::string& address, std::string& error) {
  const auto spec = listen_spec(address, error);
  if (!spec) return nullptr;
  auto impl = std::make_unique<Impl>();
  try {
    // civetweb reports a port it cannot bind by throwing; errors stay values past this point.
    impl->exposer = std::make_unique<prometheus::Exposer>(*spec, 2);
    impl->exposer->RegisterCollectable(impl->collectable, "/metrics");
  } catch (const std::exception& e) {
    error = "cannot serve metrics on " + address + ": " + e.what();
    return nullptr;
  }
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(impl)));
}

void MetricsServer::update(ProxySnapshot s) { impl_->collectable->set(std::move(s)); }

bool metrics_available() noexcept { return true; }

std::string metrics_text(const ProxySnapshot& s) { return prometheus::TextSerializer().Serialize(families_of(s)); }

}  // namespace xg::proxy
