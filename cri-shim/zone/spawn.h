// Fork and exec for the zone init, shared by both process hosts. The zone init is multithreaded (the I/O thread),
// so the child of a raw clone() must not allocate or take locks: everything it needs is prepared here first
// (SpawnPlan), and it uses system calls only. A failure before exec travels back over a close-on-exec pipe as
// {stage, errno}, so start() reports it instead of the process appearing to exit.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cri-shim/zone/process_host.h"

namespace xg::zone {

// What failed in the child, for the log line.
enum class SpawnStage : int32_t {
  kJoin = 1,  // setns into an exec's container
  kStdio,
  kSignals,
  kGroup,
  kCwd,
  kIds,
  kExec,
  kCgroup,       // joining the container's cgroup
  kRlimits,
  kOomScoreAdj,
  kNoNewPrivs,
  kCapabilities,  // bounding set, keep-caps, capset, ambient
  kSeccomp,
  kTerminal,  // setsid and the controlling terminal
  kSetup = 100,  // the host's own steps (mounts, namespaces): kSetup + the host's step number
};
[[nodiscard]] const char* stage_name(int32_t stage) noexcept;

// Runs in the child before the common steps (async-signal-safe code only). Returns 0 or an errno, with *step
// set to the host's own number for what failed (reported as stage kSetup + step).
using ChildSetup = int (*)(const void* ctx, int32_t* step);

struct SpawnPlan {
  std::vector<std::string> argv, env;
  std::vector<std::string> candidates;  // paths to try for argv[0] (PATH lookup done here, before the fork)
  std::string cwd;
  uint32_t uid = 0, gid = 0;
  bool set_ids = true;    // setgroups/setresgid/setresuid (skipped by the plain host when they are ours)
  std::vector<gid_t> groups;  // setgroups' list (additional gids), with set_ids
  std::vector<idm::CtlRlimit> rlimits;
  bool no_new_privs = false;
  bool set_oom_score_adj = false;
  std::string oom_score_adj;  // its text, made before the fork
  // Capabilities, applied as runc applies them: the bounding set dropped, keep-caps across the uid switch, then
  // capset(effective, permitted, inheritable) and the ambient set. Bits past the kernel's cap_last_cap ignored.
  bool set_caps = false;
  idm::CtlCaps caps{};
  int cap_last = 40;
  // A seccomp program, installed as runc does: with no_new_privs just before exec (fewer calls it must allow),
  // else before the ids and capabilities change (installing one without no_new_privs needs CAP_SYS_ADMIN).
  std::span<const idm::CtlFilterInsn> filter;
  uint32_t filter_flags = 0;
  int cgroup_procs = -1;  // the container cgroup's cgroup.procs: the child writes "0" (itself) first
  bool make_cwd = false;  // create the cwd if missing (containers, as runc does)
  bool stdin_pipe = false;
  // stdio on a new pseudo-terminal, made by the child in its own mount namespace (the container's devpts) and
  // its master passed back: the child leads a session of its own with it as the controlling terminal (so with a
  // terminal, `pgrp` is not used: the session is the process's group).
  bool terminal = false;
  unsigned long clone_flags = 0;  // namespaces of a container's first process
  std::span<const int> join_ns;   // an exec: namespace fds to setns() into, then a second fork (PID ns)
  ChildSetup setup = nullptr;     // after clone/setns, before stdio
  const void* setup_ctx = nullptr;
  int pgrp = -1;  // plain host: setpgid(0, pgrp) (0: a new group)
};

// Builds argv, env and the exec candidates (argv[0] without '/': every PATH entry of `env`, else a default
// PATH, as runc resolves it), and the process settings of `req` (ids, gids, rlimits, capabilities,
// no_new_privs, oom_score_adj, stdin).
[[nodiscard]] SpawnPlan make_plan(const StartRequest& req);
// The kernel's highest capability number (/proc/sys/kernel/cap_last_cap; 40 if unreadable).
[[nodiscard]] int cap_last_cap();

// Starts the child; 0 or an errno (logged with its stage; `stage`, when given, receives it).
[[nodiscard]] int spawn(const SpawnPlan& plan, Spawned& out, int32_t* stage = nullptr);

// Helpers for setup functions (async-signal-safe).
[[nodiscard]] int mkdir_p(const char* path, unsigned mode) noexcept;  // 0 or errno
void child_report(int fd, int32_t stage, int err) noexcept;

}  // namespace xg::zone
