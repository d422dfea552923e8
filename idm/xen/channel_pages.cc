#include "idm/xen/channel_pages.h"

#include <sys/mman.h>

#include "idm/log.h"
#include "idm/xen/xen_c.h"
#include "idm/xen/xen_handshake.h"

namespace xg::idm::xen {

GrantShare::~GrantShare() {
  // Clears our liveness byte and signals the backend (gntalloc unmap notification); also happens if we die.
  if (alive_) ::xengntshr_unshare(chan_.handle(), alive_, 1);
  // Then chan_ unshares the channel and its directory, and link_, the connection's last owner, writes Closed
  // now that nothing is shared.
}

Result<std::unique_ptr<GrantShare>> share_channel(uint32_t domid, const ChannelGeometry& g, uint32_t port) {
  if (!g.valid() || g.total_pages() > kMaxPages) return Error::kInvalidField;
  auto xgs = open_gntshr();
  if (!xgs) return Error::kSystem;
  auto s = std::unique_ptr<GrantShare>(new GrantShare(xgs));
  if (Error e = s->chan_.share(domid, g.total_pages()); e != Error::kOk) return e;
  s->alive_ = ::xengntshr_share_page_notify(xgs.get(), domid, &s->alive_ref_, 1, kFrontendAliveByte, port);
  if (!s->alive_) {
    log_errno("xen: share liveness page");
    return Error::kSystem;
  }
  s->alive_page()[kFrontendAliveByte] = 1;
  Channel::format(s->bytes(), g);
  return s;
}

GrantMap::~GrantMap() {
  // Unmapping the liveness page clears our byte in it and signals the zone (gntdev unmap notification).
  if (alive_ && ::xengnttab_unmap(chan.handle(), alive_, 1) != 0) log_errno("xen: unmap liveness page");
}

bool GrantMap::map_alive(uint32_t domid, uint32_t ref, uint32_t port) noexcept {
  alive_ = ::xengnttab_map_grant_ref_notify(chan.handle(), domid, ref, PROT_READ | PROT_WRITE, kBackendAliveByte,
                                            static_cast<evtchn_port_t>(port));
  if (!alive_) return false;
  static_cast<volatile uint8_t*>(alive_)[kBackendAliveByte] = 1;
  return true;
}

}  // namespace xg::idm::xen
