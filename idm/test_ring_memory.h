// Test helper: one ring's worth of zeroed, 64-byte-aligned memory in this process.
#pragma once

#include <cstdlib>
#include <cstring>
#include <memory>

#include "idm/ring.h"

namespace xg::idm::test {

struct RingMemory {
  explicit RingMemory(uint32_t capacity, uint32_t max_payload = 0) {
    bytes = sizeof(RingControl) + capacity;
    mem.reset(static_cast<std::byte*>(std::aligned_alloc(4096, (bytes + 4095) / 4096 * 4096)));
    std::memset(mem.get(), 0, bytes);
    view = RingView{reinterpret_cast<RingControl*>(mem.get()), mem.get() + sizeof(RingControl), capacity,
                    max_payload ? max_payload : capacity / 4};
  }
  struct Free {
    void operator()(std::byte* p) const { std::free(p); }
  };
  std::unique_ptr<std::byte, Free> mem;
  size_t bytes = 0;
  RingView view;
};

}  // namespace xg::idm::test
