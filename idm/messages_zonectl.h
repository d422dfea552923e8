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
#include <iterator>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace xg::idm {

inline constexpr const char* kCtlDeviceType = "xen-gpu-ctl";
// 2: CtlStart carries a container's cgroup limits and the process's rlimits, capabilities, no_new_privs and
// additional gids; CtlStats.
// 3: CtlStart carries a container's mounts (the OCI spec's bind mounts, copied into an image of their own, its
// emptyDir-style volumes and tmpfs mounts); a Poll may be held up to 1 s (was 200 ms), and a Nop post from the
// shim ends a held Poll early.
// 4: CtlStart carries a container's seccomp filter (a BPF program; its execs get the same); the tail bound is
// 60 KiB (was 48).
// 5: a process may run on a terminal (kCtlStartTerminal), resized with CtlResize.
// 6: CtlUpdate changes a running container's cgroup limits.
// 7: CtlFreeze freezes and thaws a container (containerd's Pause and Resume).
inline constexpr uint32_t kCtlProtocolVersion = 7;

// Bounds (also what the zone init promises in CtlHelloRsp).
inline constexpr uint32_t kMaxCtlStartTail = 60 * 1024;  // gids ... filter, then the NUL-terminated strings
inline constexpr uint32_t kMaxCtlStrings = 1024;         // argc + envc
inline constexpr uint32_t kMaxCtlId = 64;                // a container id: [A-Za-z0-9._-]{1,64}
inline constexpr uint32_t kMaxCtlChunk = 16 * 1024;      // one stdin write
inline constexpr uint32_t kMaxCtlPollTail = 60 * 1024;   // events + output bytes of one Poll
inline constexpr uint32_t kMaxCtlPollWaitMs = 1000;
inline constexpr uint32_t kMaxCtlPids = 1024;
inline constexpr uint32_t kMaxCtlDisks = 26;  // rootfs images are the PV disks xvda..xvdz
inline constexpr uint32_t kMaxCtlGroups = 64;   // additional gids of one process
inline constexpr uint32_t kMaxCtlRlimits = 16;  // one per resource: RLIMIT_CPU (0) .. RLIMIT_RTTIME (15)
inline constexpr uint32_t kMaxCtlMounts = 64;      // mounts of one container
inline constexpr uint32_t kMaxCtlMountPath = 1024;  // a mount's source or destination, bytes
inline constexpr uint32_t kMaxCtlFilterInsns = 4096;  // a seccomp program: the kernel's BPF_MAXINSNS
// Capabilities 0 (CAP_CHOWN) .. 40 (CAP_CHECKPOINT_RESTORE), the ones Linux 6.x knows. A zone kernel that knows
// fewer ignores the rest (as runc ignores capabilities its kernel lacks).
inline constexpr uint32_t kCtlCapCount = 41;
inline constexpr uint64_t kCtlCapsKnown = (uint64_t{1} << kCtlCapCount) - 1;
inline constexpr uint64_t kCtlUnlimited = ~uint64_t{0};  // a limit of "max" (how containerd represents it too)

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

