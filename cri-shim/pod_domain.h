// A Xen-mode pod's domain as the task service drives it: the guest (built, its disks hot-plugged, destroyed),
// its zone on gpu-proxy (declared with it, ended with it) and the control channel to its zone init. One seam, so
// that the task service's Xen half runs unchanged against a test's domain (a scripted, hostile zone over an
// in-memory channel: task_service_xen_test.cc); the real one is xl, gpu-proxy's admin socket and the control
// device over grant tables (xen_pod_domain.cc).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>

#include "cri-shim/pod_zone.h"
#include "cri-shim/shim_config.h"
#include "cri-shim/xen_pod.h"
#include "cri-shim/zone_control.h"

namespace xg::shim {

class PodDomain {
 public:
  virtual ~PodDomain() = default;
  [[nodiscard]] virtual uint32_t domid() const = 0;
  [[nodiscard]] virtual const std::string& name() const = 0;
  // Is the domain still there? Asked by the pod's watcher, outside the task service's lock.
  [[nodiscard]] virtual bool alive() const = 0;
  // Hot-plugs `image` read-only as disk xvd('a' + index); the error says why not.
  [[nodiscard]] virtual std::optional<std::string> attach_disk(uint32_t index, const std::string& image) = 0;
  virtual void detach_disk(uint32_t index) = 0;
  // Waits (bounded) for the zone init on the domain's control channel and says CtlHello.
  [[nodiscard]] virtual std::variant<std::unique_ptr<ZoneControl>, std::string> connect(ZoneEvents events) = 0;
  // Destroys the domain and ends its zone on gpu-proxy. Idempotent; any thread.
  virtual void destroy() = 0;
};

// Boots the pod's domain and declares its zone; the error names what failed, and then nothing is left behind.
using PodDomainBooter =
    std::function<std::variant<std::shared_ptr<PodDomain>, std::string>(const XenPodSpec& pod, const ZoneSpec& zone)>;

// The real one: `xl create` (cfg.xl), gpu-proxy's `create-xen` (cfg.admin_socket), disks through
// cfg.block_script, the control channel over the domain's grant tables.
[[nodiscard]] PodDomainBooter xen_pod_domains(const ShimConfig& cfg);

}  // namespace xg::shim
