// A worker's acceptor for a Xen zone (idm/transport.h): no Hello (the daemon admitted the program before starting
// the worker); the worker is the Xen backend of one device of that domain (the daemon gives each worker its own
// device id), and one program of the zone connects to it (libvgpu's connect_guest claims a free device). The
// domain outlives each program: when a program's channel ends while the domain lives on, the worker exits and
// the daemon keeps a fresh worker waiting for the zone's next program (fresh driver state, as for a new shm
// program).
#include <unistd.h>

#include <string>

#include "idm/log.h"
#include "idm/xen/backend.h"
#include "idm/xen/xen_transport.h"

namespace xg::idm::xen {
namespace {

class BackendAcceptor final : public ZoneAcceptor {
 public:
  BackendAcceptor(uint32_t domid, uint32_t devid) : domid_(domid), devid_(devid) {}

  Result<std::optional<ZoneIntroduction>> introduction(std::chrono::milliseconds) override {
    return std::optional<ZoneIntroduction>();
  }

  Result<std::unique_ptr<Endpoint>> accept(uint32_t, const std::atomic<bool>& stop) override {
    if (Error e = create_backend(stop); e != Error::kOk) return e;
    while (!stop.load()) {
      auto r = backend_->accept(Clock::now() + std::chrono::milliseconds(500));
      if (r) return r;
      if (r.error() == Error::kPeerGone) {
        log_line("zone ended: domain " + std::to_string(domid_) + " is gone");
        return Error::kPeerGone;
      }
      // kTimeout: nobody yet; kInvalidField: a rejected handshake (logged, nodes reset): wait for the next one.
    }
    return Error::kTimeout;
  }

  bool zone_lives_on() override { return backend_ && backend_->domain_alive(); }

  void await_peer_closed() override {
    // Let the old frontend finish closing (bounded) so that its late "Closed" cannot land on the next nodes.
    const std::string fe = backend_->paths().frontend;
    if (auto xs = xs_connect()) {
      for (int i = 0; i < 40; ++i) {
        const LinkState s = xs_state(xs.get(), fe);
        if (s == LinkState::kClosed || s == LinkState::kUnknown) break;
        ::usleep(25'000);
      }
    }
  }

  std::string log_label() const override { return " domid " + std::to_string(domid_); }
  std::string serving_what() const override { return "a program of domain " + std::to_string(domid_) + " over Xen "; }

 private:
  Error create_backend(const std::atomic<bool>& stop) {
    if (backend_) return Error::kOk;
    BackendOptions bo;
    bo.frontend_domid = domid_;
    bo.devid = devid_;
    // Creating the nodes right after the previous program's teardown has been seen to fail once in a while on
    // xenstored (a late write of the old frontend racing our rewrite): retry briefly.
    auto domain_exists = [&] {
      auto xs = xs_connect();
      return !xs || xs_domain_alive(xs.get(), domid_);  // false once the domain is being destroyed
    };
    auto backend = Backend::create(bo);
    for (int i = 0; !backend && i < 30 && !stop.load(); ++i) {
      if (!domain_exists()) {
        log_line("zone ended: domain " + std::to_string(domid_) + " is gone");
        return Error::kPeerGone;
      }
      ::usleep(100'000);
      backend = Backend::create(bo);
    }
    if (!backend && stop.load()) return Error::kTimeout;
    if (!backend) {
      log_line("cannot create the xenstore nodes for domain " + std::to_string(domid_));
      return Error::kSystem;
    }
    backend_ = std::move(backend.value());
    return Error::kOk;
  }

  uint32_t domid_;
  uint32_t devid_;
  std::unique_ptr<Backend> backend_;  // ~Backend removes both nodes; the next worker rewrites them
};

}  // namespace

Result<std::unique_ptr<ZoneAcceptor>> open_acceptor(uint32_t domid, uint32_t devid) {
  return std::unique_ptr<ZoneAcceptor>(std::make_unique<BackendAcceptor>(domid, devid));
}

}  // namespace xg::idm::xen
