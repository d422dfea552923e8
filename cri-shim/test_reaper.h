// For tests that run helper programs (xl, mkfs.erofs) through the shim's reaper (spawn.h): start it once, as the
// shim's main does. Call before the test starts threads of its own.
#pragma once

#include "cri-shim/reaper.h"

namespace xg::shim {

inline void start_reaper_for_tests() {
  static const bool once = [] {
    Reaper::block_sigchld();
    Reaper::instance().start();
    return true;
  }();
  (void)once;
}

}  // namespace xg::shim
