// libFuzzer: everything the daemon reads from a worker (control.h), on arbitrary bytes. Input: byte 0 gives the
// control packet's length (mod 9), then the packet, then the bytes the worker writes into its half of the control
// page (from `state` on). The daemon's readers must never misbehave, whatever a compromised worker wrote:
//   decode_control: a decoded packet encodes back to the same bytes; a worker never sends a daemon's message;
//   read_registration: only a valid zone name comes out;
//   worker_state_name, format_profile (admin 'profile') and the time slicer's tick (the daemon's schedule()).
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <span>
#include <string>

#include "gpu-proxy/control.h"
#include "gpu-proxy/zone_page.h"
#include "gpu-proxy/op_profile.h"
#include "gpu-proxy/time_slicer.h"

using namespace xg::proxy;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto bytes = std::as_bytes(std::span(data, size));
  const size_t packet_len = std::min<size_t>(std::to_integer<size_t>(bytes[0]) % 9, size - 1);
  const auto packet = bytes.subspan(1, packet_len);
  const auto page_bytes = bytes.subspan(1 + packet_len);

  for (Sender from : {Sender::kWorker, Sender::kDaemon}) {
    const auto m = decode_control(packet, from);
    if (!m) continue;
    const auto again = encode_control(*m);
    if (packet.size() != again.size() || std::memcmp(packet.data(), again.data(), again.size()) != 0)
      __builtin_trap();
    if (from == Sender::kWorker && *m != ControlMessage::kRegistered) __builtin_trap();
  }

  // A page as the daemon maps it, with the worker's half overwritten by the input.
  alignas(ControlPage) static std::byte storage[sizeof(ControlPage)];
  std::memset(storage, 0, sizeof storage);
  auto* page = ::new (storage) ControlPage();
  constexpr size_t kWorkerHalf = offsetof(ControlPage, state);
  std::memcpy(storage + kWorkerHalf, page_bytes.data(), std::min(page_bytes.size(), sizeof storage - kWorkerHalf));

  std::string zone = "-";
  if (auto reg = read_registration(*page)) {
    if (!valid_zone_name(reg->name) || reg->name.size() >= sizeof page->name) __builtin_trap();
    zone = reg->name;
  }
  if (worker_state_name(page->state.load()) == nullptr) __builtin_trap();
  (void)format_profile(*page, zone, 12);
  (void)format_profile(*page, zone, 0);

  for (const auto& [code, n] : read_results(*page))
    if (code == 0 || code < -1 || code > 999) __builtin_trap();

  // The zone page as the daemon maps it, its slots (the workers' half) overwritten by the same input.
  alignas(ZonePage) static std::byte zone_storage[sizeof(ZonePage)];
  std::memset(zone_storage, 0, sizeof zone_storage);
  auto* zp = ::new (zone_storage) ZonePage();
  constexpr size_t kSlots = offsetof(ZonePage, slots);
  std::memcpy(zone_storage + kSlots, page_bytes.data(), std::min(page_bytes.size(), sizeof zone_storage - kSlots));
  const ZoneUsage usage = zone_usage(*zp);
  if (usage.programs > kMaxProgramsPerZone) __builtin_trap();

  TimeSlicer slicer;
  const TimeSlicer::Observation obs[2] = {
      {1, 1, zp->slots[0].sched_submits.load(), zp->slots[0].sched_waiting.load() != 0},
      {2, 3, page->calls.load(), (page->posts.load() & 1) != 0}};
  TimeSlicer::Decision dec[2];
  auto t = TimeSlicer::Clock::time_point{} + std::chrono::seconds(1);
  for (int i = 0; i < 3; ++i, t += std::chrono::milliseconds(7)) slicer.tick(t, obs, dec);
  return 0;
}
