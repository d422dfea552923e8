// A platform check for the VM job: do a process's vector registers survive the hypervisor switching the one
// hardware thread between domains? Bulk copies (memcpy) keep data in flight in those registers; if a switch
// loses them, copies between domains come out with 16-64-byte holes that no transport can be blamed for.
#pragma once

#include <chrono>
#include <cstdint>

namespace xg::xentest {

struct FpuCheckResult {
  bool ymm = false;  // the rounds alternated between xmm0-15 and ymm0-15 (the CPU and OS have AVX)
  uint64_t rounds = 0;
  uint64_t bad_rounds = 0;     // rounds in which some register came back different
  uint64_t bad_registers = 0;  // registers (of 16 per round) that came back different
};

// Rounds of: fill xmm0-15 (or ymm0-15, every other round where there is AVX) with a fresh pattern, spin `spins`
// pauses, read them back. Runs for `duration`.
[[nodiscard]] FpuCheckResult fpu_check(std::chrono::milliseconds duration, uint32_t seed, long spins);

}  // namespace xg::xentest
