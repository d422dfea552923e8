#include "gpu-proxy/alloc_map.h"

namespace xg::proxy {

bool AllocMap::insert(const Allocation& a) {
  if (a.size == 0 || a.base + a.size < a.base) return false;
  auto next = by_base_.lower_bound(a.base);
  if (next != by_base_.end() && next->first < a.base + a.size) return false;
  if (next != by_base_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second.size > a.base) return false;
  }
  by_base_.emplace(a.base, a);
  return true;
}

std::optional<Allocation> AllocMap::take(uint64_t base) {
  auto it = by_base_.find(base);
  if (it == by_base_.end()) return std::nullopt;
  Allocation a = it->second;
  by_base_.erase(it);
  return a;
}

const Allocation* AllocMap::containing(uint64_t ptr, uint64_t bytes) const noexcept {
  auto it = by_base_.upper_bound(ptr);
  if (it == by_base_.begin()) return nullptr;
  const Allocation& a = std::prev(it)->second;
  // Overflow-safe: ptr >= base is known; the range must end within the allocation.
  const uint64_t off = ptr - a.base;
  if (off >= a.size || bytes > a.size - off) return nullptr;
  return &a;
}

std::vector<Allocation> AllocMap::take_owned_by(uint64_t owner) {
  std::vector<Allocation> out;
  for (auto it = by_base_.begin(); it != by_base_.end();) {
    if (it->second.owner == owner) {
      out.push_back(it->second);
      it = by_base_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

}  // namespace xg::proxy
