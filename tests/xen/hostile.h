// Hostile-frontend cases against a running Xen backend (see hostile.cc).
#pragma once

#include <cstdint>

#include "idm/xen/backend.h"
#include "idm/xen/channel_pages.h"
#include "idm/xen/frontend.h"
#include "tests/xen/conformance.h"

namespace xg::xentest {

struct HostileOptions {
  uint32_t backend_domid = 0;
  uint32_t devid = 0;
};

// Returns the number of failed checks.
int run_hostile(const HostileOptions& o, Checks& checks);

}  // namespace xg::xentest
