// The zone's device allocations as an interval map. Every device range a request names (copy source or
// destination, memset target, 2D rectangle) must lie wholly inside one allocation of this zone before it reaches
// the driver: a zone cannot name memory it did not allocate, even inside its own GPU address space.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

namespace xg::proxy {

enum class AllocKind : uint8_t { kDevice, kPitched, kGlobal, kHostMapped };

struct Allocation {
  uint64_t base = 0;
  uint64_t size = 0;
  AllocKind kind{};
  uint64_t owner = 0;   // context handle (device memory) or module/library handle (globals)
  uint64_t charged = 0;  // bytes counted against the quota
};

class AllocMap {
 public:
  // False if the range is empty, wraps, or overlaps an existing allocation.
  [[nodiscard]] bool insert(const Allocation& a);
  // The allocation starting exactly at `base`.
  [[nodiscard]] std::optional<Allocation> take(uint64_t base);
  // The allocation containing [ptr, ptr + bytes) entirely, if any. bytes == 0 checks ptr alone.
  [[nodiscard]] const Allocation* containing(uint64_t ptr, uint64_t bytes) const noexcept;
  // Removes and returns every allocation owned by `owner`.
  std::vector<Allocation> take_owned_by(uint64_t owner);
  [[nodiscard]] size_t size() const noexcept { return by_base_.size(); }

 private:
  std::map<uint64_t, Allocation> by_base_;
};

}  // namespace xg::proxy
