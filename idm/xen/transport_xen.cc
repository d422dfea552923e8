#include "idm/xen/transport_xen.h"

#include <poll.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <thread>

#include "idm/log.h"
#include "idm/protocol.h"
#include "idm/xen/xen_c.h"

namespace xg::idm::xen {

void XsCloser::operator()(xs_handle* h) const noexcept {
  if (h) ::xs_close(h);
}

XsPtr xs_connect() noexcept { return XsPtr(::xs_open(0)); }

DevicePaths device_paths(uint32_t frontend_domid, uint32_t backend_domid, uint32_t devid) {
  DevicePaths p;
  p.frontend = "/local/domain/" + std::to_string(frontend_domid) + "/device/" + kDeviceType + "/" +
               std::to_string(devid);
  p.backend = "/local/domain/" + std::to_string(backend_domid) + "/backend/" + kDeviceType + "/" +
              std::to_string(frontend_domid) + "/" + std::to_string(devid);
  return p;
}

std::optional<std::string> xs_get(xs_handle* xs, const std::string& path) noexcept {
  unsigned len = 0;
  void* v = ::xs_read(xs, XBT_NULL, path.c_str(), &len);
  if (!v) return std::nullopt;
  std::optional<std::string> out;
  if (len <= kMaxValueBytes) out.emplace(static_cast<const char*>(v), len);
  std::free(v);
  return out;
}

bool xs_put(xs_handle* xs, const std::string& path, std::string_view value) noexcept {
  return ::xs_write(xs, XBT_NULL, path.c_str(), value.data(), static_cast<unsigned>(value.size()));
}

LinkState xs_state(xs_handle* xs, const std::string& dir) noexcept {
  auto v = xs_get(xs, dir + "/state");
  auto s = parse_state(v ? std::optional<std::string_view>(*v) : std::nullopt);
  return s.value_or(LinkState::kUnknown);
}

bool xs_set_state(xs_handle* xs, const std::string& dir, LinkState s) noexcept {
  return xs_put(xs, dir + "/state", std::to_string(static_cast<int>(s)));
}

namespace {

std::optional<uint32_t> read_self_domid(xs_handle* xs) {
  auto v = xs_get(xs, "domid");  // relative to our own /local/domain/<id>
  return v ? parse_u32(*v) : std::nullopt;
}

// Drains pending watch events; returns after something fired or at `until`.
void wait_xs(xs_handle* xs, Clock::time_point until) noexcept {
  const auto now = Clock::now();
  if (now < until) {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(until - now).count();
    timespec ts{static_cast<time_t>(us / 1'000'000), static_cast<long>(us % 1'000'000) * 1000};
    pollfd p{::xs_fileno(xs), POLLIN, 0};
    ::ppoll(&p, 1, &ts, nullptr);
  }
  while (char** ev = ::xs_check_watch(xs)) std::free(ev);
}

// What the doorbell and the memory of one connected endpoint share: the xenstore connection used for
// liveness and for walking our state to Closed once everything is unmapped.
struct Link {
  XsPtr xs;
  std::string self_dir, peer_dir;
  Side side;
  uint32_t peer_domid;
  bool check_domain;  // backend: also ask xenstored whether the zone's domain still exists
  // The peer's byte in the liveness page (cleared by the peer's kernel when its process dies). The page
  // outlives the doorbell: the memory object, destroyed last, unmaps/unshares it.
  const volatile uint8_t* peer_alive_byte = nullptr;
  ~Link() {
    if (xs) (void)xs_set_state(xs.get(), self_dir, LinkState::kClosed);
  }
};

class EvtchnDoorbell final : public Doorbell {
 public:
  EvtchnDoorbell(xenevtchn_handle* xce, evtchn_port_t port, std::shared_ptr<Link> link)
      : xce_(xce), port_(port), link_(std::move(link)) {}
  ~EvtchnDoorbell() override {
    (void)xs_set_state(link_->xs.get(), link_->self_dir, LinkState::kClosing);
    ::xenevtchn_unbind(xce_, port_);
    ::xenevtchn_close(xce_);
  }
  void notify(std::atomic<uint32_t>&) noexcept override { ::xenevtchn_notify(xce_, port_); }

