// The CUDA twins of the simulated driver's test and benchmark kernels (gpu-proxy/sim/kernels/demo_kernels.cc and
// bench/bench_kernels.cc): same names, same parameters, same results, so the driver-API programs of
// tests/cuda-programs, tests/gpu and bench/ run unchanged on a real GPU. nvcc compiles this file to a cubin
// (sm_90) and to PTX at build time where /usr/local/cuda exists; the build never needs it otherwise.
#include <cstddef>

extern "C" __global__ void saxpy(float a, const float* x, float* y, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = a * x[i] + y[i];
}

extern "C" __global__ void reduce_sum(const int* x, long long* out, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) atomicAdd(reinterpret_cast<unsigned long long*>(out), static_cast<unsigned long long>(x[i]));
}

extern "C" __global__ void matmul(const float* A, const float* B, float* C, int M, int N, int K) {
  const int row = blockIdx.y * blockDim.y + threadIdx.y;
  const int col = blockIdx.x * blockDim.x + threadIdx.x;
  if (row >= M || col >= N) return;
  float acc = 0.0f;
  for (int k = 0; k < K; ++k) acc += A[row * K + k] * B[k * N + col];
  C[row * N + col] = acc;
}

extern "C" __global__ void fill_u32(unsigned* p, unsigned value, size_t n) {
  const size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) p[i] = value;
}

extern "C" __global__ void iota_u32(unsigned* p, unsigned start, size_t n) {
  const size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) p[i] = start + static_cast<unsigned>(i);
}

// Busy-waits `microseconds` once per launch (thread 0 of block 0), on the GPU's global nanosecond timer.
extern "C" __global__ void spin(unsigned long long microseconds) {
  if (blockIdx.x | blockIdx.y | blockIdx.z | threadIdx.x | threadIdx.y | threadIdx.z) return;
  unsigned long long start, now;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
  do {
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
  } while (now - start < microseconds * 1000ull);
}

__device__ float g_scale = 1.0f;
__device__ unsigned g_launches;

extern "C" __global__ void scale_by_global(float* p, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) p[i] *= g_scale;
  if (i == 0) atomicAdd(&g_launches, 1u);
}

struct ProbeOut {
  char c;
  double d;
  int i;
  short s;
};
extern "C" __global__ void param_probe(char c, double d, int i, short s, ProbeOut* out) {
  if (threadIdx.x == 0 && blockIdx.x == 0) *out = ProbeOut{c, d, i, s};
}

// bench/: a launch that does nothing (launch-rate figures measure issuing), and c = a + b.
extern "C" __global__ void empty() {}

extern "C" __global__ void vecadd(const float* a, const float* b, float* c, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) c[i] = a[i] + b[i];
}
