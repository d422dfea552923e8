// Starting helper programs (runc, containerd's publish command) from a threaded process: posix_spawn with the
// signal mask reset and every descriptor above stderr closed, so no thread's descriptors leak into containers.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace xg::shim {

struct SpawnIo {
  int in = -1, out = -1, err = -1;  // -1: /dev/null
};

[[nodiscard]] std::optional<pid_t> spawn(const std::vector<std::string>& argv, SpawnIo io, std::string& error);

struct RunResult {
  int status = -1;     // wait status; -1 when it could not start
  std::string output;  // stdout and stderr together, at most 64 KiB
};
// Runs argv to completion with `input` on its stdin (through the reaper: the shim's reaping thread must run).
[[nodiscard]] RunResult run_captured(const std::vector<std::string>& argv, std::string_view input = {});

}  // namespace xg::shim
