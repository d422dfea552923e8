#include "gpu-proxy/handle_table.h"

namespace xg::proxy {

uint64_t HandleTable::insert(ObjType type, void* object, uint64_t parent) {
  uint32_t index;
  if (!free_.empty()) {
    index = free_.back();
    free_.pop_back();
  } else {
    if (entries_.size() >= kMaxHandles) return 0;
    index = static_cast<uint32_t>(entries_.size());
    entries_.emplace_back();
  }
  Entry& e = entries_[index];
  e.object = object;
  e.parent = parent;
  e.type = type;
  e.live = true;
  e.generation = (e.generation + 1) & 0xFFFFFF;  // a reused slot gets a new generation: old handles go stale
  if (e.generation == 0) e.generation = 1;
  ++live_;
  ++by_type_[static_cast<uint8_t>(type)];
  return make_handle(type, e.generation, index);
}

HandleTable::Entry* HandleTable::find(uint64_t handle, ObjType type) noexcept {
  const auto tag = static_cast<uint8_t>(handle >> 56);
  const auto gen = static_cast<uint32_t>(handle >> 32) & 0xFFFFFF;
  const auto index = static_cast<uint32_t>(handle);
  if (tag != static_cast<uint8_t>(type) || index >= entries_.size()) return nullptr;
  Entry& e = entries_[index];
  if (!e.live || e.type != type || e.generation != gen) return nullptr;
  return &e;
}

uint64_t HandleTable::handle_of(ObjType type, const void* object) const noexcept {
  for (uint32_t i = 0; i < entries_.size(); ++i) {
    const Entry& e = entries_[i];
    if (e.live && e.type == type && e.object == object) return make_handle(type, e.generation, i);
  }
  return 0;
}

void HandleTable::erase(uint64_t handle) noexcept {
  const auto index = static_cast<uint32_t>(handle);
  if (index >= entries_.size() || !entries_[index].live) return;
  if (make_handle(entries_[index].type, entries_[index].generation, index) != handle) return;
  entries_[index].live = false;
  --by_type_[static_cast<uint8_t>(entries_[index].type)];
  entries_[index].object = nullptr;
  free_.push_back(index);
  --live_;
}

std::vector<uint64_t> HandleTable::of_type(ObjType type) const {
  return collect([type](const Entry& e) { return e.type == type; });
}

std::vector<uint64_t> HandleTable::children(uint64_t handle) const {
  return collect([handle](const Entry& e) { return e.parent == handle; });
}

}  // namespace xg::proxy
