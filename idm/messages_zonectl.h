// Payloads of the zone control channel: the CRI shim in dom0 <-> the zone init (PID 1 of a pod's PV domU).
// Wire rules: see protocol.h; the rows are in the table of messages.h (opcodes 0x02xx).
//
// The channel is an ordinary IDM channel over the Xen transport (xenstore device type "xen-gpu-ctl", device 0),
// with the roles turned round: the shim (the backend, in dom0) makes the calls and the zone init (the frontend,
// in the guest) answers them. Nothing the zone answers is trusted by the shim: every response is decoded by the
// table-driven codec, and the event stream of a Poll (below) is parsed by parse_ctl_events(), which is fuzzed.
//
// Processes are named by a number the shim chooses (`proc_id`, non-zero, unique in the zone for its life): a
// container's first process, or an exec inside a running container (which names the container's proc_id).
// Failures carry an errno value (positive) in the header's `result`; 0 is success.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace xg::idm {

inline constexpr const char* kCtlDeviceType = "xen-gpu-ctl";
inline constexpr uint32_t kCtlProtocolVersion = 1;

// Bounds (also what the zone init promises in CtlHelloRsp).
inline constexpr uint32_t kMaxCtlStartTail = 48 * 1024;  // id, cwd, hostname, argv, env: NUL-terminated strings
inline constexpr uint32_t kMaxCtlStrings = 1024;         // argc + envc
inline constexpr uint32_t kMaxCtlId = 64;                // a container id: [A-Za-z0-9._-]{1,64}
inline constexpr uint32_t kMaxCtlChunk = 16 * 1024;      // one stdin write
inline constexpr uint32_t kMaxCtlPollTail = 60 * 1024;   // events + output bytes of one Poll
inline constexpr uint32_t kMaxCtlPollWaitMs = 200;
inline constexpr uint32_t kMaxCtlPids = 1024;
inline constexpr uint32_t kMaxCtlDisks = 26;  // rootfs images are the PV disks xvda..xvdz

// Shim -> zone, first on a fresh channel: which protocol we speak; the zone answers its own limits.
struct CtlHelloReq {
  uint32_t protocol_version;
  uint32_t reserved;
  [[nodiscard]] bool valid(std::span<const std::byte>) const noexcept { return reserved == 0; }
};
struct CtlHelloRsp {
  uint32_t protocol_version;
  uint32_t init_pid;      // informational
  uint64_t mem_total_kib;  // the zone's memory as its kernel sees it (informational)
};

// Starts a process. container_proc == 0: a container's first process, in new mount, PID and UTS namespaces, its
// root an overlay of the read-only image on disk `rootfs_disk` (xvda + n) and a writable tmpfs. Otherwise an
// exec: the process joins the namespaces of the running container `container_proc`.
enum CtlStartFlags : uint32_t {
  kCtlStartStdin = 1u << 0,  // keep a stdin pipe open (fed by CtlStdin); otherwise stdin is /dev/null
  kCtlStartFlagsKnown = kCtlStartStdin,
};
struct CtlStartReq {
  uint32_t proc_id;
  uint32_t container_proc;
  uint32_t rootfs_disk;  // a container: 0..kMaxCtlDisks-1; an exec: 0
  uint32_t uid;
  uint32_t gid;
  uint32_t flags;  // CtlStartFlags
  uint32_t argc;   // >= 1
  uint32_t envc;
  // Tail: id, cwd (absolute), hostname (may be empty), argv[argc], env[envc]; each NUL-terminated, nothing after.
  [[nodiscard]] bool valid(std::span<const std::byte> tail) const noexcept;
};
struct CtlStartRsp {
  uint32_t pid;  // in the zone init's PID namespace
  uint32_t reserved;
};

