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

// The same with the 256-bit registers (their upper halves live in XSAVE state component 2, which a platform can
// lose on its own): glibc's memcpy uses them where the CPU has AVX.
__attribute__((target("avx"))) void hold_ymm(const unsigned char* in, unsigned char* out, long spins) {
  asm volatile(
      "vmovdqu 0(%[i]), %%ymm0\n\tvmovdqu 32(%[i]), %%ymm1\n\tvmovdqu 64(%[i]), %%ymm2\n\t"
      "vmovdqu 96(%[i]), %%ymm3\n\tvmovdqu 128(%[i]), %%ymm4\n\tvmovdqu 160(%[i]), %%ymm5\n\t"
      "vmovdqu 192(%[i]), %%ymm6\n\tvmovdqu 224(%[i]), %%ymm7\n\tvmovdqu 256(%[i]), %%ymm8\n\t"
      "vmovdqu 288(%[i]), %%ymm9\n\tvmovdqu 320(%[i]), %%ymm10\n\tvmovdqu 352(%[i]), %%ymm11\n\t"
      "vmovdqu 384(%[i]), %%ymm12\n\tvmovdqu 416(%[i]), %%ymm13\n\tvmovdqu 448(%[i]), %%ymm14\n\t"
      "vmovdqu 480(%[i]), %%ymm15\n\t"
      "1:\n\tpause\n\tdec %[n]\n\tjnz 1b\n\t"
      "vmovdqu %%ymm0, 0(%[o])\n\tvmovdqu %%ymm1, 32(%[o])\n\tvmovdqu %%ymm2, 64(%[o])\n\t"
      "vmovdqu %%ymm3, 96(%[o])\n\tvmovdqu %%ymm4, 128(%[o])\n\tvmovdqu %%ymm5, 160(%[o])\n\t"
      "vmovdqu %%ymm6, 192(%[o])\n\tvmovdqu %%ymm7, 224(%[o])\n\tvmovdqu %%ymm8, 256(%[o])\n\t"
      "vmovdqu %%ymm9, 288(%[o])\n\tvmovdqu %%ymm10, 320(%[o])\n\tvmovdqu %%ymm11, 352(%[o])\n\t"
      "vmovdqu %%ymm12, 384(%[o])\n\tvmovdqu %%ymm13, 416(%[o])\n\tvmovdqu %%ymm14, 448(%[o])\n\t"
      "vmovdqu %%ymm15, 480(%[o])\n\tvzeroupper\n\t"
      : [n] "+r"(spins)
      : [i] "r"(in), [o] "r"(out)
      : "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
        "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}

}  // namespace

FpuCheckResult fpu_check(std::chrono::milliseconds duration, uint32_t seed, long spins) {
  FpuCheckResult r;
  r.ymm = __builtin_cpu_supports("avx");  // CPUID and the OS's XCR0 both say so
  unsigned char in[512], out[512];
  uint64_t x = 0x9E3779B97F4A7C15ull * (seed + 1);
  const auto end = std::chrono::steady_clock::now() + duration;
  while (std::chrono::steady_clock::now() < end) {
    for (unsigned char& b : in) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      b = static_cast<unsigned char>(x);
    }
    std::memset(out, 0, sizeof out);
    // Alternate 128- and 256-bit rounds where the CPU has AVX; 16 registers of `width` bytes each.
    const bool wide = r.ymm && (r.rounds & 1);
    const size_t width = wide ? 32 : 16;
    if (wide) hold_ymm(in, out, spins);
    else hold_xmm(in, out, spins);
    ++r.rounds;
    if (std::memcmp(in, out, 16 * width) != 0) {
      ++r.bad_rounds;
      for (size_t reg = 0; reg < 16; ++reg)
        if (std::memcmp(in + width * reg, out + width * reg, width) != 0) ++r.bad_registers;
    }
    if ((r.rounds & 63) == 0) sched_yield();
  }
  return r;
}

}  // namespace xg::xentest
