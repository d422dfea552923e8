// The Xen transport's handshake, as plain functions with no Xen dependency: the connection state machine,
// and the parser/validator of everything a frontend (zone) writes to xenstore. Everything the guest writes is
// hostile input; these functions are what the unit tests and the fuzzer exercise (backend.cc only calls
// them and acts on the result).
//
// xenstore layout (F = frontend domid, B = backend domid, N = device id):
//   /local/domain/F/device/xen-gpu/N/          owner F (only F may write), B may read; created by the backend
//     backend          "/local/domain/B/backend/xen-gpu/F/N"     (written by the backend)
//     backend-id       "B"                                       (written by the backend)
//     state            XenbusState, decimal
//     protocol-version "1"                                       (idm kProtocolVersion)
//     request-ring-bytes, response-ring-bytes, max-payload, data-pages   the proposed ChannelGeometry
//     num-pages        channel pages = geometry.total_pages()
//     ring-refs        grant refs of the *directory* pages, decimal, space-separated (at most kMaxDirPages)
//     event-channel    unbound port allocated for B
//     alive-ref        grant ref of the liveness page (below)
//   /local/domain/B/backend/xen-gpu/F/N/       owner B, F may read
//     frontend, frontend-id, state, max-pages, protocol-version, error (on a rejected handshake)
//
// Why a directory of grant refs instead of one ring-ref%u node per page: a channel is ~300 pages with the Xen
// default geometry (and up to kMaxPages), xenstore nodes are slow (one round trip each through xenstored) and
// quota-limited (1000 nodes per domain by default), while one 4 KiB page holds 1024 refs. The frontend grants
// the directory pages read-only; the backend copies the refs out once into private memory (never re-reads
// them) before mapping. The same idea as blkif's indirect segments.
//
// Liveness page: a separate page shared with gntalloc's unmap notification (xengntshr_share_page_notify): the
// frontend sets byte kFrontendAliveByte; when its process dies or unshares, the kernel clears that byte and
// signals the event channel. The backend maps it with gntdev's notification (xengnttab_map_grant_ref_notify)
// on kBackendAliveByte the same way. So each side learns at once that the other *process* died, not only the
// other domain (xenstore state and @releaseDomain cover that). A hostile peer can only claim to be alive,
// which it can anyway.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "idm/channel.h"

