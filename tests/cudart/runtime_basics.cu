// A CUDA-runtime program without kernels, built by nvcc with its default flags (static cudart): device
// properties, memory, pinned memory, streams and events, error paths. It runs unmodified natively on a GPU and in a
// zone (on the simulated driver in `make test`), prints what it checked and PASS, and exits non-zero on a mismatch.
#include <cstdio>
#include <cstring>
#include <vector>

#include <cuda_runtime.h>

#define CK(call)                                                                                         \
  do {                                                                                                   \
    cudaError_t e_ = (call);                                                                             \
    if (e_ != cudaSuccess) {                                                                             \
      std::printf("FAIL %s = %d %s (line %d)\n", #call, int(e_), cudaGetErrorName(e_), __LINE__);       \
      return 1;                                                                                          \
    }                                                                                                    \
  } while (0)
#define EXPECT(cond)                                                  \
  do {                                                                \
    if (!(cond)) {                                                    \
      std::printf("FAIL %s (line %d)\n", #cond, __LINE__);            \
      return 1;                                                       \
    }                                                                 \
  } while (0)

int main() {
  int runtime = 0, driver = 0, count = 0;
  CK(cudaRuntimeGetVersion(&runtime));
  CK(cudaDriverGetVersion(&driver));
  CK(cudaGetDeviceCount(&count));
  EXPECT(count >= 1);
  cudaDeviceProp p{};
  CK(cudaGetDeviceProperties(&p, 0));
  std::printf("runtime %d driver %d: %d device(s), %s, cc %d.%d, %zu MiB, %d SMs\n", runtime, driver, count, p.name,
              p.major, p.minor, p.totalGlobalMem >> 20, p.multiProcessorCount);
  EXPECT(p.totalGlobalMem > 0 && p.multiProcessorCount > 0 && p.maxThreadsPerBlock > 0);
  CK(cudaSetDevice(0));
  size_t free_b = 0, total_b = 0;
  CK(cudaMemGetInfo(&free_b, &total_b));
  EXPECT(free_b <= total_b && total_b == p.totalGlobalMem);

  // Device memory: memset, copies both ways, device-to-device.
  const size_t n = 1 << 20;
  std::vector<unsigned> host(n), back(n);
  for (size_t i = 0; i < n; ++i) host[i] = unsigned(i * 2654435761u);
  unsigned *a = nullptr, *b = nullptr;
  CK(cudaMalloc(&a, n * sizeof(unsigned)));
  CK(cudaMalloc(&b, n * sizeof(unsigned)));
  CK(cudaMemset(a, 0xab, n * sizeof(unsigned)));
  CK(cudaMemcpy(back.data(), a, n * sizeof(unsigned), cudaMemcpyDeviceToHost));
  EXPECT(back[0] == 0xabababab && back[n - 1] == 0xabababab);
  CK(cudaMemcpy(a, host.data(), n * sizeof(unsigned), cudaMemcpyHostToDevice));
  CK(cudaMemcpy(b, a, n * sizeof(unsigned), cudaMemcpyDeviceToDevice));
  CK(cudaMemcpy(back.data(), b, n * sizeof(unsigned), cudaMemcpyDeviceToHost));
  EXPECT(std::memcmp(host.data(), back.data(), n * sizeof(unsigned)) == 0);

  // Pinned memory, streams and events: async copies on two streams, timed.
  unsigned* pinned = nullptr;
  CK(cudaMallocHost(&pinned, n * sizeof(unsigned)));
  cudaStream_t s1, s2;
  CK(cudaStreamCreate(&s1));
  CK(cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking));
  cudaEvent_t start, stop;
  CK(cudaEventCreate(&start));
  CK(cudaEventCreate(&stop));
  CK(cudaEventRecord(start, s1));
  CK(cudaMemcpyAsync(pinned, b, n / 2 * sizeof(unsigned), cudaMemcpyDeviceToHost, s1));
  CK(cudaMemcpyAsync(pinned + n / 2, b + n / 2, n / 2 * sizeof(unsigned), cudaMemcpyDeviceToHost, s2));
  CK(cudaMemsetAsync(a, 0, n * sizeof(unsigned), s2));
  CK(cudaEventRecord(stop, s1));
  CK(cudaStreamSynchronize(s2));
  CK(cudaEventSynchronize(stop));
  float ms = -1;
  CK(cudaEventElapsedTime(&ms, start, stop));
  EXPECT(ms >= 0);
  EXPECT(std::memcmp(host.data(), pinned, n * sizeof(unsigned)) == 0);
  CK(cudaStreamQuery(s1));
  unsigned flags = 99;
  CK(cudaStreamGetFlags(s2, &flags));
  EXPECT(flags == cudaStreamNonBlocking);
  cudaStreamCaptureStatus capturing = cudaStreamCaptureStatusActive;
  CK(cudaStreamIsCapturing(s1, &capturing));
  EXPECT(capturing == cudaStreamCaptureStatusNone);
  int least = 0, greatest = 0;
  CK(cudaDeviceGetStreamPriorityRange(&least, &greatest));
  EXPECT(greatest <= least);
  CK(cudaDeviceSynchronize());

  // Error paths: the runtime's errors, from the driver's answers.
  void* huge = nullptr;
  EXPECT(cudaMalloc(&huge, size_t{1} << 50) == cudaErrorMemoryAllocation);
  EXPECT(cudaGetLastError() == cudaErrorMemoryAllocation);  // sticky until read, then cleared
  EXPECT(cudaGetLastError() == cudaSuccess);
  EXPECT(cudaSetDevice(count + 7) == cudaErrorInvalidDevice);
  (void)cudaGetLastError();
  EXPECT(cudaFree(nullptr) == cudaSuccess);

  CK(cudaEventDestroy(start));
  CK(cudaEventDestroy(stop));
  CK(cudaStreamDestroy(s1));
  CK(cudaStreamDestroy(s2));
  CK(cudaFreeHost(pinned));
  CK(cudaFree(a));
  CK(cudaFree(b));
  std::printf("PASS runtime_basics (%.3f ms timed)\n", ms);
  return 0;
}
