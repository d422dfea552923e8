// What the daemon learns about the GPU before it serves anyone, from a short-lived child process (the daemon
// itself never loads the driver): the device's memory, and what one context costs in it, measured as the
// driver's free memory before and after a second context is created (the first one is needed to ask). Zones'
// quotas are checked against the first; every context a program creates is charged the second.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace xg::proxy {

struct DriverFacts {
  uint64_t total_mem = 0;
  uint64_t context_overhead = 0;
  int driver_version = 0;  // cuDriverGetVersion
  std::string name;
};

// Runs in the child (gpu-proxy --probe): loads `driver_path`, measures, prints one line for read_probe, exits.
int probe_main(const std::string& driver_path);
// Starts `self_exe --probe --driver driver_path` and reads its line; nullopt (with `error`) if it fails.
[[nodiscard]] std::optional<DriverFacts> probe_driver(const std::string& self_exe, const std::string& driver_path,
                                                      std::string& error);
// The child's line, parsed ("total=N overhead=N version=N name=TEXT"); exposed for tests.
[[nodiscard]] std::optional<DriverFacts> parse_probe_line(const std::string& line);

}  // namespace xg::proxy
