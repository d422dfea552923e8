// libFuzzer target: a pod zone's answer to the shim's CtlPoll, as it comes off the control channel's response
// ring (the shim's private copy): decoded, matched to the call (seq 7 here), its fields checked and its event
// stream walked by read_poll_response, the code the shim's poller runs. Each event is touched as the task
// service would use it.
#include <cstddef>
#include <cstdint>
#include <span>

#include "cri-shim/zone_events.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto poll = xg::shim::read_poll_response(std::as_bytes(std::span(data, size)), 7);
  volatile uint64_t sink = 0;
  for (const auto& e : poll.events) {
    sink = sink + e.proc_id + static_cast<uint64_t>(e.status) + static_cast<uint64_t>(e.stream);
    for (auto b : e.bytes) sink = sink + static_cast<uint8_t>(b);
  }
  if (!poll.ok && poll.why.empty()) __builtin_trap();  // a refusal always says why
  if (!poll.ok && !poll.events.empty()) __builtin_trap();  // a refused stream delivers nothing
  return 0;
}
