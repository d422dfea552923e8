// Device memory of the simulated driver: one reserved address range (the "device"), a first-fit allocator over
// it, and the allocation table every pointer the driver is given is checked against.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>

namespace xg::sim {

// A PROT_NONE reservation of `bytes` (the device's memory size); allocations commit pages (read/write) and frees
// decommit them (MADV_DONTNEED then PROT_NONE), so freed memory reads back as zeros if reused and faults if
// touched while free. Not thread-safe: guarded by the driver lock.
class Arena {
 public:
  static constexpr size_t kGranule = 4096;  // commit granularity; every allocation starts on a granule

  Arena() = default;
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  ~Arena();

  bool reserve(size_t bytes);  // once; false if mmap fails
  std::optional<uintptr_t> allocate(size_t bytes);  // granule-rounded; nullopt when no hole is large enough
  void release(uintptr_t base, size_t bytes);       // bytes as passed to allocate
  size_t capacity() const { return capacity_; }
  size_t used() const { return used_; }
  static size_t round_up(size_t bytes) { return (bytes + kGranule - 1) / kGranule * kGranule; }

 private:
  uintptr_t base_ = 0;
  size_t capacity_ = 0;
  size_t used_ = 0;
  std::map<uintptr_t, size_t> holes_;  // start -> length, coalesced
};

enum class MemKind { device, host_alloc, host_registered, module_global };

struct Allocation {
  uintptr_t base = 0;
  size_t size = 0;       // bytes requested (what cuMemGetAddressRange reports)
  MemKind kind = MemKind::device;
  uint64_t context = 0;  // owning context handle (0 for none)
  uint64_t owner = 0;    // module handle for module_global
  uint64_t buffer_id = 0;
  unsigned flags = 0;
  bool sync_memops = false;
};

// Interval map of every live range the device may address. Ranges never overlap.
class AllocTable {
 public:
  bool insert(const Allocation& a);  // false if it overlaps an existing range
  bool erase(uintptr_t base);
  // The allocation containing addr, or nullptr.
  const Allocation* find(uintptr_t addr) const;
  // The allocation containing all of [addr, addr + len) (len may be 0), or nullptr.
  const Allocation* find_range(uintptr_t addr, size_t len) const;
  bool overlaps(uintptr_t addr, size_t len) const;
  template <class F>
  void for_each(F&& f) const {
    for (const auto& [base, a] : by_base_) f(a);
  }

 private:
  std::map<uintptr_t, Allocation> by_base_;
};

}  // namespace xg::sim
