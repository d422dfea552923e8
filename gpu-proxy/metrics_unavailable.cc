// The build without prometheus-cpp: no metrics endpoint, and asking for one is an error that says why.
#include "gpu-proxy/metrics.h"

namespace xg::proxy {

struct MetricsServer::Impl {};

MetricsServer::MetricsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MetricsServer::~MetricsServer() = default;

std::unique_ptr<MetricsServer> MetricsServer::start(const std::string& address, std::string& error) {
  error = "--metrics " + address + ": this gpu-proxy was built without prometheus-cpp (install prometheus-cpp-dev, "
          "scripts/deps.sh build, and rebuild)";
  return nullptr;
}

void MetricsServer::update(ProxySnapshot) {}

bool metrics_available() noexcept { return false; }

std::string metrics_text(const ProxySnapshot&) { return ""; }

}  // namespace xg::proxy
