#include "idm/xen/frontend.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "idm/log.h"
#include "idm/xen/channel_pages.h"
#include "idm/xen/device_claim.h"
#include "idm/xen/event_channel.h"
#include "idm/xen/lent_pages.h"
#include "idm/xen/xen_c.h"
#include "idm/xen/xen_transport.h"

namespace xg::idm::xen {

Result<FrontendSession> FrontendSession::open(const FrontendOptions& opts) {
  FrontendSession s;
  s.xs_ = xs_connect();
  if (!s.xs_) {
    log_errno("xen: xs_open");
    return Error::kSystem;
  }
  auto self = opts.self_domid ? opts.self_domid : xs_self_domid(s.xs_.get());
  if (!self) {
    log_line("xen: cannot read our own domid from xenstore");
    return Error::kSystem;
  }
  s.self_domid_ = *self;
  s.backend_domid_ = opts.backend_domid;
  s.paths_ = device_paths(*self, opts.backend_domid, opts.devid, opts.device_type);
  // Watches only make us wake sooner: every wait below also re-reads at a bounded interval.
  if (opts.xs_watches) {
    ::xs_watch(s.xs_.get(), (s.paths_.backend + "/state").c_str(), "be");
    ::xs_watch(s.xs_.get(), (s.paths_.frontend + "/state").c_str(), "fe");
  }
  return s;
}

Error FrontendSession::wait_for_backend(Clock::time_point deadline) {
  for (;;) {
    if (xs_state(xs(), paths_.frontend) == LinkState::kInitialising && backend_state() == LinkState::kInitWait)
      return Error::kOk;
    if (Clock::now() >= deadline) return Error::kTimeout;
    xs_wait(xs(), std::min(deadline, Clock::now() + std::chrono::milliseconds(50)));
  }
}

Result<LinkState> FrontendSession::wait_backend_change(LinkState from, Clock::time_point deadline) {
  for (;;) {
    const LinkState s = backend_state();
    if (s != from) return s;
    if (Clock::now() >= deadline) return Error::kTimeout;
    xs_wait(xs(), std::min(deadline, Clock::now() + std::chrono::milliseconds(50)));
  }
}

bool FrontendSession::write(const std::string& key, std::string_view value) noexcept {
  return xs_put(xs(), paths_.frontend + "/" + key, value);
}

bool FrontendSession::write_values(const FrontendValues& v) noexcept {
  const std::pair<const char*, const std::optional<std::string>*> kv[] = {
      {"protocol-version", &v.protocol_version}, {"request-ring-bytes", &v.request_ring_bytes},
      {"response-ring-bytes", &v.response_ring_bytes}, {"max-payload", &v.max_payload},
      {"data-pages", &v.data_pages}, {"num-pages", &v.num_pages},
      {"ring-refs", &v.ring_refs}, {"event-channel", &v.event_channel}, {"alive-ref", &v.alive_ref}};
  for (auto [k, val] : kv) {
    if (!val->has_value()) continue;
    if (!write(k, **val)) return false;
  }
  return true;
}

bool FrontendSession::set_state(LinkState s) noexcept { return xs_set_state(xs(), paths_.frontend, s); }
LinkState FrontendSession::backend_state() noexcept { return xs_state(xs(), paths_.backend); }
std::string FrontendSession::backend_error() noexcept {
  return xs_get(xs(), paths_.backend + "/error").value_or("");
}

Result<std::unique_ptr<Endpoint>> connect_frontend(const FrontendOptions& opts) {
  const auto deadline = Clock::now() + opts.timeout;
  auto s = FrontendSession::open(opts);
  if (!s) return s.error();
  if (Error e = s->wait_for_backend(deadline); e != Error::kOk) {
    log_line("xen: no backend in InitWait at " + s->paths().backend);
    return e;
  }
  EvtchnPtr xce = evtchn_open();
  if (!xce) {
    log_errno("xen: xenevtchn_open");
    return Error::kSystem;
  }
  const xenevtchn_port_or_error_t port = ::xenevtchn_bind_unbound_port(xce.get(), opts.backend_domid);
  if (port < 0) {
    log_errno("xen: bind unbound port");
    return Error::kSystem;
  }
  auto mem = share_channel(opts.backend_domid, opts.geometry, static_cast<uint32_t>(port));
  if (!mem) return mem.error();
  auto fail = [&](Error e) {
    ::xenevtchn_unbind(xce.get(), static_cast<evtchn_port_t>(port));
    (void)s->set_state(LinkState::kClosed);
    return e;
  };
  if (!s->write_values(make_frontend_values(opts.geometry, (*mem)->dir_refs(), static_cast<uint32_t>(port),
                                             (*mem)->alive_ref())) ||
      !s->set_state(LinkState::kInitialised)) {
    log_errno("xen: write frontend details");
    return fail(Error::kSystem);
  }
  LinkState self = LinkState::kInitialised;
  for (;;) {
    auto peer = s->wait_backend_change(LinkState::kInitWait, deadline);
    if (!peer) return fail(peer.error());
    const Step st = step(Side::kFrontend, self, *peer);
    if (st.action == Action::kConnect) break;
    if (st.action != Action::kWait) {
      log_line(std::string("xen: backend refused us (") + state_name(*peer) + "): " + s->backend_error());
      return fail(Error::kInvalidField);
    }
  }
  auto link = std::make_shared<PeerLink>();
  link->xs = s->take_xs();
  link->self_dir = s->paths().frontend;
  link->peer_dir = s->paths().backend;
  link->side = Side::kFrontend;
  link->peer_domid = opts.backend_domid;
  link->check_domain = false;
  link->peer_alive_byte = (*mem)->alive_page() + kBackendAliveByte;
  if (opts.xs_watches) ::xs_watch(link->xs.get(), (link->peer_dir + "/state").c_str(), "peer");
  (*mem)->hold_until_unshared(link);
  auto bell = std::make_unique<EvtchnDoorbell>(std::move(xce), static_cast<uint32_t>(port), link);
  auto ep = make_endpoint(std::move(mem.value()), std::move(bell), opts.geometry, opts.role);
  if (!ep) return ep.error();
  // Pinned host memory: pages we grant the backend on demand (its own gntalloc handle).
  (*ep)->zone_pages = lending_pages(opts.backend_domid);
  (void)xs_set_state(link->xs.get(), link->self_dir, LinkState::kConnected);
  return ep;
}

// ---- the zone's entry point (xen_transport.h) ------------------------------------------------------------

namespace {

bool in_xen_guest() {
  return ::access("/dev/xen/xenbus", F_OK) == 0 || ::access("/proc/xen/capabilities", F_OK) == 0;
}

// The backend's domain id of our device `devid` (created by a gpu-proxy worker in the driver domain).
std::optional<uint32_t> device_backend(xs_handle* xs, uint32_t devid) {
  auto v = xs_get(xs, std::string("device/") + kDeviceType + "/" + std::to_string(devid) + "/backend-id");
  if (!v || v->empty() || v->size() > 5 || v->find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return static_cast<uint32_t>(std::strtoul(v->c_str(), nullptr, 10));
}

}  // namespace

// Was this domain attached at all (device/xen-gpu exists; its device 0 is rewritten between two programs)?
bool guest_attached() noexcept {
  if (!in_xen_guest()) return false;
  auto xs = xs_connect();
  return xs && xs_get(xs.get(), std::string("device/") + kDeviceType).has_value();
}

Result<std::unique_ptr<Endpoint>> connect_guest(std::chrono::milliseconds timeout) {
  // Forced (XEN_GPU_TRANSPORT=xen), or while the proxy readies the next device (a moment after another program
  // took the waiting one): a free device may be a moment away.
  const auto until = Clock::now() + std::min(timeout, std::chrono::milliseconds(10000));
  auto xs = in_xen_guest() ? xs_connect() : nullptr;
  std::optional<uint32_t> devid, backend;
  while (xs && Clock::now() < until) {
    devid = claim_free_device(xs.get());
    if (devid) backend = device_backend(xs.get(), *devid);
    if (backend) break;
    ::usleep(50'000);
  }
  if (!backend) {
    log_line("no free xen-gpu device in this domain's xenstore (has the operator run `xen-gpu attach --domid N` in "
             "the driver domain? does the zone have programs to spare?)");
    return Error::kPeerGone;
  }
  FrontendOptions o;
  o.backend_domid = *backend;
  o.devid = *devid;
  o.timeout = timeout;
  return connect_frontend(o);
}

}  // namespace xg::idm::xen