  void wait(std::atomic<uint32_t>&, uint32_t, std::chrono::microseconds timeout) noexcept override {
    // `word` is not needed: the caller re-checks the ring after every return, and an event that arrived
    // between its check and this poll is still pending on the fd.
    pollfd p{::xenevtchn_fd(xce_), POLLIN, 0};
    const auto us = timeout.count();
    timespec ts{static_cast<time_t>(us / 1'000'000), static_cast<long>(us % 1'000'000) * 1000};
    if (::ppoll(&p, 1, &ts, nullptr) <= 0) return;
    // Drain what is queued (bounded: an event storm from the peer must not keep us here). The kernel masks a
    // port when it queues it, so a storm queues at most one entry per unmask.
    for (int i = 0; i < 16; ++i) {
      const xenevtchn_port_or_error_t port = ::xenevtchn_pending(xce_);
      if (port < 0) break;
      ::xenevtchn_unmask(xce_, static_cast<evtchn_port_t>(port));
      pollfd again{p.fd, POLLIN, 0};
      if (::poll(&again, 1, 0) <= 0) break;
    }
  }

  bool peer_alive() noexcept override {
    if (dead_) return false;
    if (link_->peer_alive_byte && *link_->peer_alive_byte == 0) {
      log_line("xen: peer " + std::to_string(link_->peer_domid) + " process gone (liveness byte cleared)");
      dead_ = true;
      return false;
    }
    // Called after every unsuccessful sleep (up to every 1 ms while the ring is full): ask xenstore only when
    // a watch fired (peer state node changed, @releaseDomain) or every kRecheck, so liveness costs no round
    // trip to xenstored on the hot path.
    const auto now = Clock::now();
    pollfd p{::xs_fileno(link_->xs.get()), POLLIN, 0};
    const bool fired = ::poll(&p, 1, 0) > 0;
    if (!fired && now - last_check_ < kRecheck) return true;
    last_check_ = now;
    while (char** ev = ::xs_check_watch(link_->xs.get())) std::free(ev);
    const LinkState peer = xs_state(link_->xs.get(), link_->peer_dir);
    const bool ok = link_->side == Side::kFrontend
                        ? peer == LinkState::kConnected
                        : peer == LinkState::kConnected || peer == LinkState::kInitialised;
    if (!ok || (link_->check_domain && !::xs_is_domain_introduced(link_->xs.get(), link_->peer_domid))) {
      log_line(std::string("xen: peer ") + std::to_string(link_->peer_domid) + " gone (state " +
               state_name(peer) + ")");
      dead_ = true;
    }
    return !dead_;
  }

 private:
  xenevtchn_handle* xce_;
  evtchn_port_t port_;
  std::shared_ptr<Link> link_;
  bool dead_ = false;
  static constexpr auto kRecheck = std::chrono::milliseconds(100);
  Clock::time_point last_check_{};
};

std::shared_ptr<xengnttab_handle> open_gnttab() {
  xengnttab_handle* h = ::xengnttab_open(nullptr, 0);
  if (!h) {
    log_errno("xen: xengnttab_open (/dev/xen/gntdev)");
    return nullptr;
  }
  return {h, [](xengnttab_handle* x) { ::xengnttab_close(x); }};
}

// Driver-domain side: `count` pages of `domid` named by directory pages. The directory is mapped read-only, every
// ref copied out once, and unmapped: nothing reads the guest's directory again (no double fetch). Refs that
// repeat are refused (two pages of one mapping backed by the same guest page).
class DirectoryMap {
 public:
  explicit DirectoryMap(std::shared_ptr<xengnttab_handle> xgt) : xgt_(std::move(xgt)) {}
  DirectoryMap(const DirectoryMap&) = delete;
  DirectoryMap& operator=(const DirectoryMap&) = delete;
  ~DirectoryMap() {
    if (addr_ && ::xengnttab_unmap(xgt_.get(), addr_, count_) != 0) log_errno("xen: unmap granted pages");
  }
  // nullptr on success, else why (for the log / the frontend's error node).
  [[nodiscard]] const char* map(uint32_t domid, std::span<const uint32_t> dir_refs, uint32_t count) {
    if (count == 0 || dir_refs.size() != lend_dir_pages(count)) return "directory size does not match the page count";
    std::vector<uint32_t> dref(dir_refs.begin(), dir_refs.end());
    void* dir = ::xengnttab_map_domain_grant_refs(xgt_.get(), dref.size(), domid, dref.data(), PROT_READ);
    if (!dir) return "cannot map the directory pages";
    std::vector<uint32_t> refs(count);
    std::memcpy(refs.data(), dir, refs.size() * sizeof(uint32_t));  // count <= dir pages * kRefsPerDirPage
    ::xengnttab_unmap(xgt_.get(), dir, dref.size());
    if (check_channel_refs(refs) != Reject::kOk) return reject_name(Reject::kDuplicateRef);
    addr_ = ::xengnttab_map_domain_grant_refs(xgt_.get(), count, domid, refs.data(), PROT_READ | PROT_WRITE);
    if (!addr_) return "cannot map the granted pages";
    count_ = count;
    return nullptr;
  }
  [[nodiscard]] std::span<std::byte> bytes() const noexcept {
    return {static_cast<std::byte*>(addr_), size_t{count_} * kPageBytes};
  }
  [[nodiscard]] xengnttab_handle* handle() const noexcept { return xgt_.get(); }

