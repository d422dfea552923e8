// The Xen transport: the same channel (rings, data area, codec) as shm; Xen only supplies the memory and the
// doorbell.
//   memory:   frontend (zone) shares the channel pages with xengntshr_share_pages (gntalloc); the backend
//             (driver domain) maps them with xengnttab_map_domain_grant_refs (gntdev). Grant refs travel in
//             read-only "directory" pages named in xenstore (see xen_handshake.h for the layout and why).
//   doorbell: one interdomain event channel for both directions. notify = xenevtchn_notify; wait = poll() on
//             the evtchn fd, then xenevtchn_pending/unmask. Events are hints (ring.h re-checks state); a
//             freshly bound port has one pending, which costs one spurious wake-up and nothing else.
//   liveness: the peer's XenbusState in xenstore is not Closing/Closed/absent, and (backend) the frontend's
//             domain is still introduced to xenstored.
// Both sides end up with the same std::unique_ptr<Endpoint> as the shm transport, so gpu-proxy serves shm and
// Xen zones with the same worker code. Destroying the Endpoint walks Closing -> (unbind, unmap) -> Closed.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "idm/channel.h"
#include "idm/result.h"
#include "idm/xen/xen_handshake.h"

struct xs_handle;

namespace xg::idm::xen {

using Clock = std::chrono::steady_clock;

// xenstore paths of one device.
struct DevicePaths {
  std::string frontend;  // /local/domain/F/device/xen-gpu/N
  std::string backend;   // /local/domain/B/backend/xen-gpu/F/N
};
[[nodiscard]] DevicePaths device_paths(uint32_t frontend_domid, uint32_t backend_domid, uint32_t devid);

// An owned libxenstore connection.
struct XsCloser {
  void operator()(xs_handle* h) const noexcept;
};
using XsPtr = std::unique_ptr<xs_handle, XsCloser>;
[[nodiscard]] XsPtr xs_connect() noexcept;

// Small xenstore helpers (nullopt / false on any failure; values longer than kMaxValueBytes are refused).
[[nodiscard]] std::optional<std::string> xs_get(xs_handle* xs, const std::string& path) noexcept;
[[nodiscard]] bool xs_put(xs_handle* xs, const std::string& path, std::string_view value) noexcept;
[[nodiscard]] LinkState xs_state(xs_handle* xs, const std::string& dir) noexcept;  // bad value -> kUnknown
[[nodiscard]] bool xs_set_state(xs_handle* xs, const std::string& dir, LinkState s) noexcept;

// ---- zone side ------------------------------------------------------------------------------------------

struct FrontendOptions {
  uint32_t backend_domid = 0;
  uint32_t devid = 0;
  ChannelGeometry geometry = default_geometry();  // the frontend proposes; the backend validates
  std::chrono::milliseconds timeout{30'000};      // for the whole handshake
  std::optional<uint32_t> self_domid;             // default: read "domid" from our own xenstore dir
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

// Shares `geometry.total_pages()` zeroed channel pages, the read-only directory pages and the liveness page
// (unmap notification on `port`, our end of the event channel) with `domid`.
class GrantShare;
[[nodiscard]] Result<std::unique_ptr<GrantShare>> share_channel(uint32_t domid, const ChannelGeometry& geometry,
                                                                uint32_t port);
class GrantShare final : public SharedMemory {
 public:
  ~GrantShare() override;
  std::span<std::byte> bytes() noexcept override;
  [[nodiscard]] std::span<const uint32_t> dir_refs() const noexcept { return dir_refs_; }
  [[nodiscard]] uint32_t alive_ref() const noexcept { return alive_ref_; }
  // The liveness page (byte kFrontendAliveByte is ours, kBackendAliveByte the backend's).
  [[nodiscard]] volatile uint8_t* alive_page() noexcept;
  // The directory pages themselves (tests overwrite them with garbage refs).
  [[nodiscard]] std::span<uint32_t> directory() noexcept;
  // Keeps `p` (the connection's xenstore link) alive until the pages are unshared, so that "Closed" is written
  // only after that.
  void hold_until_unshared(std::shared_ptr<void> p) noexcept;

 private:
  friend Result<std::unique_ptr<GrantShare>> share_channel(uint32_t, const ChannelGeometry&, uint32_t);
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::vector<uint32_t> dir_refs_;
  uint32_t alive_ref_ = 0;
};

// ---- driver-domain side ---------------------------------------------------------------------------------

struct BackendOptions {
  uint32_t frontend_domid = 0;
  uint32_t devid = 0;
  uint32_t max_pages = default_geometry().total_pages() * 4;  // the most a zone may ask for (<= kMaxPages)
  std::chrono::milliseconds reject_grace{2'000};  // how long a rejected frontend gets to close before reset
};

// One device of one zone: creates the xenstore nodes with explicit permissions (only the zone may write its
// frontend node), watches them and `@releaseDomain`, validates what the zone wrote, maps and binds.
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
