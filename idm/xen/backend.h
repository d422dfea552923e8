// The Xen transport's backend (driver-domain side) of one device of one zone: creates the xenstore nodes with
// explicit permissions (only the zone may write its frontend node), watches them and `@releaseDomain`,
// validates what the zone wrote (xen_handshake.h), maps the channel (channel_pages.h) and binds the event channel
// (event_channel.h). Its endpoints borrow the zone's lent pages for pinned host memory (lent_pages.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "idm/channel.h"
#include "idm/result.h"
#include "idm/xen/xen_handshake.h"
#include "idm/xen/xenstore.h"

namespace xg::idm::xen {

struct BackendOptions {
  uint32_t frontend_domid = 0;
  uint32_t devid = 0;
  uint32_t max_pages = default_geometry().total_pages() * 4;  // the most a zone may ask for (<= kMaxPages)
  std::chrono::milliseconds reject_grace{2'000};  // how long a rejected frontend gets to close before reset
  std::string device_type = kDeviceType;          // see FrontendOptions
  Role role = Role::kProxy;                        // the shim's end of a control channel is the caller (kZone)
};

class Backend {
 public:
  [[nodiscard]] static Result<std::unique_ptr<Backend>> create(const BackendOptions& opts);
  ~Backend();  // removes both nodes
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;

  // Waits for the frontend's details and connects (Role::kProxy endpoint). On a rejected handshake it logs,
  // writes `error` and Closing, gives the frontend `reject_grace` to close, resets both nodes to a fresh
  // handshake and returns kInvalidField, so the caller may accept() again. kPeerGone: the domain is gone.
  [[nodiscard]] Result<std::unique_ptr<Endpoint>> accept(Clock::time_point deadline);
  // After the endpoint has been destroyed (unmapped, unbound): waits (at most reject_grace) for the frontend to
  // reach Closed, then writes fresh nodes for the next frontend.
  [[nodiscard]] bool reset() noexcept;
  [[nodiscard]] const DevicePaths& paths() const noexcept { return paths_; }
  // Is the frontend's domain still there?
  [[nodiscard]] bool domain_alive() noexcept;

 private:
  explicit Backend(const BackendOptions& o) : opts_(o) {}
  [[nodiscard]] bool create_nodes() noexcept;
  void remove_nodes() noexcept;
  [[nodiscard]] FrontendValues read_values() noexcept;
  [[nodiscard]] Result<std::unique_ptr<Endpoint>> connect(const FrontendInfo& info);
  void reject(std::string_view why, Clock::time_point deadline) noexcept;
  // Blocks on the xenstore watch fd until something changes or `until`.
  void wait_watch(Clock::time_point until) noexcept;

  BackendOptions opts_;
  XsPtr xs_;
  DevicePaths paths_;
  uint32_t self_domid_ = 0;
};

}  // namespace xg::idm::xen
