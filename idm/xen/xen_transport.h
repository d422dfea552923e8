// The Xen transport as idm/transport.cc sees it: three entry points. Implemented over libxen by frontend.cc
// (zone side) and backend_acceptor.cc (worker side); when libxen-dev is absent, by unavailable.cc.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "idm/transport.h"

namespace xg::idm::xen {

// Are we a Xen guest whose xenstore has our device directory (device/xen-gpu: the operator ran `xen-gpu attach`
// for this domain)? Always false without the Xen transport.
[[nodiscard]] bool guest_attached() noexcept;
// Connects this guest's program to a free device of the zone (one device node per program: the proxy keeps one
// waiting; the program claims it in a xenstore transaction, so programs of the guest starting at once never share
// one). Without the Xen transport: kSystem, logged.
[[nodiscard]] Result<std::unique_ptr<Endpoint>> connect_guest(std::chrono::milliseconds timeout);
// The worker's acceptor for the Xen zone of domain `domid`: it is that domain's backend for device `devid`.
[[nodiscard]] Result<std::unique_ptr<ZoneAcceptor>> open_acceptor(uint32_t domid, uint32_t devid);

}  // namespace xg::idm::xen
