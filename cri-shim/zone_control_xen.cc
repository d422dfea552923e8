// ZoneControl::connect where the Xen transport is built: the shim is the backend of the domain's control device
// (idm::kCtlDeviceType, device 0) and, with the roles turned round, the side that calls (Role::kZone).
#include <cerrno>

#include "cri-shim/zone_control.h"
#include "idm/xen/backend.h"

namespace xg::shim {

std::variant<std::unique_ptr<ZoneControl>, std::string> ZoneControl::connect(uint32_t domid,
                                                                             std::chrono::milliseconds timeout,
                                                                             ZoneEvents events) {
  namespace xen = idm::xen;
  xen::BackendOptions o;
  o.frontend_domid = domid;
  o.devid = 0;
  o.device_type = idm::kCtlDeviceType;
  o.role = idm::Role::kZone;
  auto be = xen::Backend::create(o);
  if (!be)
    return "zone control: cannot serve domain " + std::to_string(domid) + "'s " + idm::kCtlDeviceType +
           " device: " + std::string(idm::error_name(be.error()));
  std::shared_ptr<xen::Backend> backend = std::move(be.value());
  const auto deadline = xen::Clock::now() + timeout;
  for (;;) {
    auto ep = backend->accept(deadline);
    if (ep) return make(std::move(ep.value()), backend, std::move(events), kDefaultCallTimeout);
    // A rejected handshake has been reset by accept(): the zone init may try again until the deadline.
    if (ep.error() == idm::Error::kInvalidField && xen::Clock::now() < deadline) continue;
    return "zone control: domain " + std::to_string(domid) + "'s zone init did not connect: " +
           std::string(idm::error_name(ep.error())) +
           (ep.error() == idm::Error::kTimeout ? " (after " + std::to_string(timeout.count()) + " ms)" : "");
  }
}

}  // namespace xg::shim