 private:
  std::shared_ptr<xengnttab_handle> xgt_;
  void* addr_ = nullptr;
  uint32_t count_ = 0;
};

// The backend's view of the zone's channel pages, plus the liveness page.
class GrantMap final : public SharedMemory {
 public:
  explicit GrantMap(std::shared_ptr<xengnttab_handle> xgt) : chan(std::move(xgt)) {}
  ~GrantMap() override {
    // Unmapping the liveness page clears our byte in it and signals the zone (gntdev unmap notification).
    if (alive && ::xengnttab_unmap(chan.handle(), alive, 1) != 0) log_errno("xen: unmap liveness page");
  }
  std::span<std::byte> bytes() noexcept override { return chan.bytes(); }
  // Destroyed in reverse order: the liveness page (above), the channel, then the link, whose last owner writes
  // Closed once nothing is mapped.
  std::shared_ptr<Link> link;
  DirectoryMap chan;
  void* alive = nullptr;
};

// Pinned host memory a zone lent us (PageBorrower over grants).
class GrantBorrowed final : public SharedMemory {
 public:
  explicit GrantBorrowed(std::shared_ptr<xengnttab_handle> xgt) : map(std::move(xgt)) {}
  std::span<std::byte> bytes() noexcept override { return map.bytes(); }
  DirectoryMap map;
};

class GrantBorrower final : public PageBorrower {
 public:
  GrantBorrower(std::shared_ptr<xengnttab_handle> xgt, uint32_t domid) : xgt_(std::move(xgt)), domid_(domid) {}
  Result<std::unique_ptr<SharedMemory>> borrow(std::span<const uint32_t> dir_refs, uint32_t pages) override {
    if (pages == 0 || pages > kMaxLendPages) return Error::kInvalidField;
    auto b = std::make_unique<GrantBorrowed>(xgt_);
    if (const char* why = b->map.map(domid_, dir_refs, pages)) {
      log_line("xen: domain " + std::to_string(domid_) + " lent " + std::to_string(pages) + " pages: " + why);
      return Error::kInvalidField;
    }
    return std::unique_ptr<SharedMemory>(std::move(b));
  }

