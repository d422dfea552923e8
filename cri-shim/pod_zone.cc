#include "cri-shim/pod_zone.h"

#include <cstdio>

#include "gpu-proxy/control.h"
#include "gpu-proxy/units.h"

namespace xg::shim {
namespace {

constexpr size_t kMaxZoneName = 63;  // the proxy's limit (valid_zone_name)

// Letters, digits, '.', '_', '-' as the proxy allows; anything else becomes '_'.
std::string sanitize(std::string_view s) {
  std::string out;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-';
    out.push_back(ok ? c : '_');
  }
  return out;
}

// Kubernetes allows 63 + 253 characters for namespace and pod name: keep the readable front and a hash of the
// whole, so two long names with a common prefix still get different zones.
std::string fit(const std::string& name) {
  if (name.size() <= kMaxZoneName) return name;
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : name) h = (h ^ c) * 1099511628211ull;
  char tail[18];
  std::snprintf(tail, sizeof tail, "-%08x", static_cast<unsigned>(h ^ (h >> 32)));
  return name.substr(0, kMaxZoneName - 9) + tail;
}

}  // namespace

std::variant<ZoneSpec, std::string> zone_spec_for(const std::map<std::string, std::string>& a,
                                                  const std::string& containerd_ns, const std::string& container_id,
                                                  const ShimConfig& cfg) {
  ZoneSpec s{"", cfg.default_memory, cfg.default_weight};
  if (auto it = a.find(kAnnotationMemory); it != a.end()) {
    const auto q = proxy::parse_size(it->second);
    if (!q || *q == 0)
      return std::string("bad annotation ") + kAnnotationMemory + "='" + it->second.substr(0, 64) +
             "': expected a size such as 512MiB or 4GiB";
    s.quota = *q;
  }
  if (auto it = a.find(kAnnotationWeight); it != a.end()) {
    const auto w = proxy::parse_weight(it->second);
    if (!w)
      return std::string("bad annotation ") + kAnnotationWeight + "='" + it->second.substr(0, 64) +
             "': expected a whole number from 1 to " + std::to_string(proxy::kMaxWeight);
    s.weight = *w;
  }
  auto ns = a.find(kAnnotationSandboxNamespace), name = a.find(kAnnotationSandboxName);
  if (ns != a.end() && name != a.end()) s.name = fit(sanitize(ns->second + "." + name->second));
  else s.name = fit(sanitize(containerd_ns + "." + container_id));
  return s;
}

std::variant<PodZone, std::string> PodZone::create(const std::string& admin_socket, const ZoneSpec& spec) {
  std::string error;
  auto admin = proxy::AdminClient::connect(admin_socket, error);
  if (!admin) return "gpu-proxy is not reachable: " + error;
  auto reply = admin->request(proxy::AdminRequest{proxy::AdminVerb::kCreateBound, spec.name, spec.quota, spec.weight, 0});
  if (!reply) return std::string("gpu-proxy closed the admin connection");
  if (reply->rfind("ok ", 0) != 0) return "gpu-proxy refused zone '" + spec.name + "': " + *reply;
  return PodZone(spec, std::move(*admin), reply->substr(3));
}

std::variant<PodZone, std::string> PodZone::create_xen(const std::string& admin_socket, const ZoneSpec& spec,
                                                      uint32_t domid) {
  std::string error;
  auto admin = proxy::AdminClient::connect(admin_socket, error);
  if (!admin) return "gpu-proxy is not reachable: " + error;
  auto reply =
      admin->request(proxy::AdminRequest{proxy::AdminVerb::kCreateXen, spec.name, spec.quota, spec.weight, domid});
  if (!reply) return std::string("gpu-proxy closed the admin connection");
  if (reply->rfind("ok", 0) != 0)
    return "gpu-proxy refused zone '" + spec.name + "' for domain " + std::to_string(domid) + ": " + *reply;
  return PodZone(spec, std::move(*admin), "");
}

void PodZone::destroy() {
  if (!admin_) return;
  (void)admin_->request(proxy::AdminRequest{proxy::AdminVerb::kDestroy, spec_.name, 0, 0, 0});
  admin_.reset();
}

void destroy_zone(const std::string& admin_socket, const std::string& name) {
  std::string error;
  auto admin = proxy::AdminClient::connect(admin_socket, error);
  if (admin) (void)admin->request(proxy::AdminRequest{proxy::AdminVerb::kDestroy, name, 0, 0, 0});
}

}  // namespace xg::shim
