// The zone's end of the control channel: the frontend of xenstore device `xen-gpu-ctl`/0, answering
// (Role::kProxy) the calls of the shim, which is its backend in dom0.
#pragma once

#include <chrono>
#include <memory>

#include "idm/channel.h"
#include "idm/result.h"

namespace xg::zone {

// Waits (up to `wait`) until the shim has written device/xen-gpu-ctl/0/backend-id in our xenstore, then runs
// the frontend handshake; retried until `wait` has passed.
[[nodiscard]] idm::Result<std::unique_ptr<idm::Endpoint>> connect_control(std::chrono::milliseconds wait);

}  // namespace xg::zone
