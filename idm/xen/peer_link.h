// What the doorbell and the memory of one connected Xen endpoint share: the xenstore connection used for the
// peer's liveness and for walking our own state to Closed once everything is unmapped. Held by shared_ptr; its
// last owner (the memory, destroyed after the doorbell) writes Closed.
#pragma once

#include <cstdint>
#include <string>

#include "idm/xen/xenstore.h"

namespace xg::idm::xen {

struct PeerLink {
  XsPtr xs;
  std::string self_dir, peer_dir;
  Side side = Side::kFrontend;
  uint32_t peer_domid = 0;
  bool check_domain = false;  // backend: also ask xenstored whether the zone's domain still exists
  // The peer's byte in the liveness page (cleared by the peer's kernel when its process dies). The page
  // outlives the doorbell: the memory object, destroyed last, unmaps/unshares it.
  const volatile uint8_t* peer_alive_byte = nullptr;
  PeerLink() = default;
  PeerLink(const PeerLink&) = delete;
  PeerLink& operator=(const PeerLink&) = delete;
  ~PeerLink() {
    if (xs) (void)xs_set_state(xs.get(), self_dir, LinkState::kClosed);
  }
};

}  // namespace xg::idm::xen
