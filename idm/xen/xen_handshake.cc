#include "idm/xen/xen_handshake.h"

#include <algorithm>

#include "idm/protocol.h"

namespace xg::idm::xen {

const char* state_name(LinkState s) noexcept {
  switch (s) {
    case LinkState::kUnknown: return "Unknown";
    case LinkState::kInitialising: return "Initialising";
    case LinkState::kInitWait: return "InitWait";
    case LinkState::kInitialised: return "Initialised";
    case LinkState::kConnected: return "Connected";
    case LinkState::kClosing: return "Closing";
    case LinkState::kClosed: return "Closed";
  }
  return "?";
}

const char* action_name(Action a) noexcept {
  switch (a) {
    case Action::kWait: return "wait";
    case Action::kPublish: return "publish";
    case Action::kConnect: return "connect";
    case Action::kNone: return "none";
    case Action::kTeardown: return "teardown";
    case Action::kDone: return "done";
    case Action::kError: return "error";
  }
  return "?";
}

const char* reject_name(Reject r) noexcept {
  switch (r) {
    case Reject::kOk: return "ok";
    case Reject::kMissingField: return "missing field";
    case Reject::kBadNumber: return "unparsable number";
    case Reject::kBadProtocolVersion: return "unsupported protocol-version";
    case Reject::kBadGeometry: return "invalid geometry";
    case Reject::kPageCountMismatch: return "num-pages does not match the geometry";
    case Reject::kTooManyPages: return "too many pages";
    case Reject::kBadRefList: return "bad ring-refs";
    case Reject::kBadEventChannel: return "bad event-channel";
    case Reject::kDuplicateRef: return "duplicate grant ref";
    case Reject::kBadAliveRef: return "bad alive-ref";
  }
  return "?";
}

namespace {

using S = LinkState;

bool closing(S s) { return s == S::kClosing || s == S::kClosed; }

Step frontend_step(S self, S peer) {
  if (self == S::kClosed) return {S::kClosed, Action::kDone};
  if (self == S::kClosing) return closing(peer) || peer == S::kUnknown ? Step{S::kClosed, Action::kDone}
                                                                        : Step{S::kClosing, Action::kWait};
  if (closing(peer)) return {S::kClosing, Action::kTeardown};
  switch (self) {
    case S::kUnknown:
    case S::kInitialising:
      if (peer == S::kUnknown || peer == S::kInitialising) return {self, Action::kWait};  // backend not up yet
      if (peer == S::kInitWait) return {S::kInitialised, Action::kPublish};
      return {S::kClosing, Action::kError};  // backend Initialised/Connected before we published
    case S::kInitialised:
      if (peer == S::kInitWait) return {self, Action::kWait};
      if (peer == S::kConnected) return {S::kConnected, Action::kConnect};
      return {S::kClosing, Action::kError};  // backend vanished or went back
    case S::kConnected:
      if (peer == S::kConnected) return {self, Action::kNone};
      return {S::kClosing, Action::kError};  // Unknown = backend gone; anything else = impossible
    default:
      break;
  }
  return {S::kClosing, Action::kError};  // InitWait is not a frontend state
}

Step backend_step(S self, S peer) {
  if (self == S::kClosed) return {S::kClosed, Action::kDone};
  if (self == S::kClosing) return closing(peer) || peer == S::kUnknown ? Step{S::kClosed, Action::kDone}
                                                                        : Step{S::kClosing, Action::kWait};
  if (closing(peer)) return {S::kClosing, Action::kTeardown};
  switch (self) {
    case S::kInitWait:
      if (peer == S::kInitialising) return {self, Action::kWait};
      if (peer == S::kInitialised) return {S::kConnected, Action::kConnect};
      // Unknown: node gone before connecting (domain destroyed); Connected/InitWait: impossible.
      return {S::kClosing, Action::kError};
    case S::kConnected:
      if (peer == S::kConnected || peer == S::kInitialised) return {self, Action::kNone};
      return {S::kClosing, Action::kError};  // Unknown (frontend node gone) or back to Initialising
    default:
      break;
  }
  return {S::kClosing, Action::kError};  // Unknown/Initialising/Initialised are not backend states
}

}  // namespace

Step step(Side side, LinkState self, LinkState peer) noexcept {
  return side == Side::kFrontend ? frontend_step(self, peer) : backend_step(self, peer);
}

std::optional<uint32_t> parse_u32(std::string_view s) noexcept {
  if (s.empty() || s.size() > 10) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > UINT32_MAX) return std::nullopt;
  return static_cast<uint32_t>(v);
}

std::optional<LinkState> parse_state(std::optional<std::string_view> s) noexcept {
  if (!s) return LinkState::kUnknown;
  auto v = parse_u32(*s);
  if (!v || *v > static_cast<uint32_t>(LinkState::kClosed)) return std::nullopt;
  return static_cast<LinkState>(*v);
}

