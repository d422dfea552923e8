#include "cri-shim/zone/ctl_connect.h"

#include <unistd.h>

#include <string>
#include <thread>

#include "cri-shim/zone/zone_boot.h"
#include "idm/messages_zonectl.h"
#include "idm/xen/frontend.h"
#include "idm/xen/xen_handshake.h"
#include "idm/xen/xenstore.h"

namespace xg::zone {

using Clock = std::chrono::steady_clock;

idm::Result<std::unique_ptr<idm::Endpoint>> connect_control(std::chrono::milliseconds wait) {
  const auto until = Clock::now() + wait;
  const std::string key = std::string("device/") + idm::kCtlDeviceType + "/0/backend-id";
  idm::Error last = idm::Error::kTimeout;
  bool told_waiting = false;
  for (int attempt = 1; Clock::now() < until; ++attempt) {
    // The xenbus device node appears once the kernel's xenbus is up; the key once the shim has added the device.
    auto xs = idm::xen::xs_connect();
    std::optional<uint32_t> backend;
    if (xs)
      if (auto v = idm::xen::xs_get(xs.get(), key)) backend = idm::xen::parse_u32(*v);
    if (!backend) {
      if (!told_waiting) say("waiting for " + key + (xs ? "" : " (xenstore not reachable yet)"));
      told_waiting = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    idm::xen::FrontendOptions o;
    o.backend_domid = *backend;
    o.devid = 0;
    o.device_type = idm::kCtlDeviceType;
    o.role = idm::Role::kProxy;  // the shim calls, we answer
    o.xs_watches = false;        // our static libxenstore has no reader thread (FrontendOptions says why)
    o.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
    auto ep = idm::xen::connect_frontend(o);
    if (ep) return ep;
    last = ep.error();
    // Both ends' states, for whoever reads the console: which side stopped where.
    std::string states;
    if (auto self = idm::xen::xs_self_domid(xs.get())) {
      const auto paths = idm::xen::device_paths(*self, *backend, 0, idm::kCtlDeviceType);
      states = std::string(", frontend ") + idm::xen::state_name(idm::xen::xs_state(xs.get(), paths.frontend)) +
               ", backend " + idm::xen::state_name(idm::xen::xs_state(xs.get(), paths.backend));
    }
    say("control channel handshake with domain " + std::to_string(*backend) + " failed (attempt " +
        std::to_string(attempt) + "): " + std::string(idm::error_name(last)) + states);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  return last;
}

}  // namespace xg::zone
