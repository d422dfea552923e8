// The shim's reading of a zone's answer to CtlPoll (idm/messages_zonectl.h): the response record as it came off
// the ring (the shim's private copy), decoded by the table-driven codec, matched to the call it answers, its
// fixed fields checked and its event stream walked by idm::parse_ctl_events. Split from zone_control.cc so the
// fuzz target (zone_events_fuzz.cc) runs exactly the code the shim runs on a hostile zone's bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace xg::shim {

// One event, copied out of the response (the response buffer is reused by the next call).
struct ZoneEvent {
  uint32_t proc_id = 0;
  bool exit = false;    // false: output
  int stream = 0;       // output: 1 stdout, 2 stderr
  int status = 0;       // exit: code, or 128 + signal
  std::vector<std::byte> bytes;
};

struct ZonePoll {
  bool ok = false;       // false: the zone broke the contract (`why` says how); the channel must be closed
  bool pending = false;  // the zone has more waiting: poll again at once
  uint32_t error = 0;    // an error answer's errno (ok is true, no events)
  std::string why;
  std::vector<ZoneEvent> events;
};

// `record`: one response record; `seq`: the sequence number of the CtlPoll it must answer.
[[nodiscard]] ZonePoll read_poll_response(std::span<const std::byte> record, uint32_t seq);

// Errors in a response header are errnos: anything outside 1..kMaxErrno is the zone breaking the contract.
inline constexpr uint32_t kMaxErrno = 4095;

}  // namespace xg::shim
