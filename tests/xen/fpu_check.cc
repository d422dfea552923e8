#include "tests/xen/fpu_check.h"

#include <sched.h>

#include <chrono>
#include <cstdio>
#include <cstring>

namespace xg::xentest {
namespace {

// Loads `in` into the vector registers, spins (meanwhile the hypervisor may give this CPU to another domain's
// vCPU and back), stores the registers to `out`. Nothing between the loads and the stores touches a vector
// register, so out == in unless the registers were lost across a switch.
void hold_xmm(const unsigned char* in, unsigned char* out, long spins) {
  asm volatile(
      "movdqu 0(%[i]), %%xmm0\n\tmovdqu 16(%[i]), %%xmm1\n\tmovdqu 32(%[i]), %%xmm2\n\tmovdqu 48(%[i]), %%xmm3\n\t"
      "movdqu 64(%[i]), %%xmm4\n\tmovdqu 80(%[i]), %%xmm5\n\tmovdqu 96(%[i]), %%xmm6\n\tmovdqu 112(%[i]), %%xmm7\n\t"
      "movdqu 128(%[i]), %%xmm8\n\tmovdqu 144(%[i]), %%xmm9\n\tmovdqu 160(%[i]), %%xmm10\n\t"
      "movdqu 176(%[i]), %%xmm11\n\tmovdqu 192(%[i]), %%xmm12\n\tmovdqu 208(%[i]), %%xmm13\n\t"
      "movdqu 224(%[i]), %%xmm14\n\tmovdqu 240(%[i]), %%xmm15\n\t"
      "1:\n\tpause\n\tdec %[n]\n\tjnz 1b\n\t"
      "movdqu %%xmm0, 0(%[o])\n\tmovdqu %%xmm1, 16(%[o])\n\tmovdqu %%xmm2, 32(%[o])\n\tmovdqu %%xmm3, 48(%[o])\n\t"
      "movdqu %%xmm4, 64(%[o])\n\tmovdqu %%xmm5, 80(%[o])\n\tmovdqu %%xmm6, 96(%[o])\n\tmovdqu %%xmm7, 112(%[o])\n\t"
      "movdqu %%xmm8, 128(%[o])\n\tmovdqu %%xmm9, 144(%[o])\n\tmovdqu %%xmm10, 160(%[o])\n\t"
      "movdqu %%xmm11, 176(%[o])\n\tmovdqu %%xmm12, 192(%[o])\n\tmovdqu %%xmm13, 208(%[o])\n\t"
      "movdqu %%xmm14, 224(%[o])\n\tmovdqu %%xmm15, 240(%[o])\n\t"
      : [n] "+r"(spins)
      : [i] "r"(in), [o] "r"(out)
      : "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
        "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}

}  // namespace

FpuCheckResult fpu_check(std::chrono::milliseconds duration, uint32_t seed, long spins) {
  FpuCheckResult r;
  unsigned char in[256], out[256];
  uint64_t x = 0x9E3779B97F4A7C15ull * (seed + 1);
  const auto end = std::chrono::steady_clock::now() + duration;
  while (std::chrono::steady_clock::now() < end) {
    for (unsigned char& b : in) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      b = static_cast<unsigned char>(x);
    }
    std::memset(out, 0, sizeof out);
    hold_xmm(in, out, spins);
    ++r.rounds;
    if (std::memcmp(in, out, sizeof in) != 0) {
      ++r.bad_rounds;
      for (int reg = 0; reg < 16; ++reg)
        if (std::memcmp(in + 16 * reg, out + 16 * reg, 16) != 0) ++r.bad_registers;
    }
    if ((r.rounds & 63) == 0) sched_yield();
  }
  return r;
}

}  // namespace xg::xentest
