// Demo and test kernels for the simulated CUDA driver, built as a CPU shared object (demo_kernels.so).
// Each one is the CPU twin of a CUDA kernel with the same name and parameters.
#include <chrono>

#include "gpu-proxy/sim/sim_kernel.h"

XG_SIM_KERNEL(saxpy, (float a, const float* x, float* y, int n)) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = a * x[i] + y[i];
}

// Sum of n ints into *out (atomicAdd per element, as a naive GPU reduction would do).
XG_SIM_KERNEL(reduce_sum, (const int* x, long long* out, int n)) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) xg_atomic_add(out, static_cast<long long>(x[i]));
}

// C[M x N] = A[M x K] * B[K x N], row-major; one thread per output element (x = column, y = row).
XG_SIM_KERNEL(matmul, (const float* A, const float* B, float* C, int M, int N, int K)) {
  int row = blockIdx.y * blockDim.y + threadIdx.y;
  int col = blockIdx.x * blockDim.x + threadIdx.x;
  if (row >= M || col >= N) return;
  float acc = 0.0f;
  for (int k = 0; k < K; ++k) acc += A[row * K + k] * B[k * N + col];
  C[row * N + col] = acc;
}

XG_SIM_KERNEL(fill_u32, (unsigned* p, unsigned value, size_t n)) {
  size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) p[i] = value;
}

XG_SIM_KERNEL(iota_u32, (unsigned* p, unsigned start, size_t n)) {
  size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) p[i] = start + static_cast<unsigned>(i);
}

// Busy-waits `microseconds` once per launch (thread 0 of block 0), for timing and NOT_READY tests.
XG_SIM_KERNEL(spin, (unsigned long long microseconds)) {
  if (blockIdx.x | blockIdx.y | blockIdx.z | threadIdx.x | threadIdx.y | threadIdx.z) return;
  auto end = std::chrono::steady_clock::now() + std::chrono::microseconds(microseconds);
  while (std::chrono::steady_clock::now() < end) {
  }
}

// Module globals, reachable with cuModuleGetGlobal.
XG_SIM_GLOBAL(float, g_scale) = 1.0f;
XG_SIM_GLOBAL(unsigned, g_launches);

XG_SIM_KERNEL(scale_by_global, (float* p, int n)) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) p[i] *= g_scale;
  if (i == 0) xg_atomic_add(&g_launches, 1u);
}

// Mixed-size parameters (offsets 0, 8, 16, 20, 24): echoes them into `out` to check parameter packing.
struct ProbeOut {
  char c;
  double d;
  int i;
  short s;
};
XG_SIM_KERNEL(param_probe, (char c, double d, int i, short s, ProbeOut* out)) {
  if (threadIdx.x == 0 && blockIdx.x == 0) *out = ProbeOut{c, d, i, s};
}
