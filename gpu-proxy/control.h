// Daemon <-> worker: the control page (a memfd both map) and a SOCK_SEQPACKET socketpair for the rare events.
// The daemon writes policy (quota, weight, zone id, decisions); the worker writes what it observed (the zone's
// name and request from Hello, usage and counters). The daemon never maps zone-written memory: a compromised
// worker can lie about its own counters, nothing more, and the daemon re-validates the name it reads here.
//
// Start-up handshake (shm zones; a Xen zone's page is filled by the daemon before the worker starts):
//   worker: reads Hello from the zone socket, fills name/pid/requested_quota, sends Registered
//   daemon: reads the registration back (read_registration), looks the name up in its policy, fills
//           zone_id/quota/weight, sends Accept or Refuse
//   worker: answers the zone (Welcome + channel memfd, or closes), sets state, serves
//
// Everything the daemon reads from a worker (a control-socket packet, the worker-written fields of the page) goes
// through the decoders below, defined once with the table, and is fuzzed (control_fuzz.cc): a worker has parsed
// a zone's bytes, so it is less trusted than the daemon.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gpu-proxy/object_limits.h"

namespace xg::proxy {

inline constexpr uint32_t kControlMagic = 0x50434758;  // "XGCP"
inline constexpr size_t kControlPageBytes = 16384;

// Per-opcode profile of one worker: calls, time in the handler (after the time slicer's grant; the driver call
// and our checks) and a histogram of it. Bucket b counts handler times below 2^(b+9) ns (b = 0: < 0.5 us; the
// last bucket: everything from 8.4 ms up). Written by the worker alone (relaxed), read by the daemon.
inline constexpr size_t kProfileOps = 80;  // >= the number of opcodes (static_assert in op_profile.cc)
inline constexpr size_t kProfileBuckets = 16;
struct OpProfile {
  std::atomic<uint64_t> calls;
  std::atomic<uint64_t> total_ns;
  std::atomic<uint64_t> buckets[kProfileBuckets];
};

enum class WorkerState : uint32_t { kStarting = 0, kRegistered, kServing, kEnded };

// The control socket's messages (SOCK_SEQPACKET, one packet each), one row per message: name, the byte that is the
// whole packet, who sends it.
//   Registered: the zone's Hello is in the page (name, pid, requested quota); decide.
//   Accept:     the zone may be served; the packet carries the zone page (zone_page.h: quota, weight, ledger,
//               grant) as SCM_RIGHTS, and the control page holds the program's slot in it and the object limits.
//   Refuse:     no policy for that name, an invalid name or one in use; the worker drops the zone.
#define XG_CONTROL_MESSAGES(X)      \
  X(Registered, 'R', Sender::kWorker) \
  X(Accept, 'A', Sender::kDaemon)     \
  X(Refuse, 'X', Sender::kDaemon)

enum class Sender : uint8_t { kWorker, kDaemon };
#define XG_CONTROL_ENUM(name, byte, from) k##name = byte,
enum class ControlMessage : char { XG_CONTROL_MESSAGES(XG_CONTROL_ENUM) };
#undef XG_CONTROL_ENUM
inline constexpr size_t kControlPacketBytes = 1;

// The packet for `m`.
[[nodiscard]] std::array<std::byte, kControlPacketBytes> encode_control(ControlMessage m) noexcept;
// A received packet, if it is exactly one message that `from` sends (a worker cannot send Accept).
[[nodiscard]] std::optional<ControlMessage> decode_control(std::span<const std::byte> packet, Sender from) noexcept;

// Results other than CUDA_SUCCESS a worker has answered, by code (first seen, first slot); the rest are counted
// in the last slot with code -1.
inline constexpr size_t kResultSlots = 32;
struct ResultCount {
  std::atomic<int32_t> code;  // 0: slot unused
  std::atomic<uint32_t> reserved;
  std::atomic<uint64_t> calls;
};

// One per worker (one per program). The zone's shared state (quota, weight, grant, the memory ledger) is in its
// zone page (zone_page.h), which the worker receives with Accept.
struct ControlPage {
  uint32_t magic;
  uint32_t version;
  // --- written by the daemon
  std::atomic<uint32_t> object_limits[kLimitCount];  // ObjectLimits, in XG_OBJECT_LIMITS order
  std::atomic<int32_t> zone_slot;                    // this program's slot in the zone page
  // --- written by the worker
  std::atomic<uint32_t> state;  // WorkerState
  std::atomic<uint32_t> zone_pid;
  std::atomic<uint64_t> requested_quota;
  char name[64];  // NUL-terminated, [A-Za-z0-9._-]
  std::atomic<uint64_t> used_bytes;
  std::atomic<uint64_t> peak_bytes;
  std::atomic<uint64_t> calls;
  std::atomic<uint64_t> posts;
  std::atomic<uint64_t> rejected;      // requests refused by validation
  std::atomic<uint64_t> oom_refusals;  // allocations refused by the quota
  std::atomic<uint64_t> handles;
  std::atomic<uint64_t> busy_ns;       // time spent executing this zone's requests
  ResultCount results[kResultSlots];
  // --- written by the worker: indexed like idm::all_ops()
  OpProfile profile[kProfileOps];
};
static_assert(sizeof(ControlPage) <= kControlPageBytes);

// The object limits the daemon grants a zone, through the page (the worker reads them once it is accepted).
void store_limits(ControlPage& page, const ObjectLimits& limits) noexcept;
[[nodiscard]] ObjectLimits load_limits(const ControlPage& page) noexcept;

// True if `name` is a valid zone name (what HelloReq::valid accepts), for the daemon's re-check.
[[nodiscard]] bool valid_zone_name(std::string_view name) noexcept;

// What the daemon reads back from a worker that sent Registered: each field copied out of the page once, the name
// up to its NUL (or the field's end) and re-validated. nullopt: not a valid zone name.
struct WorkerRegistration {
  std::string name;
  uint32_t pid = 0;
  uint64_t requested_quota = 0;
};
[[nodiscard]] std::optional<WorkerRegistration> read_registration(const ControlPage& page);

// The worker's count of calls answered `code`, in its page (worker side; single writer).
void count_result(ControlPage& page, int32_t code) noexcept;
// The counts a worker published, by code, as the daemon reads them: codes outside the driver's range dropped.
[[nodiscard]] std::vector<std::pair<int32_t, uint64_t>> read_results(const ControlPage& page);

// The worker-written state, for tables; "?" for a value the enum does not have.
[[nodiscard]] const char* worker_state_name(uint32_t state) noexcept;

}  // namespace xg::proxy
