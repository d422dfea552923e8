#include "alloc_table.h"

#include <sys/mman.h>

#include <iterator>

namespace xg::sim {

Arena::~Arena() {
  if (base_ != 0) munmap(reinterpret_cast<void*>(base_), capacity_);
}

bool Arena::reserve(size_t bytes) {
  if (base_ != 0) return true;
  bytes = round_up(bytes);
  void* p = mmap(nullptr, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return false;
  base_ = reinterpret_cast<uintptr_t>(p);
  capacity_ = bytes;
  holes_[base_] = bytes;
  return true;
}

std::optional<uintptr_t> Arena::allocate(size_t bytes) {
  if (bytes == 0 || bytes > capacity_) return std::nullopt;
  const size_t need = round_up(bytes);
  for (auto it = holes_.begin(); it != holes_.end(); ++it) {
    if (it->second < need) continue;
    const uintptr_t start = it->first;
    const size_t rest = it->second - need;
    holes_.erase(it);
    if (rest != 0) holes_[start + need] = rest;
    if (mprotect(reinterpret_cast<void*>(start), need, PROT_READ | PROT_WRITE) != 0) {
      used_ += need;  // release() subtracts it again
      release(start, bytes);
      return std::nullopt;
    }
    used_ += need;
    return start;
  }
  return std::nullopt;
}

void Arena::release(uintptr_t base, size_t bytes) {
  const size_t len = round_up(bytes);
  void* p = reinterpret_cast<void*>(base);
  madvise(p, len, MADV_DONTNEED);  // scrub: the pages read back as zeros
  mprotect(p, len, PROT_NONE);
  used_ -= len;
  auto [it, inserted] = holes_.emplace(base, len);
  // Coalesce with the following hole, then with the preceding one.
  auto next = std::next(it);
  if (next != holes_.end() && it->first + it->second == next->first) {
    it->second += next->second;
    holes_.erase(next);
  }
  if (it != holes_.begin()) {
    auto prev = std::prev(it);
    if (prev->first + prev->second == it->first) {
      prev->second += it->second;
      holes_.erase(it);
    }
  }
}

bool AllocTable::overlaps(uintptr_t addr, size_t len) const {
  const uintptr_t end = addr + (len == 0 ? 1 : len);
  auto it = by_base_.lower_bound(end);  // first range starting at or after end
  if (it == by_base_.begin()) return false;
  --it;
  return it->first + it->second.size > addr;
}

bool AllocTable::insert(const Allocation& a) {
  if (a.size == 0 || a.base + a.size < a.base || overlaps(a.base, a.size)) return false;
  by_base_.emplace(a.base, a);
  return true;
}

bool AllocTable::erase(uintptr_t base) { return by_base_.erase(base) == 1; }

const Allocation* AllocTable::find(uintptr_t addr) const {
  auto it = by_base_.upper_bound(addr);
  if (it == by_base_.begin()) return nullptr;
  --it;
  const Allocation& a = it->second;
  return addr - a.base < a.size ? &a : nullptr;
}

const Allocation* AllocTable::find_range(uintptr_t addr, size_t len) const {
  const Allocation* a = find(addr);
  if (a == nullptr) return nullptr;
  const size_t room = a->size - (addr - a->base);
  return len <= room ? a : nullptr;
}

}  // namespace xg::sim
