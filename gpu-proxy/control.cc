#include "gpu-proxy/control.h"

#include <algorithm>
#include <cstring>

namespace xg::proxy {

bool valid_zone_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > 63) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
  });
}

std::array<std::byte, kControlPacketBytes> encode_control(ControlMessage m) noexcept {
  return {static_cast<std::byte>(m)};
}

std::optional<ControlMessage> decode_control(std::span<const std::byte> packet, Sender from) noexcept {
  if (packet.size() != kControlPacketBytes) return std::nullopt;
  const char b = static_cast<char>(packet[0]);
#define XG_CONTROL_DECODE(name, byte, sender) \
  if (b == (byte) && from == (sender)) return ControlMessage::k##name;
  XG_CONTROL_MESSAGES(XG_CONTROL_DECODE)
#undef XG_CONTROL_DECODE
  return std::nullopt;
}

std::optional<WorkerRegistration> read_registration(const ControlPage& page) {
  // One copy of the worker-written bytes; everything below looks at the copy only.
  char raw[sizeof page.name];
  std::memcpy(raw, page.name, sizeof raw);
  WorkerRegistration r;
  r.name.assign(raw, strnlen(raw, sizeof raw));
  if (!valid_zone_name(r.name)) return std::nullopt;
  r.pid = page.zone_pid.load(std::memory_order_relaxed);
  r.requested_quota = page.requested_quota.load(std::memory_order_relaxed);
  return r;
}

const char* worker_state_name(uint32_t s) noexcept {
  switch (static_cast<WorkerState>(s)) {
    case WorkerState::kStarting: return "starting";
    case WorkerState::kRegistered: return "registering";
    case WorkerState::kServing: return "serving";
    case WorkerState::kEnded: return "ended";
  }
  return "?";
}

void count_result(ControlPage& page, int32_t code) noexcept {
  for (size_t i = 0; i + 1 < kResultSlots; ++i) {
    ResultCount& r = page.results[i];
    const int32_t c = r.code.load(std::memory_order_relaxed);
    if (c == code) {
      r.calls.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (c == 0) {  // first seen: this worker is the page's only writer, so claiming the slot needs no atomics
      r.code.store(code, std::memory_order_relaxed);
      r.calls.store(1, std::memory_order_relaxed);
      return;
    }
  }
  ResultCount& rest = page.results[kResultSlots - 1];
  rest.code.store(-1, std::memory_order_relaxed);
  rest.calls.fetch_add(1, std::memory_order_relaxed);
}

std::vector<std::pair<int32_t, uint64_t>> read_results(const ControlPage& page) {
  std::vector<std::pair<int32_t, uint64_t>> out;
  for (const ResultCount& r : page.results) {
    const int32_t code = r.code.load(std::memory_order_relaxed);
    if (code == 0 || code < -1 || code > 999) continue;  // the driver's codes are 1..999; -1: the rest
    out.emplace_back(code, r.calls.load(std::memory_order_relaxed));
  }
  return out;
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
