// Unit tests of the Xen handshake's pure parts (no Xen needed): the state machine and the validation of
// everything a frontend writes to xenstore.
#include "idm/xen/xen_handshake.h"

#include <doctest/doctest.h>

#include <string>

using namespace xg::idm;
using namespace xg::idm::xen;

namespace {

FrontendValues good() {
  const ChannelGeometry g = default_geometry();
  const uint32_t refs[] = {42};
  return make_frontend_values(g, refs, 7, 43);
}

TEST_CASE("a guest's program claims only a fresh device nobody holds (or a claim gone stale)") {
  const int64_t now = 1'000'000;
  CHECK(device_claimable("1", "0", std::nullopt, now));
  CHECK_FALSE(device_claimable("3", "0", std::nullopt, now));   // another program is connecting
  CHECK_FALSE(device_claimable("4", "0", std::nullopt, now));   // connected
  CHECK_FALSE(device_claimable(std::nullopt, "0", std::nullopt, now));
  CHECK_FALSE(device_claimable("1", std::nullopt, std::nullopt, now));  // the backend has not finished the node
  CHECK_FALSE(device_claimable("1", "x1", std::nullopt, now));
  CHECK_FALSE(device_claimable("1", "0", "999990", now));       // claimed 10 s ago
  CHECK(device_claimable("1", "0", "999960", now));             // claimed 40 s ago: stale
  CHECK(device_claimable("1", "0", "garbage", now));            // not ours to trust
}

}  // namespace

TEST_CASE("default geometry is valid, fits one directory page and a Xen page budget") {
  const ChannelGeometry g = default_geometry();
  CHECK(g.valid());
  CHECK(g.total_pages() == 323);
  CHECK(dir_pages_for(g.total_pages()) == 1);
  CHECK(g.data_bytes() == 1024 * 1024);
  // An Echo with the largest tail must fit a ring record.
  CHECK(g.max_payload >= 24 + 8 + 32 * 1024);
}

TEST_CASE("parse_u32 is strict decimal") {
  CHECK(parse_u32("0") == 0u);
  CHECK(parse_u32("4294967295") == 4294967295u);
  CHECK(parse_u32("007") == 7u);
  for (const char* bad : {"", "-1", "+1", " 1", "1 ", "0x10", "4294967296", "99999999999", "1a", "\xff"})
    CHECK_MESSAGE(!parse_u32(bad), bad);
  CHECK(!parse_u32(std::string_view("1\0", 2)));
}

TEST_CASE("parse_state: absent is Unknown, only 0..6") {
  CHECK(parse_state(std::nullopt) == LinkState::kUnknown);
  CHECK(parse_state("4") == LinkState::kConnected);
  CHECK(!parse_state("7"));  // Reconfiguring: not ours
  CHECK(!parse_state("Connected"));
}

TEST_CASE("parse_ref_list") {
  CHECK(parse_ref_list("1", 16) == std::vector<uint32_t>{1});
  CHECK(parse_ref_list("1 2 3", 16) == std::vector<uint32_t>{1, 2, 3});
  CHECK(!parse_ref_list("", 16));
  CHECK(!parse_ref_list("1  2", 16));
  CHECK(!parse_ref_list("1 ", 16));
  CHECK(!parse_ref_list(" 1", 16));
  CHECK(!parse_ref_list("1 2 3", 2));
  CHECK(!parse_ref_list(std::string(5000, '1'), 16));
}

TEST_CASE("parse_frontend accepts what a good frontend writes") {
  ParsedFrontend p = parse_frontend(good());
  REQUIRE(p.reject == Reject::kOk);
  CHECK(p.info.num_pages == 323);
  CHECK(p.info.dir_refs == std::vector<uint32_t>{42});
  CHECK(p.info.event_channel == 7u);
  CHECK(p.info.alive_ref == 43u);
  CHECK(p.info.geometry.data_pages == 256);
}

