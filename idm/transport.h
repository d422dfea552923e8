// The one transport interface everything outside idm/ uses. A transport (shm: transport_shm.h; Xen: idm/xen/)
// yields an Endpoint (channel.h): the channel, its doorbell and the transport's way of sharing pinned host pages
// (host_pages.h). Which transport is chosen here, and only here:
//   zone side:  connect_to_proxy() decides between shm and Xen (the xenstore probe: "am I an attached guest?");
//   proxy side: open_zone_acceptor() makes the worker's acceptor for what the daemon started it for.
// When libxen-dev is absent the Xen transport is not compiled (idm/xen/unavailable.cc stands in): nothing is a
// Xen guest, and asking for Xen is an error with one log line.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "idm/channel.h"
#include "idm/result.h"

namespace xg::idm {

// ---- zone side --------------------------------------------------------------------------------------------

struct ProxyConnection {
  uint32_t zone_id = 0;  // the proxy's id for us (shm; 0 over Xen, where the zone never learns it)
  std::unique_ptr<Endpoint> endpoint;
};

// Connects this process to its zone's proxy. XEN_GPU_TRANSPORT=shm|xen decides; otherwise Xen when
// XEN_GPU_SOCKET is not set (an shm zone started by `xen-gpu run` always has it) and this is a Xen guest with our
// device directory (device/xen-gpu) in its xenstore; shm (registering as `zone_name` on `socket_path`) otherwise.
[[nodiscard]] Result<ProxyConnection> connect_to_proxy(const std::string& socket_path, std::string_view zone_name,
                                                       uint64_t requested_quota, std::chrono::milliseconds timeout);

// ---- proxy side (a zone's worker) -------------------------------------------------------------------------

// What a zone said about itself when it connected (shm: its Hello, validated); the daemon re-validates it.
struct ZoneIntroduction {
  std::string name;
  uint32_t pid = 0;
  uint64_t requested_quota = 0;
};

// Where a worker's zone connects from. One flow for every transport:
//   introduction() -> (the daemon's decision) -> accept() -> serve -> [endpoint destroyed] -> zone_lives_on()
class ZoneAcceptor {
 public:
  virtual ~ZoneAcceptor() = default;
  // The zone's introduction, read (bounded by `timeout`) before anything else. nullopt where the transport has
  // none: the daemon already knows the zone (Xen: the operator attached a domain and named it).
  [[nodiscard]] virtual Result<std::optional<ZoneIntroduction>> introduction(std::chrono::milliseconds timeout) = 0;
  // Waits until a program of the zone has connected and returns the proxy's endpoint. Returns kTimeout when
  // `stop` became true (checked at least every 500 ms), kPeerGone when the zone is gone for good.
  // The channel's geometry is the transport's (shm: the proxy's default, XG_SHM_DATA_PAGES for tests; Xen: what
  // the frontend proposed, validated).
  [[nodiscard]] virtual Result<std::unique_ptr<Endpoint>> accept(uint32_t zone_id, const std::atomic<bool>& stop) = 0;
  // Asked once the program's channel has ended: does the zone live on, so that another program may connect
  // (Xen: the domain outlives each program)? shm: the zone is the program, never.
  [[nodiscard]] virtual bool zone_lives_on() = 0;
  // After the endpoint has been destroyed, when the zone lives on: waits (bounded) until the old peer has
  // finished closing, so that its late state cannot land on the next program's handshake.
  virtual void await_peer_closed() = 0;
  // For the log: a label for the prefix (e.g. "" or " domid 5") and what is being served (e.g. "" or "a program
  // of domain 5 over Xen ").
  [[nodiscard]] virtual std::string log_label() const = 0;
  [[nodiscard]] virtual std::string serving_what() const = 0;
};

// The acceptor of a worker process: the Xen backend of domain `xen_domid`'s device `xen_devid` when the daemon
// named one (decimal, from its environment; `registration_fd` is then left alone: the daemon passes none), else the
// shm registration arriving on `registration_fd`, which the acceptor adopts.
[[nodiscard]] Result<std::unique_ptr<ZoneAcceptor>> open_zone_acceptor(int registration_fd,
                                                                       std::string_view xen_domid,
                                                                       std::string_view xen_devid = "0");

}  // namespace xg::idm
