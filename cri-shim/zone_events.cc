#include "cri-shim/zone_events.h"

#include "idm/codec.h"
#include "idm/messages.h"

namespace xg::shim {

ZonePoll read_poll_response(std::span<const std::byte> record, uint32_t seq) {
  ZonePoll out;
  auto m = idm::decode(record, idm::Direction::kResponse, idm::Path::kRing);
  if (!m) {
    out.why = "malformed response to CtlPoll (" + std::string(idm::error_name(m.error())) + ")";
    return out;
  }
  // One call is outstanding at a time: anything but the answer to it means the zone lost track (or lies).
  if (m->op() != idm::Op::CtlPoll || m->header.seq != seq) {
    out.why = "answer to CtlPoll seq " + std::to_string(seq) + " has opcode " + std::to_string(m->header.opcode) +
              " seq " + std::to_string(m->header.seq);
    return out;
  }
  if (m->header.result != 0) {
    if (m->header.result > kMaxErrno) {
      out.why = "CtlPoll answered result " + std::to_string(m->header.result) + ", not an errno";
      return out;
    }
    out.ok = true;
    out.error = m->header.result;
    return out;
  }
  // decode() checked length and the tail bound; response fields have no validator in the table, so here.
  const auto rsp = m->fixed<idm::CtlPollRsp>();
  if (rsp.pending > 1) {
    out.why = "CtlPoll answered pending=" + std::to_string(rsp.pending);
    return out;
  }
  // Each event is at least 16 bytes: a count the tail cannot hold is refused before any is walked.
  const auto tail = m->tail<idm::CtlPollRsp>();
  if (rsp.events > tail.size() / sizeof(idm::CtlEvent)) {
    out.why = "CtlPoll announced " + std::to_string(rsp.events) + " events in " + std::to_string(tail.size()) + " bytes";
    return out;
  }
  out.events.reserve(rsp.events);
  const bool parsed = idm::parse_ctl_events(tail, rsp.events, [&](const idm::CtlEvent& ev, std::span<const std::byte> b) {
    ZoneEvent e;
    e.proc_id = ev.proc_id;
    e.exit = ev.type == static_cast<uint16_t>(idm::CtlEventType::kExit);
    e.stream = ev.stream;
    e.status = ev.value;
    e.bytes.assign(b.begin(), b.end());
    out.events.push_back(std::move(e));
  });
  if (!parsed) {
    out.events.clear();
    out.why = "malformed event stream in CtlPoll's answer";
    return out;
  }
  out.ok = true;
  out.pending = rsp.pending == 1;
  return out;
}

}  // namespace xg::shim
