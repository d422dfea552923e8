// A pod's zone on gpu-proxy: its name, quota and weight come from the pod's annotations (checked here, one
// error naming the bad annotation), and it lives as long as the shim's admin connection: the shim ends it with
// the pod, and if the shim dies (SIGKILL included) the proxy sees the connection close and ends it too. The
// zone has its own socket (`create-bound`), which the shim mounts into that pod's containers alone.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>

#include "cri-shim/shim_config.h"
#include "gpu-proxy/admin_client.h"

namespace xg::shim {

inline constexpr const char* kAnnotationMemory = "xen-gpu.io/memory";
inline constexpr const char* kAnnotationWeight = "xen-gpu.io/weight";
// CRI's annotations on every container's OCI spec (containerd pkg/cri/annotations).
inline constexpr const char* kAnnotationContainerType = "io.kubernetes.cri.container-type";
inline constexpr const char* kAnnotationSandboxId = "io.kubernetes.cri.sandbox-id";
inline constexpr const char* kAnnotationSandboxName = "io.kubernetes.cri.sandbox-name";
inline constexpr const char* kAnnotationSandboxNamespace = "io.kubernetes.cri.sandbox-namespace";

struct ZoneSpec {
  std::string name;
  uint64_t quota = 0;
  uint32_t weight = 1;
};

// The zone for a pod whose sandbox (or, outside Kubernetes, lone container) has these annotations; or the error
// naming the annotation that is wrong. Kubernetes pods are named "<namespace>.<pod>" (shortened with a hash
// past the proxy's 63 characters); other containers "<containerd namespace>.<container id>".
[[nodiscard]] std::variant<ZoneSpec, std::string> zone_spec_for(const std::map<std::string, std::string>& annotations,
                                                                const std::string& containerd_ns,
                                                                const std::string& container_id, const ShimConfig& cfg);

class PodZone {
 public:
  // Declares the zone on the proxy; the error says why not.
  [[nodiscard]] static std::variant<PodZone, std::string> create(const std::string& admin_socket, const ZoneSpec& spec);
  // Xen mode: declares the zone as the one of Xen domain `domid` (the admin `create-xen` verb, what
  // `xen-gpu attach` sends). It has no socket; the proxy ends it when the domain goes, or with destroy().
  [[nodiscard]] static std::variant<PodZone, std::string> create_xen(const std::string& admin_socket,
                                                                     const ZoneSpec& spec, uint32_t domid);
  const ZoneSpec& spec() const { return spec_; }
  // The zone's own socket on the host (mounted into the pod's containers); empty for a Xen zone.
  const std::string& socket_path() const { return socket_; }
  // Ends the zone now (also what happens when this object's connection closes).
  void destroy();

 private:
  PodZone(ZoneSpec spec, proxy::AdminClient admin, std::string socket)
      : spec_(std::move(spec)), admin_(std::move(admin)), socket_(std::move(socket)) {}
  ZoneSpec spec_;
  std::optional<proxy::AdminClient> admin_;
  std::string socket_;
};

// Ends zone `name` over a fresh admin connection (the `delete` command after a crash; usually a no-op then,
// since the proxy ended it when the dead shim's connection closed).
void destroy_zone(const std::string& admin_socket, const std::string& name);

}  // namespace xg::shim
