#include "idm/xen/backend.h"

#include <algorithm>
#include <string>

#include "idm/log.h"
#include "idm/protocol.h"
#include "idm/xen/channel_pages.h"
#include "idm/xen/event_channel.h"
#include "idm/xen/lent_pages.h"
#include "idm/xen/xen_c.h"

namespace xg::idm::xen {

Result<std::unique_ptr<Backend>> Backend::create(const BackendOptions& opts) {
  auto b = std::unique_ptr<Backend>(new Backend(opts));
  b->xs_ = xs_connect();
  if (!b->xs_) {
    log_errno("xen: xs_open");
    return Error::kSystem;
  }
  auto self = xs_self_domid(b->xs_.get());
  if (!self) {
    log_line("xen: cannot read our own domid from xenstore");
    return Error::kSystem;
  }
  b->self_domid_ = *self;
  b->paths_ = device_paths(opts.frontend_domid, *self, opts.devid, opts.device_type);
  if (!b->create_nodes()) return Error::kSystem;
  ::xs_watch(b->xs_.get(), (b->paths_.frontend + "/state").c_str(), "fe");
  ::xs_watch(b->xs_.get(), "@releaseDomain", "release");
  return b;
}

Backend::~Backend() { remove_nodes(); }

void Backend::remove_nodes() noexcept {
  ::xs_rm(xs_.get(), XBT_NULL, paths_.frontend.c_str());
  ::xs_rm(xs_.get(), XBT_NULL, paths_.backend.c_str());
}

bool Backend::create_nodes() noexcept {
  remove_nodes();
  xs_handle* xs = xs_.get();
  const uint32_t fe = opts_.frontend_domid, be = self_domid_;
  // Frontend node: owned by the zone (so only it, and dom0, may write), readable by us. Written before the
  // permissions are set would leave a window where the zone cannot write; set them first, children inherit.
  xs_permissions fe_perms[2] = {{fe, XS_PERM_NONE}, {be, XS_PERM_READ}};
  xs_permissions be_perms[2] = {{be, XS_PERM_NONE}, {fe, XS_PERM_READ}};
  const std::string f = paths_.frontend, b = paths_.backend;
  bool ok = ::xs_mkdir(xs, XBT_NULL, f.c_str()) && ::xs_set_permissions(xs, XBT_NULL, f.c_str(), fe_perms, 2) &&
            xs_put(xs, f + "/backend", b) && xs_put(xs, f + "/backend-id", std::to_string(be)) &&
            xs_set_state(xs, f, LinkState::kInitialising) && ::xs_mkdir(xs, XBT_NULL, b.c_str()) &&
            ::xs_set_permissions(xs, XBT_NULL, b.c_str(), be_perms, 2) && xs_put(xs, b + "/frontend", f) &&
            xs_put(xs, b + "/frontend-id", std::to_string(fe)) &&
            xs_put(xs, b + "/max-pages", std::to_string(std::min(opts_.max_pages, kMaxPages))) &&
            xs_put(xs, b + "/protocol-version", std::to_string(kProtocolVersion)) &&
            xs_set_state(xs, b, LinkState::kInitWait);
  if (!ok) log_errno("xen: create xenstore nodes " + b);
  return ok;
}

bool Backend::reset() noexcept {
  // Like Xen backends, let the frontend finish closing (bounded) before offering a fresh handshake, so a late
  // "Closed" from the old frontend cannot land on the new nodes.
  const auto until = Clock::now() + opts_.reject_grace;
  while (Clock::now() < until && domain_alive()) {
    // Done when the node says Closed or is gone; a garbage value is not "closed" (the frontend may fix it).
    const auto raw = xs_get(xs_.get(), paths_.frontend + "/state");
    if (!raw || parse_state(std::string_view(*raw)) == LinkState::kClosed) break;
    wait_watch(std::min(until, Clock::now() + std::chrono::milliseconds(50)));
  }
  return create_nodes();
}

bool Backend::domain_alive() noexcept {
  return opts_.frontend_domid == self_domid_ || xs_domain_alive(xs_.get(), opts_.frontend_domid);
}

void Backend::wait_watch(Clock::time_point until) noexcept { xs_wait(xs_.get(), until); }

FrontendValues Backend::read_values() noexcept {
  auto get = [&](const char* key) { return xs_get(xs_.get(), paths_.frontend + "/" + key); };
  FrontendValues v;
  v.protocol_version = get("protocol-version");
  v.request_ring_bytes = get("request-ring-bytes");
  v.response_ring_bytes = get("response-ring-bytes");
  v.max_payload = get("max-payload");
  v.data_pages = get("data-pages");
  v.num_pages = get("num-pages");
  v.ring_refs = get("ring-refs");
  v.event_channel = get("event-channel");
  v.alive_ref = get("alive-ref");
  return v;
}

void Backend::reject(std::string_view why, Clock::time_point deadline) noexcept {
  log_line("xen: rejecting frontend of domain " + std::to_string(opts_.frontend_domid) + ": " + std::string(why));
  (void)xs_put(xs_.get(), paths_.backend + "/error", why);
  (void)xs_set_state(xs_.get(), paths_.backend, LinkState::kClosing);
  // Give the frontend a bounded time to see it and close; a frontend that never does is reset anyway.
  (void)deadline;
  (void)reset();
}

Result<std::unique_ptr<Endpoint>> Backend::accept(Clock::time_point deadline) {
  for (;;) {
    if (!domain_alive()) {
      log_line("xen: domain " + std::to_string(opts_.frontend_domid) + " is gone");
      return Error::kPeerGone;
    }
    auto raw = xs_get(xs_.get(), paths_.frontend + "/state");
    auto fs = parse_state(raw ? std::optional<std::string_view>(*raw) : std::nullopt);
    if (!fs) {
      reject("unparsable frontend state", deadline);
      return Error::kInvalidField;
    }
    const Step st = step(Side::kBackend, LinkState::kInitWait, *fs);
    switch (st.action) {
      case Action::kWait:
        break;
      case Action::kConnect: {
        const ParsedFrontend p = parse_frontend(read_values(), opts_.max_pages);
        if (p.reject != Reject::kOk) {
          reject(reject_name(p.reject), deadline);
          return Error::kInvalidField;
        }
        return connect(p.info);
      }
      case Action::kTeardown:  // the frontend gave up before connecting: start a fresh handshake
        (void)reset();
        break;
      default:
        reject(std::string("frontend in state ") + state_name(*fs) + " before connecting", deadline);
        return Error::kInvalidField;
    }
    if (Clock::now() >= deadline) return Error::kTimeout;
    wait_watch(std::min(deadline, Clock::now() + std::chrono::milliseconds(100)));
  }
}

Result<std::unique_ptr<Endpoint>> Backend::connect(const FrontendInfo& info) {
  const uint32_t domid = opts_.frontend_domid;
  const auto deadline = Clock::now() + opts_.reject_grace;
  auto fail = [&](std::string_view why) {
    reject(why, deadline);
    return Error::kInvalidField;
  };
  auto xgt = open_gnttab();
  if (!xgt) return fail("backend cannot open gntdev");
  // 1. The channel, through its directory.
  auto mem = std::make_unique<GrantMap>(xgt);
  if (const char* why = mem->chan.map(domid, info.dir_refs, info.num_pages)) return fail(why);
  // 2. The event channel.
  EvtchnPtr xce = evtchn_open();
  const xenevtchn_port_or_error_t port = xce ? ::xenevtchn_bind_interdomain(xce.get(), domid, info.event_channel) : -1;
  if (port < 0) return fail("cannot bind the event channel");
  // 3. The liveness page: mapped with an unmap notification (clear our byte, signal the port) so the zone
  // learns at once if this process dies.
  if (!mem->map_alive(domid, info.alive_ref, static_cast<uint32_t>(port))) {
    ::xenevtchn_unbind(xce.get(), static_cast<evtchn_port_t>(port));
    return fail("cannot map the liveness page");
  }
  auto link = std::make_shared<PeerLink>();
  link->xs = xs_connect();
  link->peer_alive_byte = mem->alive_page() + kFrontendAliveByte;
  link->self_dir = paths_.backend;
  link->peer_dir = paths_.frontend;
  link->side = Side::kBackend;
  link->peer_domid = domid;
  link->check_domain = domid != self_domid_;
  if (link->xs) {
    ::xs_watch(link->xs.get(), (link->peer_dir + "/state").c_str(), "peer");
    ::xs_watch(link->xs.get(), "@releaseDomain", "release");
  }
  auto bell = std::make_unique<EvtchnDoorbell>(std::move(xce), static_cast<uint32_t>(port), link);
  if (!link->xs) {
    log_errno("xen: xs_open");
    return Error::kSystem;  // mem and bell unmap and unbind
  }
  mem->link = link;  // written Closed once the last mapping is gone
  auto ep = make_endpoint(std::move(mem), std::move(bell), info.geometry, opts_.role);
  if (!ep) return ep.error();
  (*ep)->proxy_pages = borrowed_pages(xgt, domid);  // pinned host memory: pages the zone lends
  (void)xs_set_state(xs_.get(), paths_.backend, LinkState::kConnected);
  log_line("xen: connected domain " + std::to_string(domid) + ": " + std::to_string(info.num_pages) +
           " pages, port " + std::to_string(info.event_channel) + " -> local " + std::to_string(port));
  return ep;
}

}  // namespace xg::idm::xen