TEST_CASE("parse_frontend rejects hostile values") {
  auto with = [](auto mutate) {
    FrontendValues v = good();
    mutate(v);
    return parse_frontend(v).reject;
  };
  CHECK(with([](auto& v) { v.ring_refs.reset(); }) == Reject::kMissingField);
  CHECK(with([](auto& v) { v.event_channel.reset(); }) == Reject::kMissingField);
  CHECK(with([](auto& v) { v.alive_ref.reset(); }) == Reject::kMissingField);
  CHECK(with([](auto& v) { v.alive_ref = "-3"; }) == Reject::kBadAliveRef);
  CHECK(with([](auto& v) { v.protocol_version = "2"; }) == Reject::kBadProtocolVersion);
  CHECK(with([](auto& v) { v.protocol_version = "one"; }) == Reject::kBadNumber);
  CHECK(with([](auto& v) { v.num_pages = "-1"; }) == Reject::kBadNumber);
  CHECK(with([](auto& v) { v.num_pages = "99999999999"; }) == Reject::kBadNumber);
  CHECK(with([](auto& v) { v.num_pages = "324"; }) == Reject::kPageCountMismatch);
  CHECK(with([](auto& v) { v.num_pages = "0"; }) == Reject::kPageCountMismatch);
  CHECK(with([](auto& v) { v.num_pages = "4000000000"; }) == Reject::kTooManyPages);
  CHECK(with([](auto& v) { v.request_ring_bytes = "100000"; }) == Reject::kBadGeometry);  // not a power of two
  CHECK(with([](auto& v) { v.max_payload = "4294967295"; }) == Reject::kBadGeometry);
  CHECK(with([](auto& v) { v.data_pages = "4294967295"; }) == Reject::kBadGeometry);
  // A valid geometry over the Xen page budget.
  CHECK(with([](auto& v) {
          v.data_pages = "60000";
          v.num_pages = std::to_string(60000 + 323 - 256);
        }) == Reject::kTooManyPages);
  CHECK(with([](auto& v) { v.ring_refs = "42 43"; }) == Reject::kBadRefList);  // one directory page expected
  CHECK(with([](auto& v) { v.ring_refs = "x"; }) == Reject::kBadRefList);
  CHECK(with([](auto& v) { v.ring_refs = ""; }) == Reject::kBadRefList);
  CHECK(with([](auto& v) { v.event_channel = "0"; }) == Reject::kBadEventChannel);
  CHECK(with([](auto& v) { v.event_channel = "7 8"; }) == Reject::kBadEventChannel);
  // The backend's own, smaller limit.
  CHECK(parse_frontend(good(), 100).reject == Reject::kTooManyPages);
}

TEST_CASE("check_channel_refs rejects aliases") {
  const uint32_t ok[] = {9, 8, 10};
  const uint32_t dup[] = {9, 8, 9};
  CHECK(check_channel_refs(ok) == Reject::kOk);
  CHECK(check_channel_refs(dup) == Reject::kDuplicateRef);
}

TEST_CASE("the state machine walks the Xen split-driver handshake") {
  using S = LinkState;
  // Frontend.
  CHECK(step(Side::kFrontend, S::kInitialising, S::kUnknown).action == Action::kWait);
  CHECK(step(Side::kFrontend, S::kInitialising, S::kInitWait).action == Action::kPublish);
  CHECK(step(Side::kFrontend, S::kInitialising, S::kInitWait).next == S::kInitialised);
  CHECK(step(Side::kFrontend, S::kInitialised, S::kInitWait).action == Action::kWait);
  CHECK(step(Side::kFrontend, S::kInitialised, S::kConnected).action == Action::kConnect);
  CHECK(step(Side::kFrontend, S::kConnected, S::kConnected).action == Action::kNone);
  CHECK(step(Side::kFrontend, S::kConnected, S::kClosing).action == Action::kTeardown);
  CHECK(step(Side::kFrontend, S::kConnected, S::kUnknown).action == Action::kError);
  CHECK(step(Side::kFrontend, S::kClosing, S::kClosed).action == Action::kDone);
  // Backend.
  CHECK(step(Side::kBackend, S::kInitWait, S::kInitialising).action == Action::kWait);
  CHECK(step(Side::kBackend, S::kInitWait, S::kInitialised).action == Action::kConnect);
  CHECK(step(Side::kBackend, S::kInitWait, S::kInitialised).next == S::kConnected);
  CHECK(step(Side::kBackend, S::kInitWait, S::kConnected).action == Action::kError);
  CHECK(step(Side::kBackend, S::kConnected, S::kConnected).action == Action::kNone);
  CHECK(step(Side::kBackend, S::kConnected, S::kClosing).action == Action::kTeardown);
  CHECK(step(Side::kBackend, S::kConnected, S::kClosed).action == Action::kTeardown);
  CHECK(step(Side::kBackend, S::kConnected, S::kUnknown).action == Action::kError);  // domain gone
  CHECK(step(Side::kBackend, S::kConnected, S::kInitialising).action == Action::kError);
  CHECK(step(Side::kBackend, S::kClosing, S::kClosed).action == Action::kDone);
}

TEST_CASE("every (side, self, peer) has a defined answer; closing peers always tear down or finish") {
  for (Side side : {Side::kFrontend, Side::kBackend}) {
    for (int a = 0; a <= 6; ++a) {
      for (int b = 0; b <= 6; ++b) {
        const Step s = step(side, static_cast<LinkState>(a), static_cast<LinkState>(b));
        CHECK(static_cast<int>(s.next) <= 6);
        CHECK(action_name(s.action)[0] != '?');
        if (b >= 5) {
          const bool ends = s.action == Action::kTeardown || s.action == Action::kDone;
          CHECK(ends);
        }
        // Never a way back to a handshake state once closing.
        if (a >= 5) CHECK(static_cast<int>(s.next) >= 5);
      }
    }
  }
}