// Starts a process. container_proc == 0: a container's first process, in new mount, PID and UTS namespaces and a
// cgroup of its own (limits from `resources`), its root an overlay of the read-only image on disk `rootfs_disk`
// (xvda + n) and a writable tmpfs. Otherwise an exec: the process joins the namespaces and the cgroup of the
// running container `container_proc`.
enum CtlStartFlags : uint32_t {
  kCtlStartStdin = 1u << 0,        // keep a stdin pipe open (fed by CtlStdin); otherwise stdin is /dev/null
  kCtlStartCaps = 1u << 1,         // set the capability sets in `caps`; otherwise the process keeps the zone init's
  kCtlStartNoNewPrivs = 1u << 2,   // PR_SET_NO_NEW_PRIVS before exec
  kCtlStartOomScoreAdj = 1u << 3,  // write `oom_score_adj`
  // A terminal: the process's stdin, stdout and stderr are the slave of a pseudo-terminal the zone init makes, the
  // process its session leader with it as the controlling terminal; what it writes comes as stream 1 (a terminal
  // has no stderr), CtlStdin writes to the terminal (with kCtlStartStdin), CtlResize sets its size.
  kCtlStartTerminal = 1u << 4,
  kCtlStartFlagsKnown =
      kCtlStartStdin | kCtlStartCaps | kCtlStartNoNewPrivs | kCtlStartOomScoreAdj | kCtlStartTerminal,
};
// An OCI process's capability sets, bit n = capability n. Valid: only known bits, effective within permitted,
// ambient within permitted and inheritable (the kernel raises no other ambient capability).
struct CtlCaps {
  uint64_t bounding, effective, permitted, inheritable, ambient;
};
// A container's cgroup limits (cgroup v2 files); 0 in a field means "not limited" (the kernel's default).
struct CtlResources {
  uint64_t memory_max;     // memory.max, bytes
  uint64_t cpu_quota_us;   // cpu.max's quota (>= 1000)
  uint64_t cpu_period_us;  // cpu.max's period (1000..1000000); 0 with a quota: 100000
  uint64_t pids_max;       // pids.max
  uint32_t cpu_weight;     // cpu.weight, 1..10000
  uint32_t reserved;
};
// setrlimit(resource, {soft, hard}); soft <= hard; kCtlUnlimited is RLIM_INFINITY.
struct CtlRlimit {
  uint32_t resource;  // < kMaxCtlRlimits (24 bytes a record)
  uint32_t reserved;
  uint64_t soft, hard;
};
// One of a container's mounts (the OCI spec's "mounts", as the shim made them), mounted by the zone init inside
// the container's root before it pivots. Its two strings (CtlStartReq's tail) are `source` and `destination`:
//   kImage: source is a relative path inside the container's mount image (the PV disk `mounts_disk`, mounted
//     read-only once), e.g. "3" for the shim's copy of the spec's 4th bind source; without kCtlMountRo the
//     container gets a writable view of that copy (an overlay for a directory, a copy for a file) whose writes
//     stay in the zone;
//   kVolume: source names a per-pod directory in the zone ([A-Za-z0-9._-]{1,64}), created empty on first use and
//     shared by every container of the pod that names it (an emptyDir-style volume); always a directory;
//   kTmpfs: source is empty; a fresh tmpfs of `size` bytes (0: the kernel's default) and `mode` (0: 01777);
//     always a directory.
// destination: absolute, no "." or ".." component, not "/", resolved inside the container's root (a symlink on
// the way cannot lead out of it); what is missing is created on the writable layer (a file or a directory as
// kCtlMountDir says).
enum class CtlMountKind : uint32_t { kImage = 1, kVolume = 2, kTmpfs = 3 };
enum CtlMountFlags : uint32_t {
  kCtlMountRo = 1u << 0,   // read-only (kImage, kVolume, kTmpfs alike)
  kCtlMountDir = 1u << 1,  // the source is a directory (always with kVolume and kTmpfs); else a regular file
  kCtlMountFlagsKnown = kCtlMountRo | kCtlMountDir,
};
struct CtlMount {
  uint32_t kind;   // CtlMountKind
  uint32_t flags;  // CtlMountFlags
  uint64_t size;   // kTmpfs: bytes, <= 2^40; else 0
  uint32_t mode;   // kTmpfs: <= 07777; else 0
  uint32_t reserved;
};
// A container's seccomp filter: a classic BPF program, instruction by instruction in struct sock_filter's layout,
// compiled by the shim from the spec's linux.seccomp (cri-shim/oci_seccomp.h). The zone init installs it on the
// container's first process and on every exec into the container, as runc does; the zone's kernel checks the
// program (a bad one fails the start with its errno). Flags: SECCOMP_FILTER_FLAG_LOG and _SPEC_ALLOW's values.
struct CtlFilterInsn {
  uint16_t code;
  uint8_t jt, jf;
  uint32_t k;
};
enum CtlFilterFlags : uint32_t {
  kCtlFilterLog = 1u << 1,
  kCtlFilterSpecAllow = 1u << 2,
  kCtlFilterFlagsKnown = kCtlFilterLog | kCtlFilterSpecAllow,
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
  uint32_t ngroups;        // <= kMaxCtlGroups
  uint32_t nrlimits;       // <= kMaxCtlRlimits, each resource at most once
  int32_t oom_score_adj;   // -1000..1000 with kCtlStartOomScoreAdj, else 0
  uint32_t reserved;
  uint32_t nmounts;      // <= kMaxCtlMounts; an exec: 0 (it sees its container's)
  uint32_t mounts_disk;  // with a kImage mount: the mount image's disk (< kMaxCtlDisks, not rootfs_disk); else 0
  uint32_t nfilter;       // a container's seccomp program, <= kMaxCtlFilterInsns; 0: none; an exec: 0 (its container's)
  uint32_t filter_flags;  // CtlFilterFlags; 0 without a program
  CtlCaps caps;            // all 0 without kCtlStartCaps
  CtlResources resources;  // an exec: all 0 (it joins its container's cgroup)
  // Tail: ngroups uint32 gids, nrlimits CtlRlimit records, nmounts CtlMount records, nfilter CtlFilterInsn
  // records, then the strings: id, cwd
  // (absolute), hostname (may be empty), argv[argc], env[envc], then each mount's source and destination; each
  // NUL-terminated, nothing after.
  [[nodiscard]] bool valid(std::span<const std::byte> tail) const noexcept;
};
struct CtlStartRsp {
  uint32_t pid;  // in the zone init's PID namespace
  uint32_t reserved;
};