 private:
  std::shared_ptr<xengnttab_handle> xgt_;
  uint32_t domid_;
};

struct XenevtchnCloser {
  void operator()(xenevtchn_handle* h) const noexcept {
    if (h) ::xenevtchn_close(h);
  }
};


// ---- GrantShare ------------------------------------------------------------------------------------------

// Zone side: `pages` zeroed pages granted writable to `domid`, plus read-only directory pages listing their refs
// (the peer must not be able to redirect our own view of the directory). Unshared on destruction; gntalloc defers
// freeing a page until the peer has unmapped it, so unsharing first is always safe.
class DirectoryShare {
 public:
  explicit DirectoryShare(std::shared_ptr<xengntshr_handle> xgs) : xgs_(std::move(xgs)) {}
  DirectoryShare(const DirectoryShare&) = delete;
  DirectoryShare& operator=(const DirectoryShare&) = delete;
  ~DirectoryShare() {
    if (pages_) ::xengntshr_unshare(xgs_.get(), pages_, count_);
    if (dir_) ::xengntshr_unshare(xgs_.get(), dir_, dir_refs_.size());
  }
  [[nodiscard]] Error share(uint32_t domid, uint32_t count) {
    std::vector<uint32_t> refs(count);
    pages_ = ::xengntshr_share_pages(xgs_.get(), domid, static_cast<int>(count), refs.data(), 1);
    if (!pages_) {
      log_errno("xen: share " + std::to_string(count) + " pages with domain " + std::to_string(domid));
      return Error::kSystem;
    }
    count_ = count;
    std::memset(pages_, 0, size_t{count} * kPageBytes);
    dir_refs_.resize(lend_dir_pages(count));
    dir_ = ::xengntshr_share_pages(xgs_.get(), domid, static_cast<int>(dir_refs_.size()), dir_refs_.data(), 0);
    if (!dir_) {
      log_errno("xen: share directory pages");
      return Error::kSystem;
    }
    std::memset(dir_, 0, dir_refs_.size() * kPageBytes);
    std::memcpy(dir_, refs.data(), refs.size() * sizeof(uint32_t));
    return Error::kOk;
  }
  [[nodiscard]] std::span<std::byte> bytes() const noexcept {
    return {static_cast<std::byte*>(pages_), size_t{count_} * kPageBytes};
  }
  [[nodiscard]] std::span<const uint32_t> dir_refs() const noexcept { return dir_refs_; }
  [[nodiscard]] std::span<uint32_t> directory() const noexcept {
    return {static_cast<uint32_t*>(dir_), dir_refs_.size() * kRefsPerDirPage};
  }
  [[nodiscard]] xengntshr_handle* handle() const noexcept { return xgs_.get(); }

 private:
  std::shared_ptr<xengntshr_handle> xgs_;
  void* pages_ = nullptr;
  uint32_t count_ = 0;
  void* dir_ = nullptr;
  std::vector<uint32_t> dir_refs_;
};

std::shared_ptr<xengntshr_handle> open_gntshr() {
  xengntshr_handle* h = ::xengntshr_open(nullptr, 0);
  if (!h) {
    log_errno("xen: xengntshr_open (/dev/xen/gntalloc)");
    return nullptr;
  }
  return {h, [](xengntshr_handle* x) { ::xengntshr_close(x); }};
}

// Pinned host memory the zone lends the proxy (PageLender over grants).
class GrantLentPages final : public LentPages {
 public:
  explicit GrantLentPages(std::shared_ptr<xengntshr_handle> xgs) : share(std::move(xgs)) {}
  std::span<std::byte> bytes() noexcept override { return share.bytes(); }
  std::span<const uint32_t> directory_refs() const noexcept override { return share.dir_refs(); }
  DirectoryShare share;
};

class GrantLender final : public PageLender {
 public:
  GrantLender(std::shared_ptr<xengntshr_handle> xgs, uint32_t domid) : xgs_(std::move(xgs)), domid_(domid) {}
  Result<std::unique_ptr<LentPages>> lend(uint32_t pages) override {
    if (pages == 0 || pages > kMaxLendPages) return Error::kInvalidField;
    auto p = std::make_unique<GrantLentPages>(xgs_);
    if (Error e = p->share.share(domid_, pages); e != Error::kOk) return e;
    return std::unique_ptr<LentPages>(std::move(p));
  }

