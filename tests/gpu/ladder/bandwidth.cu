// bandwidthTest, as in the CUDA samples: HtoD, DtoH and DtoD of 32 MiB from pageable and from pinned memory,
// timed with events; the bytes are checked after each direction.
#include <cstring>
#include <vector>

#include "ladder_common.cuh"
static const char* kName = "bandwidth";

static double timed_copy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, int reps) {
  cudaEvent_t a, b;
  CK(cudaEventCreate(&a));
  CK(cudaEventCreate(&b));
  CK(cudaMemcpy(dst, src, bytes, kind));  // warm-up
  CK(cudaEventRecord(a));
  for (int i = 0; i < reps; ++i) CK(cudaMemcpyAsync(dst, src, bytes, kind, 0));
  CK(cudaEventRecord(b));
  CK(cudaEventSynchronize(b));
  float ms = 0;
  CK(cudaEventElapsedTime(&ms, a, b));
  CK(cudaEventDestroy(a));
  CK(cudaEventDestroy(b));
  return double(bytes) * reps / (ms * 1e6);
}

static bool check(const unsigned char* p, size_t n, unsigned char seed) {
  for (size_t i = 0; i < n; ++i)
    if (p[i] != (unsigned char)(i * 31 + seed)) {
      std::printf("FAIL %s: byte %zu = %u, expected %u\n", kName, i, p[i], (unsigned char)(i * 31 + seed));
      return false;
    }
  return true;
}

int main() {
  print_device(kName);
  const size_t n = 32 << 20;
  std::vector<unsigned char> pageable(n), back(n);
  for (size_t i = 0; i < n; ++i) pageable[i] = (unsigned char)(i * 31 + 1);
  unsigned char* pinned;
  CK(cudaMallocHost(&pinned, n));
  for (size_t i = 0; i < n; ++i) pinned[i] = (unsigned char)(i * 31 + 2);
  unsigned char *d1, *d2;
  CK(cudaMalloc(&d1, n));
  CK(cudaMalloc(&d2, n));

  const double h2d_pageable = timed_copy(d1, pageable.data(), n, cudaMemcpyHostToDevice, 5);
  const double d2d = timed_copy(d2, d1, n, cudaMemcpyDeviceToDevice, 5);
  const double d2h_pageable = timed_copy(back.data(), d2, n, cudaMemcpyDeviceToHost, 5);
  if (!check(back.data(), n, 1)) return 1;
  const double h2d_pinned = timed_copy(d1, pinned, n, cudaMemcpyHostToDevice, 5);
  std::memset(pinned, 0, n);
  const double d2h_pinned = timed_copy(pinned, d1, n, cudaMemcpyDeviceToHost, 5);
  if (!check(pinned, n, 2)) return 1;
  std::printf("bandwidth GB/s (32 MiB): HtoD pageable %.1f pinned %.1f, DtoH pageable %.1f pinned %.1f, DtoD %.1f\n",
              h2d_pageable, h2d_pinned, d2h_pageable, d2h_pinned, d2d);
  CK(cudaFreeHost(pinned));
  CK(cudaFree(d1));
  CK(cudaFree(d2));
  std::printf("PASS %s\n", kName);
  return 0;
}