namespace xg::idm::xen {

inline constexpr const char* kDeviceType = "xen-gpu";
inline constexpr uint32_t kRefsPerDirPage = kLendRefsPerDirPage;  // 1024 (the same layout as lent pages)
inline constexpr uint32_t kMaxDirPages = 16;
// Bound on a channel's pages: 64 MiB. Far below ChannelGeometry's own bound on purpose: grant mappings cost
// the driver domain real resources (gntdev/gntalloc limits), so a guest gets a small channel.
inline constexpr uint32_t kMaxPages = kMaxDirPages * kRefsPerDirPage;
inline constexpr size_t kMaxValueBytes = 4096;
inline constexpr uint32_t kFrontendAliveByte = 0;
inline constexpr uint32_t kBackendAliveByte = 1;  // xenstore's own payload limit (XENSTORE_PAYLOAD_MAX)

// The Xen default geometry: small rings and a 1 MiB data area (the shm default is 8 MiB). The rings must hold
// the largest message (an Echo with a 32 KiB tail), so each is 128 KiB. 323 pages in all.
[[nodiscard]] constexpr ChannelGeometry default_geometry() noexcept {
  ChannelGeometry g;
  g.request_ring_bytes = 128 * 1024;
  g.response_ring_bytes = 128 * 1024;
  g.max_payload = 64 * 1024 - 64;
  g.data_pages = 256;
  return g;
}

// XenbusState (xen/include/public/io/xenbus.h); the numeric values are the wire format in xenstore.
enum class LinkState : uint8_t {
  kUnknown = 0,  // also: node absent (domain gone, toolstack removed it)
  kInitialising = 1,
  kInitWait = 2,
  kInitialised = 3,
  kConnected = 4,
  kClosing = 5,
  kClosed = 6,
};
[[nodiscard]] const char* state_name(LinkState s) noexcept;

enum class Side : uint8_t { kFrontend, kBackend };

// What a side must do after reading the peer's state.
enum class Action : uint8_t {
  kWait,      // nothing yet; wait for the peer's next state change (bounded by the caller's deadline)
  kPublish,   // frontend: share pages, allocate the event channel, write the details, go Initialised
  kConnect,   // backend: validate, map, bind, go Connected.  frontend: attach to the mapped channel
  kNone,      // steady state (both Connected)
  kTeardown,  // unmap/unshare and unbind everything, then walk to Closed
  kDone,      // both sides closed: remove nodes / forget the connection
  kError,     // the peer is in a state that is impossible from ours: log, write `error`, tear down
};
[[nodiscard]] const char* action_name(Action a) noexcept;

struct Step {
  LinkState next;  // our state after performing `action` successfully
  Action action;
};

// THE transition function: (our side, our state, the peer's state) -> (our next state, what to do).
//
//        frontend (zone)                                   backend (driver domain)
//   Initialising ---------------------------------------> (creates both nodes) InitWait
//        |  sees InitWait: share pages, evtchn, details
//        v
//   Initialised  ---------------------------------------> sees Initialised: validate, map, bind
//        |                                                      v
//        |  sees Connected <---------------------------- Connected
//        v
//   Connected   <============ IDM traffic ============>  Connected
//        |                                                      |
//   Closing (zone shuts down) ---------------------------> sees Closing/Closed/Unknown (node gone, domain
//        |                                                 destroyed): unmap, unbind -> Closing -> Closed
//   Closed  <---------------------------------------------- (or the backend closes first: the frontend
//                                                            tears down on seeing Closing/Closed)
//
// Any peer state not drawn above (a frontend Connected while the backend is still in InitWait, a peer that
// goes back to Initialising mid-connection, a value outside 0..6) is kError: tear down, never guess.
[[nodiscard]] Step step(Side side, LinkState self, LinkState peer) noexcept;

// ---- parsing guest-written values --------------------------------------------------------------------

// Strict decimal: digits only (no sign, space, hex or empty), at most 10 digits, no overflow of uint32.
[[nodiscard]] std::optional<uint32_t> parse_u32(std::string_view s) noexcept;
// A XenbusState value 0..6. An absent node is kUnknown (callers pass nullopt).
[[nodiscard]] std::optional<LinkState> parse_state(std::optional<std::string_view> s) noexcept;
// Space-separated decimal grant refs, 1..max of them, single spaces only.
[[nodiscard]] std::optional<std::vector<uint32_t>> parse_ref_list(std::string_view s, uint32_t max) noexcept;

// The raw strings read from the frontend node (nullopt = node absent or unreadable).
struct FrontendValues {
  std::optional<std::string> protocol_version, request_ring_bytes, response_ring_bytes, max_payload, data_pages,
      num_pages, ring_refs, event_channel, alive_ref;
};

// Why a frontend's details were refused (one log line each; also written to the backend's `error` node).
enum class Reject : uint8_t {
  kOk = 0,
  kMissingField,
  kBadNumber,
  kBadProtocolVersion,
  kBadGeometry,
  kPageCountMismatch,  // num-pages != geometry.total_pages()
  kTooManyPages,
  kBadRefList,         // unparsable, or directory page count != ceil(num-pages / 1024)
  kBadEventChannel,
  kDuplicateRef,       // the same grant listed twice (would alias two parts of the channel)
  kBadAliveRef,
};
[[nodiscard]] const char* reject_name(Reject r) noexcept;

// The validated handshake. Every number here has been bounds-checked.
struct FrontendInfo {
  ChannelGeometry geometry;
  uint32_t num_pages = 0;
  std::vector<uint32_t> dir_refs;  // 1..kMaxDirPages
  uint32_t event_channel = 0;
  uint32_t alive_ref = 0;
};

struct ParsedFrontend {
  Reject reject = Reject::kOk;
  FrontendInfo info;
};
// Validates the strings a frontend wrote. `max_pages` is the backend's own limit (<= kMaxPages).
[[nodiscard]] ParsedFrontend parse_frontend(const FrontendValues& v, uint32_t max_pages = kMaxPages) noexcept;

// Number of directory pages for a channel of `num_pages` pages.
[[nodiscard]] constexpr uint32_t dir_pages_for(uint32_t num_pages) noexcept { return lend_dir_pages(num_pages); }

// Checks the grant refs copied (once) out of the directory pages: none may repeat (two channel pages backed
// by one guest page would alias, e.g. a ring's control block with its data). kOk or kDuplicateRef.
[[nodiscard]] Reject check_channel_refs(std::span<const uint32_t> refs) noexcept;

// The values a well-behaved frontend writes (the frontend uses this; tests compare against it).
[[nodiscard]] FrontendValues make_frontend_values(const ChannelGeometry& g, std::span<const uint32_t> dir_refs,
                                                  uint32_t event_channel, uint32_t alive_ref);

// Device claims (device_claim.h): may a guest's program take the device whose frontend directory holds these
// values? Yes if the backend created it (frontend state "1", Initialising; a numeric backend-id) and no program
// claimed it, or the claim (seconds since the epoch) is older than kStaleClaim or not a number.
inline constexpr std::chrono::seconds kStaleClaim{30};
[[nodiscard]] bool device_claimable(std::optional<std::string_view> state, std::optional<std::string_view> backend_id,
                                    std::optional<std::string_view> claim, int64_t now_s) noexcept;

}  // namespace xg::idm::xen
