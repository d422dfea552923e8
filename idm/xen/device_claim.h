// Which device a guest's program connects to. The proxy serves each program of a Xen zone through its own device
// (device/xen-gpu/N, one worker each) and keeps one waiting; programs of the guest that start at once must not
// pick the same one. A program claims a device in one xenstore transaction: it is free if the backend created it
// (its frontend state is still Initialising, backend-id set) and no program claimed it, or the claim is older than
// kStaleClaim (a program that died between claiming and connecting). The claim lives in the frontend's own
// directory, which the backend removes and rewrites for the device's next program.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

struct xs_handle;

namespace xg::idm::xen {

// The device ids under our device/xen-gpu directory, ascending (non-numeric entries ignored).
[[nodiscard]] std::vector<uint32_t> xs_device_ids(xs_handle* xs);
// Claims the lowest free device (device_claimable, xen_handshake.h); nullopt if none is free now.
[[nodiscard]] std::optional<uint32_t> claim_free_device(xs_handle* xs);

}  // namespace xg::idm::xen
