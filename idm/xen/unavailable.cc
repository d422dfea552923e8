// The Xen transport's entry points in a build without libxen-dev: nothing is a Xen guest, and asking for Xen
// (XEN_GPU_TRANSPORT=xen, or a daemon that names a domain) is an error with one line saying why.
#include "idm/log.h"
#include "idm/xen/xen_transport.h"

namespace xg::idm::xen {

bool guest_attached() noexcept { return false; }

Result<std::unique_ptr<Endpoint>> connect_guest(std::chrono::milliseconds) {
  log_line("the Xen transport was asked for, but this build has none (libxen-dev was absent)");
  return Error::kSystem;
}

Result<std::unique_ptr<ZoneAcceptor>> open_acceptor(uint32_t, uint32_t) {
  log_line("the Xen transport was asked for, but this build has none (libxen-dev was absent)");
  return Error::kSystem;
}

}  // namespace xg::idm::xen