 private:
  std::shared_ptr<xengntshr_handle> xgs_;
  uint32_t domid_;
};

}  // namespace

struct GrantShare::Impl {
  explicit Impl(std::shared_ptr<xengntshr_handle> xgs) : chan(std::move(xgs)) {}
  DirectoryShare chan;
  void* alive = nullptr;
  std::shared_ptr<void> link;
};

GrantShare::~GrantShare() {
  if (!impl_) return;
  // Clears our liveness byte and signals the backend (gntalloc unmap notification); also happens if we die.
  if (impl_->alive) ::xengntshr_unshare(impl_->chan.handle(), impl_->alive, 1);
  auto link = std::move(impl_->link);
  impl_.reset();  // unshares the channel and its directory
  link.reset();   // the connection's last owner: writes Closed now that nothing is shared
}

std::span<std::byte> GrantShare::bytes() noexcept { return impl_->chan.bytes(); }

void GrantShare::hold_until_unshared(std::shared_ptr<void> p) noexcept { impl_->link = std::move(p); }

volatile uint8_t* GrantShare::alive_page() noexcept { return static_cast<volatile uint8_t*>(impl_->alive); }

std::span<uint32_t> GrantShare::directory() noexcept { return impl_->chan.directory(); }

Result<std::unique_ptr<GrantShare>> share_channel(uint32_t domid, const ChannelGeometry& g, uint32_t port) {
  if (!g.valid() || g.total_pages() > kMaxPages) return Error::kInvalidField;
  auto xgs = open_gntshr();
  if (!xgs) return Error::kSystem;
  auto s = std::unique_ptr<GrantShare>(new GrantShare());
  s->impl_ = std::make_unique<GrantShare::Impl>(xgs);
  auto& im = *s->impl_;
  if (Error e = im.chan.share(domid, g.total_pages()); e != Error::kOk) return e;
  s->dir_refs_.assign(im.chan.dir_refs().begin(), im.chan.dir_refs().end());
  im.alive = ::xengntshr_share_page_notify(xgs.get(), domid, &s->alive_ref_, 1, kFrontendAliveByte, port);
  if (!im.alive) {
    log_errno("xen: share liveness page");
    return Error::kSystem;
  }
  static_cast<volatile uint8_t*>(im.alive)[kFrontendAliveByte] = 1;
  Channel::format(s->bytes(), g);
  return s;
}

// ---- frontend --------------------------------------------------------------------------------------------

Result<FrontendSession> FrontendSession::open(const FrontendOptions& opts) {
  FrontendSession s;
  s.xs_ = xs_connect();
  if (!s.xs_) {
    log_errno("xen: xs_open");
    return Error::kSystem;
  }
  auto self = opts.self_domid ? opts.self_domid : read_self_domid(s.xs_.get());
  if (!self) {
    log_line("xen: cannot read our own domid from xenstore");
    return Error::kSystem;
  }
  s.self_domid_ = *self;
  s.backend_domid_ = opts.backend_domid;
  s.paths_ = device_paths(*self, opts.backend_domid, opts.devid);
  // Watches only make us wake sooner: every wait below also re-reads at a bounded interval.
  ::xs_watch(s.xs_.get(), (s.paths_.backend + "/state").c_str(), "be");
  ::xs_watch(s.xs_.get(), (s.paths_.frontend + "/state").c_str(), "fe");
  return s;
}

Error FrontendSession::wait_for_backend(Clock::time_point deadline) {
  for (;;) {
    if (xs_state(xs(), paths_.frontend) == LinkState::kInitialising && backend_state() == LinkState::kInitWait)
      return Error::kOk;
    if (Clock::now() >= deadline) return Error::kTimeout;
    wait_xs(xs(), std::min(deadline, Clock::now() + std::chrono::milliseconds(50)));
  }
}

Result<LinkState> FrontendSession::wait_backend_change(LinkState from, Clock::time_point deadline) {
  for (;;) {
    const LinkState s = backend_state();
    if (s != from) return s;
    if (Clock::now() >= deadline) return Error::kTimeout;
    wait_xs(xs(), std::min(deadline, Clock::now() + std::chrono::milliseconds(50)));
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
  std::unique_ptr<xenevtchn_handle, XenevtchnCloser> xce(::xenevtchn_open(nullptr, 0));
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
  auto link = std::make_shared<Link>();
  link->xs = s->take_xs();
  link->self_dir = s->paths().frontend;
  link->peer_dir = s->paths().backend;
  link->side = Side::kFrontend;
  link->peer_domid = opts.backend_domid;
  link->check_domain = false;
  link->peer_alive_byte = (*mem)->alive_page() + kBackendAliveByte;
  ::xs_watch(link->xs.get(), (link->peer_dir + "/state").c_str(), "peer");
  (*mem)->hold_until_unshared(link);
  auto bell = std::make_unique<EvtchnDoorbell>(xce.release(), static_cast<evtchn_port_t>(port), link);
  auto ep = make_endpoint(std::move(mem.value()), std::move(bell), opts.geometry, Role::kZone);
  if (!ep) return ep.error();
  // Pinned host memory: pages we grant the backend on demand (its own gntalloc handle).
  if (auto xgs = open_gntshr()) (*ep)->lender = std::make_unique<GrantLender>(std::move(xgs), opts.backend_domid);
  (void)xs_set_state(link->xs.get(), link->self_dir, LinkState::kConnected);
  return ep;
}

// ---- backend ---------------------------------------------------------------------------------------------

Result<std::unique_ptr<Backend>> Backend::create(const BackendOptions& opts) {
  auto b = std::unique_ptr<Backend>(new Backend(opts));
  b->xs_ = xs_connect();
  if (!b->xs_) {
    log_errno("xen: xs_open");
    return Error::kSystem;
  }
  auto self = read_self_domid(b->xs_.get());
  if (!self) {
    log_line("xen: cannot read our own domid from xenstore");
    return Error::kSystem;
  }
  b->self_domid_ = *self;
  b->paths_ = device_paths(opts.frontend_domid, *self, opts.devid);
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
  return opts_.frontend_domid == self_domid_ || ::xs_is_domain_introduced(xs_.get(), opts_.frontend_domid);
}

void Backend::wait_watch(Clock::time_point until) noexcept { wait_xs(xs_.get(), until); }

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
  std::unique_ptr<xenevtchn_handle, XenevtchnCloser> xce(::xenevtchn_open(nullptr, 0));
  const xenevtchn_port_or_error_t port = xce ? ::xenevtchn_bind_interdomain(xce.get(), domid, info.event_channel) : -1;
  if (port < 0) return fail("cannot bind the event channel");
  // 3. The liveness page: mapped with an unmap notification (clear our byte, signal the port) so the zone
  // learns at once if this process dies.
  mem->alive = ::xengnttab_map_grant_ref_notify(xgt.get(), domid, info.alive_ref, PROT_READ | PROT_WRITE,
                                                kBackendAliveByte, static_cast<evtchn_port_t>(port));
  if (!mem->alive) {
    ::xenevtchn_unbind(xce.get(), static_cast<evtchn_port_t>(port));
    return fail("cannot map the liveness page");
  }
  static_cast<volatile uint8_t*>(mem->alive)[kBackendAliveByte] = 1;
  auto link = std::make_shared<Link>();
  link->xs = xs_connect();
  link->peer_alive_byte = static_cast<const volatile uint8_t*>(mem->alive) + kFrontendAliveByte;
  link->self_dir = paths_.backend;
  link->peer_dir = paths_.frontend;
  link->side = Side::kBackend;
  link->peer_domid = domid;
  link->check_domain = domid != self_domid_;
  if (link->xs) {
    ::xs_watch(link->xs.get(), (link->peer_dir + "/state").c_str(), "peer");
    ::xs_watch(link->xs.get(), "@releaseDomain", "release");
  }
  auto bell = std::make_unique<EvtchnDoorbell>(xce.release(), static_cast<evtchn_port_t>(port), link);
  if (!link->xs) {
    log_errno("xen: xs_open");
    return Error::kSystem;  // mem and bell unmap and unbind
  }
  mem->link = link;  // written Closed once the last mapping is gone
  auto ep = make_endpoint(std::move(mem), std::move(bell), info.geometry, Role::kProxy);
  if (!ep) return ep.error();
  (*ep)->borrower = std::make_unique<GrantBorrower>(xgt, domid);
  (void)xs_set_state(xs_.get(), paths_.backend, LinkState::kConnected);
  log_line("xen: connected domain " + std::to_string(domid) + ": " + std::to_string(info.num_pages) +
           " pages, port " + std::to_string(info.event_channel) + " -> local " + std::to_string(port));
  return ep;
}

}  // namespace xg::idm::xen
