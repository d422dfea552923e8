#include "idm/transport.h"

#include <cstdlib>

#include "idm/log.h"
#include "idm/transport_shm.h"
#include "idm/xen/xen_transport.h"

namespace xg::idm {

Result<ProxyConnection> connect_to_proxy(const std::string& socket_path, std::string_view zone_name,
                                         uint64_t requested_quota, std::chrono::milliseconds timeout) {
  const char* forced = std::getenv("XEN_GPU_TRANSPORT");
  const std::string_view want = forced != nullptr ? std::string_view(forced) : std::string_view();
  const char* sock = std::getenv("XEN_GPU_SOCKET");
  if (want == "xen" || (want != "shm" && (sock == nullptr || *sock == '\0') && xen::guest_attached())) {
    auto ep = xen::connect_guest(timeout);
    if (!ep) return ep.error();
    return ProxyConnection{0, std::move(ep.value())};  // a Xen zone never learns the proxy's id for it
  }
  auto zc = connect_zone(socket_path, zone_name, requested_quota, timeout);
  if (!zc) return zc.error();
  return ProxyConnection{zc->zone_id, std::move(zc->endpoint)};
}

Result<std::unique_ptr<ZoneAcceptor>> open_zone_acceptor(int registration_fd, std::string_view xen_domid) {
  if (xen_domid.empty()) return open_shm_acceptor(UniqueFd(registration_fd));
  // Domain ids are below DOMID_FIRST_RESERVED (0x7FF0).
  const std::string s(xen_domid);
  char* end = nullptr;
  const unsigned long domid = std::strtoul(s.c_str(), &end, 10);
  if (*end != '\0' || s.find_first_not_of("0123456789") != std::string::npos || domid > 0x7FEFu) {
    log_line("bad Xen domain id '" + s + "'");
    return Error::kInvalidField;
  }
  return xen::open_acceptor(static_cast<uint32_t>(domid));
}

}  // namespace xg::idm
