// Shared by the ladder's CUDA-runtime programs (rung b of tests/gpu/ladder): ordinary CUDA-samples-style programs,
// built by nvcc with its default static cudart, run unchanged natively and in a zone. Each checks its own result
// and ends with one line, "PASS <name>" (exit 0) or "FAIL <name>: why" (exit 1).
#pragma once
#include <cstdio>
#include <cstdlib>

#include <cuda_runtime.h>

#define CK(call)                                                                                             \
  do {                                                                                                       \
    cudaError_t e_ = (call);                                                                                 \
    if (e_ != cudaSuccess) {                                                                                 \
      std::printf("FAIL %s: %s = %d %s (%s) at %s:%d\n", kName, #call, int(e_), cudaGetErrorName(e_),       \
                  cudaGetErrorString(e_), __FILE__, __LINE__);                                               \
      std::exit(1);                                                                                          \
    }                                                                                                        \
  } while (0)

// The last launch's error, then its completion.
#define CK_LAUNCH()                  \
  do {                               \
    CK(cudaGetLastError());          \
    CK(cudaDeviceSynchronize());     \
  } while (0)

inline void print_device(const char* name) {
  int runtime = 0, driver = 0, dev = 0;
  cudaRuntimeGetVersion(&runtime);
  cudaDriverGetVersion(&driver);
  cudaDeviceProp p{};
  cudaError_t e = cudaGetDevice(&dev);
  if (e == cudaSuccess) e = cudaGetDeviceProperties(&p, dev);
  std::printf("%s: runtime %d, driver %d, device %d %s (sm_%d%d, %d SMs, %zu MiB): %s\n", name, runtime, driver,
              dev, e == cudaSuccess ? p.name : "?", p.major, p.minor, p.multiProcessorCount, p.totalGlobalMem >> 20,
              cudaGetErrorName(e));
}
