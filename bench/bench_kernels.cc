// Kernels for bench/zone_bench and bench/gpu_bench_probe, as a CPU module for the simulated driver (their CUDA
// twins are in tests/gpu/kernels.cu).
#include "gpu-proxy/sim/sim_kernel.h"

// Does nothing: launched with one thread so that a launch-rate figure measures issuing, not the kernel.
XG_SIM_KERNEL(empty, ()) {}

// c = a + b, one thread per element (the CUDA twin is tests/gpu/kernels.cu's vecadd).
XG_SIM_KERNEL(vecadd, (const float* a, const float* b, float* c, int n)) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) c[i] = a[i] + b[i];
}