std::optional<std::vector<uint32_t>> parse_ref_list(std::string_view s, uint32_t max) noexcept {
  std::vector<uint32_t> out;
  if (s.size() > kMaxValueBytes) return std::nullopt;
  size_t i = 0;
  for (;;) {
    const size_t sp = s.find(' ', i);
    const std::string_view tok = s.substr(i, sp == std::string_view::npos ? std::string_view::npos : sp - i);
    auto v = parse_u32(tok);
    if (!v || out.size() >= max) return std::nullopt;
    out.push_back(*v);
    if (sp == std::string_view::npos) break;
    i = sp + 1;
  }
  return out;
}

ParsedFrontend parse_frontend(const FrontendValues& v, uint32_t max_pages) noexcept {
  ParsedFrontend r;
  auto fail = [&](Reject why) {
    r.reject = why;
    return r;
  };
  const std::optional<std::string>* required[] = {&v.protocol_version, &v.request_ring_bytes,
                                                   &v.response_ring_bytes, &v.max_payload,
                                                   &v.data_pages,       &v.num_pages,
                                                   &v.ring_refs,        &v.event_channel,
                                                   &v.alive_ref};
  for (auto* f : required)
    if (!f->has_value()) return fail(Reject::kMissingField);

  auto version = parse_u32(*v.protocol_version);
  if (!version) return fail(Reject::kBadNumber);
  if (*version != kProtocolVersion) return fail(Reject::kBadProtocolVersion);

  auto req = parse_u32(*v.request_ring_bytes), rsp = parse_u32(*v.response_ring_bytes),
       maxp = parse_u32(*v.max_payload), data = parse_u32(*v.data_pages), pages = parse_u32(*v.num_pages);
  if (!req || !rsp || !maxp || !data || !pages) return fail(Reject::kBadNumber);
  ChannelGeometry g;
  g.request_ring_bytes = *req;
  g.response_ring_bytes = *rsp;
  g.max_payload = *maxp;
  g.data_pages = *data;
  if (!g.valid()) return fail(Reject::kBadGeometry);
  // Only now is total_pages() meaningful (valid() bounds every term, so it cannot overflow).
  if (*pages > std::min(max_pages, kMaxPages) || g.total_bytes() > uint64_t{kMaxPages} * kPageBytes)
    return fail(Reject::kTooManyPages);
  if (*pages != g.total_pages()) return fail(Reject::kPageCountMismatch);

  auto refs = parse_ref_list(*v.ring_refs, kMaxDirPages);
  if (!refs || refs->size() != dir_pages_for(*pages)) return fail(Reject::kBadRefList);
  if (check_channel_refs(*refs) != Reject::kOk) return fail(Reject::kDuplicateRef);

  auto port = parse_u32(*v.event_channel);
  // Port 0 is never a valid event channel.
  if (!port || *port == 0) return fail(Reject::kBadEventChannel);

  auto alive = parse_u32(*v.alive_ref);
  if (!alive) return fail(Reject::kBadAliveRef);

  r.info.geometry = g;
  r.info.num_pages = *pages;
  r.info.dir_refs = std::move(*refs);
  r.info.event_channel = *port;
  r.info.alive_ref = *alive;
  return r;
}

Reject check_channel_refs(std::span<const uint32_t> refs) noexcept {
  std::vector<uint32_t> sorted(refs.begin(), refs.end());
  std::sort(sorted.begin(), sorted.end());
  return std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end() ? Reject::kOk : Reject::kDuplicateRef;
}

FrontendValues make_frontend_values(const ChannelGeometry& g, std::span<const uint32_t> dir_refs,
                                    uint32_t event_channel, uint32_t alive_ref) {
  FrontendValues v;
  v.protocol_version = std::to_string(kProtocolVersion);
  v.request_ring_bytes = std::to_string(g.request_ring_bytes);
  v.response_ring_bytes = std::to_string(g.response_ring_bytes);
  v.max_payload = std::to_string(g.max_payload);
  v.data_pages = std::to_string(g.data_pages);
  v.num_pages = std::to_string(g.total_pages());
  std::string refs;
  for (uint32_t r : dir_refs) {
    if (!refs.empty()) refs += ' ';
    refs += std::to_string(r);
  }
  v.ring_refs = std::move(refs);
  v.event_channel = std::to_string(event_channel);
  v.alive_ref = std::to_string(alive_ref);
  return v;
}

namespace {
// A claim is seconds since the epoch, written by a program of the guest: any run of up to 18 digits is read as one.
std::optional<int64_t> claim_seconds(std::string_view s) {
  if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
  int64_t v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}
}  // namespace

bool device_claimable(std::optional<std::string_view> state, std::optional<std::string_view> backend_id,
                      std::optional<std::string_view> claim, int64_t now_s) noexcept {
  if (!state || *state != "1" || !backend_id || !parse_u32(*backend_id)) return false;  // 1: Initialising
  if (!claim) return true;
  const auto at = claim_seconds(*claim);
  return !at || now_s - *at > kStaleClaim.count();
}

}  // namespace xg::idm::xen