// The strings of a CtlStart, as views into the caller's private copy of the tail.
struct CtlStartStrings {
  std::string_view id, cwd, hostname;
  std::vector<std::string_view> argv, env;
};
// nullopt unless the tail is exactly what `req` announces (counts, terminators, bounds, an id of the allowed
// characters, an absolute cwd without "..", a non-empty argv[0]).
[[nodiscard]] std::optional<CtlStartStrings> parse_ctl_start(const CtlStartReq& req, std::span<const std::byte> tail);
// The tail for `s` (the shim's side); empty when it would not fit kMaxCtlStartTail.
[[nodiscard]] std::vector<std::byte> encode_ctl_start(const CtlStartStrings& s);

struct CtlSignalReq {
  uint32_t proc_id;
  uint32_t signal;  // 1..64
  uint32_t all;     // 1: every process of the container (its PID namespace), 0: the one process
  uint32_t reserved;
  [[nodiscard]] bool valid(std::span<const std::byte>) const noexcept {
    return proc_id != 0 && signal >= 1 && signal <= 64 && all <= 1 && reserved == 0;
  }
};

enum CtlStdinFlags : uint32_t { kCtlStdinClose = 1u << 0 };
struct CtlStdinReq {
  uint32_t proc_id;
  uint32_t flags;  // kCtlStdinClose: close the pipe after writing the tail
  [[nodiscard]] bool valid(std::span<const std::byte>) const noexcept {
    return proc_id != 0 && (flags & ~uint32_t{kCtlStdinClose}) == 0;
  }
};

// Collects what happened since the last Poll: output of every process and exits. The zone may hold the answer
// up to wait_ms while nothing has happened.
struct CtlPollReq {
  uint32_t max_bytes;  // <= kMaxCtlPollTail
  uint32_t wait_ms;    // <= kMaxCtlPollWaitMs
  [[nodiscard]] bool valid(std::span<const std::byte>) const noexcept {
    return max_bytes >= 64 && max_bytes <= kMaxCtlPollTail && wait_ms <= kMaxCtlPollWaitMs;
  }
};
struct CtlPollRsp {
  uint32_t events;   // records in the tail
  uint32_t pending;  // 1: more is waiting (poll again at once)
};
// The tail of a CtlPollRsp: `events` records, each a CtlEvent then `length` bytes, then zero padding to 4 bytes.
enum class CtlEventType : uint16_t { kOutput = 1, kExit = 2 };
struct CtlEvent {
  uint32_t proc_id;
  uint16_t type;    // CtlEventType
  uint16_t stream;  // kOutput: 1 stdout, 2 stderr; kExit: 0
  int32_t value;    // kExit: the status as a shell reports it (code, or 128 + signal); kOutput: 0
  uint32_t length;  // kOutput: bytes that follow; kExit: 0
};
// Walks `events` records of `tail`; calls `on` for each with its bytes. False (and stops) at the first record
// that is malformed, overruns the tail, or whose fields are out of range; also false when bytes remain after
// the last record.
[[nodiscard]] bool parse_ctl_events(std::span<const std::byte> tail, uint32_t events,
                                    const std::function<void(const CtlEvent&, std::span<const std::byte>)>& on);
// Appends one record (the zone's side). False when it would pass `limit` bytes in all.
[[nodiscard]] bool append_ctl_event(std::vector<std::byte>& tail, const CtlEvent& ev, std::span<const std::byte> bytes,
                                    size_t limit);

struct CtlProcReq {
  uint32_t proc_id;
  uint32_t reserved;
  [[nodiscard]] bool valid(std::span<const std::byte>) const noexcept { return proc_id != 0 && reserved == 0; }
};
struct CtlPidsRsp {
  uint32_t count;  // uint32 pids in the tail
  uint32_t reserved;
};

struct CtlShutdownReq {
  uint32_t grace_ms;  // SIGTERM to everything, SIGKILL after this (<= 10000), then power off
  uint32_t reserved;
  [[nodiscard]] bool valid(std::span<const std::byte>) const noexcept { return grace_ms <= 10'000 && reserved == 0; }
};

}  // namespace xg::idm