// A CtlStart's tail, decoded: the strings as views into the caller's private copy of the tail, the gids and
// rlimits copied out.
struct CtlMountEntry {
  CtlMount m;
  std::string_view source, destination;
};
struct CtlStartStrings {
  std::string_view id, cwd, hostname;
  std::vector<std::string_view> argv, env;
  std::vector<uint32_t> groups;
  std::vector<CtlRlimit> rlimits;
  std::vector<CtlMountEntry> mounts;
  std::vector<CtlFilterInsn> filter;  // the seccomp program (nfilter instructions), copied out
};
// nullopt unless the tail is exactly what `req` announces (counts, terminators, bounds, an id of the allowed
// characters, an absolute cwd without "..", a non-empty argv[0], rlimits in range and each resource once, each
// mount valid_ctl_mount, no destination twice).
[[nodiscard]] std::optional<CtlStartStrings> parse_ctl_start(const CtlStartReq& req, std::span<const std::byte> tail);
// The tail for `s` (the shim's side); empty when it would not fit kMaxCtlStartTail or exceeds a count's bound.
[[nodiscard]] std::vector<std::byte> encode_ctl_start(const CtlStartStrings& s);
// The fixed fields' own rules (flags, caps, resources), apart from the tail; CtlStartReq::valid applies both.
[[nodiscard]] bool valid_ctl_caps(const CtlCaps& c) noexcept;
[[nodiscard]] bool valid_ctl_resources(const CtlResources& r) noexcept;
// One mount's own rules (CtlMount's comment): kind, flags, size/mode only for tmpfs, the source's form for its
// kind, a destination absolute, normal ("/a/b": no empty, "." or ".." component, no trailing '/') and not "/".
[[nodiscard]] bool valid_ctl_mount(const CtlMountEntry& e) noexcept;
// A destination or an image source in that normal form (absolute or relative as `absolute` says).
[[nodiscard]] bool valid_ctl_mount_path(std::string_view p, bool absolute) noexcept;

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

// A terminal's window size (TIOCSWINSZ; the foreground process group gets SIGWINCH). ENOTTY for a process
// without a terminal.
struct CtlResizeReq {
  uint32_t proc_id;
  uint32_t cols;  // <= 65535
  uint32_t rows;  // <= 65535
  uint32_t reserved;
  [[nodiscard]] bool valid(std::span<const std::byte>) const noexcept {
    return proc_id != 0 && cols <= 0xffff && rows <= 0xffff && reserved == 0;
  }
};

