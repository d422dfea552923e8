// Helpers for the demo workloads: ordinary CUDA driver-API programs (cuda/cuda_abi.h stands in for cuda.h).
#pragma once

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "tests/cuda-programs/common.h"  // CK(), REQUIRE_TRUE(), setup_primary_context()

namespace demo {

// Usage: PROG [SECONDS]; kernels from $XG_KERNELS.
inline double seconds_arg(int argc, char** argv, double fallback) {
  return argc > 1 ? std::atof(argv[1]) : fallback;
}

inline const char* kernels() {
  const char* path = std::getenv("XG_KERNELS");
  if (path == nullptr) {
    std::fprintf(stderr, "set XG_KERNELS to the kernel module (demo_kernels.so)\n");
    std::exit(2);
  }
  return path;
}

struct Clock {
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
};

}  // namespace demo
