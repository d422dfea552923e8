// The Xen transport's doorbell: one interdomain event channel for both directions. notify = xenevtchn_notify;
// wait = poll() on the evtchn fd, then xenevtchn_pending/unmask. Events are hints (ring.h re-checks state); a
// freshly bound port has one pending, which costs one spurious wake-up and nothing else.
// Liveness: the peer's liveness byte, then its XenbusState in xenstore is not Closing/Closed/absent and (backend)
// the frontend's domain is still introduced to xenstored.
#pragma once

#include <chrono>
#include <memory>

#include "idm/doorbell.h"
#include "idm/unique_fd.h"
#include "idm/xen/peer_link.h"

typedef struct xenevtchn_handle xenevtchn_handle;

namespace xg::idm::xen {

// An owned libxenevtchn handle.
struct EvtchnCloser {
  void operator()(xenevtchn_handle* h) const noexcept;
};
using EvtchnPtr = std::unique_ptr<xenevtchn_handle, EvtchnCloser>;
[[nodiscard]] EvtchnPtr evtchn_open() noexcept;

class EvtchnDoorbell final : public Doorbell {
 public:
  // Takes `xce` with `port` bound on it; unbinds and closes it on destruction (after writing Closing).
  EvtchnDoorbell(EvtchnPtr xce, uint32_t port, std::shared_ptr<PeerLink> link);
  ~EvtchnDoorbell() override;
  void notify(std::atomic<uint32_t>& word) noexcept override;
  void wait(std::atomic<uint32_t>& word, uint32_t seen, std::chrono::microseconds timeout) noexcept override;
  [[nodiscard]] bool peer_alive() noexcept override;
  // An eventfd of ours that wait() polls beside the event channel (an event channel cannot signal its own end).
  void interrupt(std::atomic<uint32_t>& word) noexcept override;

 private:
  EvtchnPtr xce_;
  UniqueFd wake_;  // eventfd: interrupt() -> wait() returns
  uint32_t port_;
  std::shared_ptr<PeerLink> link_;
  bool dead_ = false;
  // A dead peer is seen at once through the liveness byte and the xenstore watches (state node, @releaseDomain);
  // the periodic read is a backstop. Every 100 ms it was 10 xenstore round trips a second for each idle waiter
  // (the shims, the workers, the zone inits): xenstored used 12% of dom0 with two idle pods under QEMU/TCG.
  static constexpr auto kRecheck = std::chrono::seconds(2);
  Clock::time_point last_check_{};
};

}  // namespace xg::idm::xen
