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

namespace {

// A decimal number from the daemon's environment, at most `max`.
std::optional<uint32_t> parse_id(std::string_view text, unsigned long max) {
  const std::string s(text);
  if (s.empty() || s.size() > 5 || s.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  const unsigned long v = std::strtoul(s.c_str(), nullptr, 10);
  if (v > max) return std::nullopt;
  return static_cast<uint32_t>(v);
}

}  // namespace

Result<std::unique_ptr<ZoneAcceptor>> open_zone_acceptor(int registration_fd, std::string_view xen_domid,
                                                         std::string_view xen_devid) {
  if (xen_domid.empty()) return open_shm_acceptor(UniqueFd(registration_fd));
  // Domain ids are below DOMID_FIRST_RESERVED (0x7FF0); device ids are ours (one per program of the zone).
  const auto domid = parse_id(xen_domid, 0x7FEFu);
  const auto devid = parse_id(xen_devid, 0xFFFFu);
  if (!domid || !devid) {
    log_line("bad Xen domain or device id '" + std::string(xen_domid) + "'/'" + std::string(xen_devid) + "'");
    return Error::kInvalidField;
  }
  return xen::open_acceptor(*domid, *devid);
}

}  // namespace xg::idm
