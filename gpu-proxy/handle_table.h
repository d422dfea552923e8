// A zone's table of driver objects. Guests never hold a driver pointer: they hold a 64-bit handle
//   [63:56] type tag | [55:32] generation | [31:0] index
// that names an entry of *their own* table. A stale (freed and reused slot), forged (unknown index) or
// wrongly-typed handle fails lookup, which the worker answers with CUDA_ERROR_INVALID_HANDLE. The tag is never 0,
// so handles never collide with NULL, CU_STREAM_LEGACY (1) or CU_STREAM_PER_THREAD (2).
// Entries record their parent (module -> context, function -> module, ...) so destroying a parent frees its
// children's handles.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

namespace xg::proxy {

enum class ObjType : uint8_t {
  kContext = 1,
  kModule,
  kFunction,
  kStream,
  kEvent,
  kLibrary,
  kKernel,
  kHostAlloc,
};

inline constexpr uint32_t kMaxHandles = 1u << 20;  // per zone: bounds the table a hostile zone can grow

class HandleTable {
 public:
  struct Entry {
    void* object = nullptr;  // the driver's pointer (or our own record for kHostAlloc)
    uint64_t parent = 0;     // handle of the owning object, 0 for none
    uint32_t generation = 0;
    ObjType type{};
    bool live = false;
  };

  // Adds an object; 0 if the table is full.
  [[nodiscard]] uint64_t insert(ObjType type, void* object, uint64_t parent = 0);
  // The entry for `handle` if it is live and of `type`; nullptr otherwise.
  [[nodiscard]] Entry* find(uint64_t handle, ObjType type) noexcept;
  [[nodiscard]] void* object(uint64_t handle, ObjType type) noexcept {
    Entry* e = find(handle, type);
    return e ? e->object : nullptr;
  }
  // Reverse lookup (driver pointer -> handle), for answers that name objects (e.g. a pointer's context).
  [[nodiscard]] uint64_t handle_of(ObjType type, const void* object) const noexcept;
  void erase(uint64_t handle) noexcept;
  // Handles whose parent is `handle` (direct children only).
  [[nodiscard]] std::vector<uint64_t> children(uint64_t handle) const;
  // Handles of one type (the worker's teardown).
  [[nodiscard]] std::vector<uint64_t> of_type(ObjType type) const;
  [[nodiscard]] size_t live_count() const noexcept { return live_; }
  [[nodiscard]] size_t live_count(ObjType type) const noexcept { return by_type_[static_cast<uint8_t>(type)]; }

 private:
  [[nodiscard]] uint64_t make_handle(ObjType t, uint32_t gen, uint32_t index) const noexcept {
    return (uint64_t{static_cast<uint8_t>(t)} << 56) | (uint64_t{gen & 0xFFFFFF} << 32) | index;
  }
  // Handles of the live entries that `pred` accepts.
  template <typename Pred>
  [[nodiscard]] std::vector<uint64_t> collect(Pred pred) const {
    std::vector<uint64_t> out;
    for (uint32_t i = 0; i < entries_.size(); ++i)
      if (entries_[i].live && pred(entries_[i])) out.push_back(make_handle(entries_[i].type, entries_[i].generation, i));
    return out;
  }
  std::vector<Entry> entries_;
  std::vector<uint32_t> free_;
  size_t live_ = 0;
  std::array<size_t, 256> by_type_{};  // live entries per type tag (the per-zone object limits read them)
};

}  // namespace xg::proxy
