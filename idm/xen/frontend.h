// The Xen transport's frontend (zone side): the xenstore handshake of one device, then an endpoint whose memory
// is our granted channel pages (channel_pages.h), whose doorbell is an event channel (event_channel.h) and whose
// pinned host memory is pages we lend (lent_pages.h). Destroying the endpoint walks Closing -> (unbind, unshare)
// -> Closed.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "idm/channel.h"
#include "idm/result.h"
#include "idm/xen/xen_handshake.h"
#include "idm/xen/xenstore.h"

namespace xg::idm::xen {

struct FrontendOptions {
  uint32_t backend_domid = 0;
  uint32_t devid = 0;
  ChannelGeometry geometry = default_geometry();  // the frontend proposes; the backend validates
  std::chrono::milliseconds timeout{30'000};      // for the whole handshake
  std::optional<uint32_t> self_domid;             // default: read "domid" from our own xenstore dir
  // The device type (xenstore directory) and which rings this side calls on: a CUDA channel's frontend is the
  // caller (kZone); a pod zone's control channel (kCtlDeviceType) turns the roles round, the zone init answers.
  std::string device_type = kDeviceType;
  Role role = Role::kZone;
  // xenstore watches only wake us sooner. Turn them off where libxenstore is built without threads (Debian's
  // static libxenstore.a, which the static zone init links): there a watch event read where a reply was
  // expected closes the connection. The handshake then polls (every 50 ms) and liveness is re-checked on the
  // doorbell's own schedule.
  bool xs_watches = true;
};

// Runs the frontend handshake and returns the zone's endpoint (Role::kZone).
[[nodiscard]] Result<std::unique_ptr<Endpoint>> connect_frontend(const FrontendOptions& opts);

// The pieces connect_frontend is made of, public so that the hostile-frontend tests can write wrong values
// at each step. Not for production callers.
class FrontendSession {
 public:
  [[nodiscard]] static Result<FrontendSession> open(const FrontendOptions& opts);
  // Waits (bounded) until the backend is in InitWait and our node is Initialising (a fresh device).
  [[nodiscard]] Error wait_for_backend(Clock::time_point deadline);
  // Waits until the backend leaves `from`; returns its new state (kTimeout on deadline).
  [[nodiscard]] Result<LinkState> wait_backend_change(LinkState from, Clock::time_point deadline);
  [[nodiscard]] bool write(const std::string& key, std::string_view value) noexcept;
  [[nodiscard]] bool write_values(const FrontendValues& v) noexcept;
  [[nodiscard]] bool set_state(LinkState s) noexcept;
  [[nodiscard]] LinkState backend_state() noexcept;
  [[nodiscard]] std::string backend_error() noexcept;
  [[nodiscard]] const DevicePaths& paths() const noexcept { return paths_; }
  [[nodiscard]] uint32_t backend_domid() const noexcept { return backend_domid_; }
  [[nodiscard]] uint32_t self_domid() const noexcept { return self_domid_; }
  xs_handle* xs() noexcept { return xs_.get(); }
  // Moves the xenstore connection out (into the endpoint's doorbell).
  XsPtr take_xs() noexcept { return std::move(xs_); }

 private:
  XsPtr xs_;
  DevicePaths paths_;
  uint32_t backend_domid_ = 0, self_domid_ = 0;
};

}  // namespace xg::idm::xen