// Changes a container's cgroup limits (containerd's Update: kubelet's in-place resize). Each non-zero field of
// `resources` is written as CtlStart writes it; a bit of `unlimit` writes "max" instead (memory.max, cpu.max's
// quota, pids.max); everything else is left as it is. `proc_id` names the container (its first process).
enum CtlUnlimit : uint32_t {
  kCtlUnlimitMemory = 1u << 0,
  kCtlUnlimitCpu = 1u << 1,
  kCtlUnlimitPids = 1u << 2,
  kCtlUnlimitKnown = kCtlUnlimitMemory | kCtlUnlimitCpu | kCtlUnlimitPids,
};
struct CtlUpdateReq {
  uint32_t proc_id;
  uint32_t unlimit;  // CtlUnlimit
  CtlResources resources;
  // Valid: a process, known bits, resources as CtlStart's, and no field both set and lifted.
  [[nodiscard]] bool valid(std::span<const std::byte>) const noexcept;
};

// Freezes (1) or thaws (0) every process of a container through its cgroup (cgroup v2's cgroup.freeze), and
// answers once the kernel says the cgroup is frozen or thawed (bounded: ETIMEDOUT). ENOENT: it has no cgroup.
struct CtlFreezeReq {
  uint32_t proc_id;  // the container (its first process)
  uint32_t freeze;   // 1: freeze, 0: thaw
  [[nodiscard]] bool valid(std::span<const std::byte>) const noexcept { return proc_id != 0 && freeze <= 1; }
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

// A container's cgroup figures (CtlStats on a container's or an exec's proc_id; the container's cgroup either
// way). Groups whose controller the zone's kernel lacks are absent: their bit clear in `present`, fields 0.
enum CtlStatsPresent : uint32_t {
  kCtlStatsCpu = 1u << 0,          // cpu.stat's usage (always there in cgroup v2)
  kCtlStatsCpuThrottle = 1u << 1,  // cpu.stat's nr_periods, nr_throttled, throttled_usec (the cpu controller)
  kCtlStatsMemory = 1u << 2,       // memory.current, memory.max, memory.stat, memory.events
  kCtlStatsPids = 1u << 3,
  kCtlStatsIo = 1u << 4,
  kCtlStatsKnown = kCtlStatsCpu | kCtlStatsCpuThrottle | kCtlStatsMemory | kCtlStatsPids | kCtlStatsIo,
};
// memory.stat's keys the zone reports, in CtlStatsRsp::memory_stat's order (containerd's v2 MemoryStat has
// fields of these names).
inline constexpr const char* kCtlMemoryStatKeys[] = {
    "anon",       "file",       "kernel_stack",  "slab",          "sock",          "shmem",
    "file_mapped", "file_dirty", "file_writeback", "pgfault",      "pgmajfault",    "inactive_anon",
    "active_anon", "inactive_file", "active_file", "unevictable"};
inline constexpr uint32_t kCtlMemoryStatCount = 16;
static_assert(std::size(kCtlMemoryStatKeys) == kCtlMemoryStatCount);
// memory.events' keys, in CtlStatsRsp::memory_events' order.
inline constexpr const char* kCtlMemoryEventKeys[] = {"low", "high", "max", "oom", "oom_kill"};
inline constexpr uint32_t kCtlMemoryEventCount = 5;
static_assert(std::size(kCtlMemoryEventKeys) == kCtlMemoryEventCount);
struct CtlStatsRsp {
  uint32_t present;  // CtlStatsPresent
  uint32_t reserved;
  uint64_t cpu_usage_usec, cpu_user_usec, cpu_system_usec;
  uint64_t cpu_nr_periods, cpu_nr_throttled, cpu_throttled_usec;
  uint64_t memory_current;
  uint64_t memory_max;  // kCtlUnlimited for "max"
  uint64_t memory_stat[kCtlMemoryStatCount];
  uint64_t memory_events[kCtlMemoryEventCount];
  uint64_t pids_current;
  uint64_t pids_max;  // kCtlUnlimited for "max"
  uint64_t io_rbytes, io_wbytes, io_rios, io_wios;  // io.stat summed over devices
};
// The shim's check of a zone's answer, beyond its size: only known `present` bits, reserved 0, absent groups all
// zero, and every figure within what a zone can have (bytes and counts far below 2^63, pids below the kernel's
// PID_MAX_LIMIT, no more throttled periods than periods). False with `why` set when the zone lied.
[[nodiscard]] bool check_ctl_stats(const CtlStatsRsp& s, std::string& why);

}  // namespace xg::idm
