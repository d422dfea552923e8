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

}  // namespace xg::proxy
