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
  bool make_cwd = false;  // create the cwd if missing (containers, as runc does)
  bool stdin_pipe = false;
  unsigned long clone_flags = 0;  // namespaces of a container's first process
  std::span<const int> join_ns;   // an exec: namespace fds to setns() into, then a second fork (PID ns)
  ChildSetup setup = nullptr;     // after clone/setns, before stdio
  const void* setup_ctx = nullptr;
  int pgrp = -1;  // plain host: setpgid(0, pgrp) (0: a new group)
};

// Builds argv, env and the exec candidates (argv[0] without '/': every PATH entry of `env`, else a default
// PATH, as runc resolves it).
[[nodiscard]] SpawnPlan make_plan(const idm::CtlStartStrings& s);

// Starts the child; 0 or an errno (logged with its stage; `stage`, when given, receives it).
[[nodiscard]] int spawn(const SpawnPlan& plan, Spawned& out, int32_t* stage = nullptr);

// Helpers for setup functions (async-signal-safe).
[[nodiscard]] int mkdir_p(const char* path, unsigned mode) noexcept;  // 0 or errno
void child_report(int fd, int32_t stage, int err) noexcept;

}  // namespace xg::zone
