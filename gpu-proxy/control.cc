#include "gpu-proxy/control.h"

#include <algorithm>

namespace xg::proxy {

bool valid_zone_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > 63) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
  });
}

void store_limits(ControlPage& page, const ObjectLimits& limits) noexcept {
  for (size_t i = 0; i < kLimitCount; ++i) page.object_limits[i].store(limits.max[i], std::memory_order_relaxed);
}

ObjectLimits load_limits(const ControlPage& page) noexcept {
  ObjectLimits l;  // built-in defaults where the daemon left a slot empty
  for (size_t i = 0; i < kLimitCount; ++i) {
    const uint32_t v = page.object_limits[i].load(std::memory_order_relaxed);
    if (v != 0) l.max[i] = std::min(v, kMaxLimitValue);
  }
  return l;
}

}  // namespace xg::proxy
