#include "idm/xen/event_channel.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <string>

#include "idm/log.h"
#include "idm/xen/xen_c.h"

namespace xg::idm::xen {

void EvtchnCloser::operator()(xenevtchn_handle* h) const noexcept {
  if (h) ::xenevtchn_close(h);
}

EvtchnPtr evtchn_open() noexcept { return EvtchnPtr(::xenevtchn_open(nullptr, 0)); }

EvtchnDoorbell::EvtchnDoorbell(EvtchnPtr xce, uint32_t port, std::shared_ptr<PeerLink> link)
    : xce_(std::move(xce)), wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)), port_(port), link_(std::move(link)) {}

EvtchnDoorbell::~EvtchnDoorbell() {
  (void)xs_set_state(link_->xs.get(), link_->self_dir, LinkState::kClosing);
  ::xenevtchn_unbind(xce_.get(), port_);
}

void EvtchnDoorbell::notify(std::atomic<uint32_t>&) noexcept { ::xenevtchn_notify(xce_.get(), port_); }

void EvtchnDoorbell::wait(std::atomic<uint32_t>&, uint32_t, std::chrono::microseconds timeout) noexcept {
  // `word` is not needed: the caller re-checks the ring after every return, and an event that arrived
  // between its check and this poll is still pending on the fd.
  pollfd fds[2] = {{::xenevtchn_fd(xce_.get()), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
  pollfd& p = fds[0];
  const auto us = timeout.count();
  timespec ts{static_cast<time_t>(us / 1'000'000), static_cast<long>(us % 1'000'000) * 1000};
  if (::ppoll(fds, wake_.valid() ? 2 : 1, &ts, nullptr) <= 0) return;
  if (fds[1].revents & POLLIN) {
    uint64_t n;
    (void)!::read(wake_.get(), &n, sizeof n);  // the interrupt is taken; the caller re-checks what it waits for
  }
  if (!(p.revents & POLLIN)) return;
  // Drain what is queued (bounded: an event storm from the peer must not keep us here). The kernel masks a
  // port when it queues it, so a storm queues at most one entry per unmask.
  for (int i = 0; i < 16; ++i) {
    const xenevtchn_port_or_error_t port = ::xenevtchn_pending(xce_.get());
    if (port < 0) break;
    ::xenevtchn_unmask(xce_.get(), static_cast<evtchn_port_t>(port));
    pollfd again{p.fd, POLLIN, 0};
    if (::poll(&again, 1, 0) <= 0) break;
  }
}

void EvtchnDoorbell::interrupt(std::atomic<uint32_t>&) noexcept {
  const uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof one);
}

bool EvtchnDoorbell::peer_alive() noexcept {
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
  const bool ok = link_->side == Side::kFrontend ? peer == LinkState::kConnected
                                                 : peer == LinkState::kConnected || peer == LinkState::kInitialised;
  if (!ok || (link_->check_domain && !xs_domain_alive(link_->xs.get(), link_->peer_domid))) {
    log_line(std::string("xen: peer ") + std::to_string(link_->peer_domid) + " gone (state " + state_name(peer) +
             ")");
    dead_ = true;
  }
  return !dead_;
}

}  // namespace xg::idm::xen
