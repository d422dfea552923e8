// ZoneControl::connect in a build without libxen-dev: there is no Xen backend to serve the control device, so
// Xen mode cannot run here; the error says so (stub mode is unaffected).
#include "cri-shim/zone_control.h"

namespace xg::shim {

std::variant<std::unique_ptr<ZoneControl>, std::string> ZoneControl::connect(uint32_t domid,
                                                                             std::chrono::milliseconds,
                                                                             ZoneEvents) {
  return "zone control: cannot serve domain " + std::to_string(domid) +
         ": this shim was built without the Xen transport (libxen-dev was absent)";
}

}  // namespace xg::shim
