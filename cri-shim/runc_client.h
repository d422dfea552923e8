// runc, driven as containerd's own runc shim drives it: create (detached, the container's stdio handed over,
// init's pid in a file), start, kill, delete, exec (detached, a process.json), state, ps, pause, resume, update.
// All state lives in runc's root directory (per containerd namespace), so a fresh shim or `delete` after a crash
// finds every container again.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "cri-shim/spawn.h"

namespace xg::shim {

struct RuncResult {
  bool ok = false;
  std::string error;  // runc's own message when !ok
};

class Runc {
 public:
  Runc(std::string binary, std::string root) : binary_(std::move(binary)), root_(std::move(root)) {}

  // `runc create --bundle B --pid-file P ID` with `io` as the container's stdio; returns once init waits for start.
  // `console_socket`: for a process on a terminal, where runc sends the pty's master (else empty).
  [[nodiscard]] RuncResult create(const std::string& id, const std::string& bundle, const std::string& pid_file,
                                  SpawnIo io, const std::string& console_socket = "");
  [[nodiscard]] RuncResult start(const std::string& id);
  [[nodiscard]] RuncResult kill(const std::string& id, int signal, bool all);
  [[nodiscard]] RuncResult remove(const std::string& id, bool force);
  [[nodiscard]] RuncResult exec(const std::string& id, const std::string& process_json, const std::string& pid_file,
                                SpawnIo io, const std::string& console_socket = "");
  [[nodiscard]] RuncResult pause(const std::string& id);
  [[nodiscard]] RuncResult resume(const std::string& id);
  [[nodiscard]] RuncResult update(const std::string& id, const std::string& resources_json);
  // `runc state ID` (JSON), nullopt if runc does not know the container.
  [[nodiscard]] std::optional<std::string> state(const std::string& id);
  // The container's processes (`runc ps --format json`).
  [[nodiscard]] std::optional<std::vector<pid_t>> pids(const std::string& id);

  const std::string& root() const { return root_; }

 private:
  // `io`: the stdio a container process inherits (create, exec; -1 = /dev/null), or nullopt for a command whose
  // output we capture (everything else). Capturing create's output would hand the pipe to the container, and
  // its EOF would wait for the container's end.
  [[nodiscard]] RuncResult run(std::vector<std::string> args, std::optional<SpawnIo> io, const std::string& log);
  std::string binary_, root_;
};

// Reads a pid file runc wrote; 0 if absent or malformed.
[[nodiscard]] pid_t read_pid_file(const std::string& path);

}  // namespace xg::shim
