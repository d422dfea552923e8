// xenstore for the Xen transport: an owned libxenstore connection, a device's paths, and small helpers that
// read and write one node (nullopt / false on any failure; values longer than kMaxValueBytes are refused).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "idm/xen/xen_handshake.h"

struct xs_handle;

namespace xg::idm::xen {

using Clock = std::chrono::steady_clock;

// xenstore paths of one device.
struct DevicePaths {
  std::string frontend;  // /local/domain/F/device/xen-gpu/N
  std::string backend;   // /local/domain/B/backend/xen-gpu/F/N
};
// `type`: the device type's directory name (kDeviceType for CUDA channels; kCtlDeviceType for a pod zone's
// control channel).
[[nodiscard]] DevicePaths device_paths(uint32_t frontend_domid, uint32_t backend_domid, uint32_t devid,
                                       std::string_view type = kDeviceType);

// An owned libxenstore connection.
struct XsCloser {
  void operator()(xs_handle* h) const noexcept;
};
using XsPtr = std::unique_ptr<xs_handle, XsCloser>;
[[nodiscard]] XsPtr xs_connect() noexcept;

[[nodiscard]] std::optional<std::string> xs_get(xs_handle* xs, const std::string& path) noexcept;
[[nodiscard]] bool xs_put(xs_handle* xs, const std::string& path, std::string_view value) noexcept;
[[nodiscard]] LinkState xs_state(xs_handle* xs, const std::string& dir) noexcept;  // bad value -> kUnknown
[[nodiscard]] bool xs_set_state(xs_handle* xs, const std::string& dir, LinkState s) noexcept;
// Our own domain id ("domid", relative to our own /local/domain/<id>).
[[nodiscard]] std::optional<uint32_t> xs_self_domid(xs_handle* xs) noexcept;
// Is `domid` still introduced to xenstored (false once it is being destroyed)?
[[nodiscard]] bool xs_domain_alive(xs_handle* xs, uint32_t domid) noexcept;
// Drains pending watch events; returns after something fired or at `until`.
void xs_wait(xs_handle* xs, Clock::time_point until) noexcept;

}  // namespace xg::idm::xen
