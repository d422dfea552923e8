// A zone program: 8 threads allocate 1 MiB at a time concurrently until the driver says
// CUDA_ERROR_OUT_OF_MEMORY. Inside a zone with quota Q: the total granted must not exceed Q, must come within
// 8 MiB of what was free once the context existed (its own memory counts against Q), every refusal must be
// OUT_OF_MEMORY, and after freeing everything cuMemGetInfo shows Q in all and what was free before free again.
// Usage: quota_threads QUOTA_MIB
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include "cuda/cuda_abi.h"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const size_t quota = std::strtoull(argv[1], nullptr, 10) << 20;
  CUcontext ctx = nullptr;
  if (cuInit(0) != CUDA_SUCCESS || cuDevicePrimaryCtxRetain(&ctx, 0) != CUDA_SUCCESS) return 3;
  if (cuCtxSetCurrent(ctx) != CUDA_SUCCESS) return 3;
  size_t free0 = 0, all0 = 0;
  if (cuMemGetInfo_v2(&free0, &all0) != CUDA_SUCCESS) return 3;
  std::mutex mu;
  std::vector<CUdeviceptr> got;
  int wrong_errors = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      cuCtxSetCurrent(ctx);
      for (;;) {
        CUdeviceptr p = 0;
        CUresult r = cuMemAlloc_v2(&p, 1 << 20);
        std::lock_guard lock(mu);
        if (r == CUDA_ERROR_OUT_OF_MEMORY) return;
        if (r != CUDA_SUCCESS) {
          ++wrong_errors;
          return;
        }
        got.push_back(p);
      }
    });
  }
  for (auto& t : threads) t.join();
  const size_t total = got.size() << 20;
  std::printf("quota %zu MiB (%zu MiB free beside the context): 8 threads got %zu MiB, then CUDA_ERROR_OUT_OF_MEMORY\n",
              quota >> 20, free0 >> 20, total >> 20);
  int rc = 0;
  if (all0 != quota || free0 > quota || total > free0 || total + (8u << 20) < free0 || wrong_errors) {
    std::printf("FAIL: quota not held (or wrong error codes: %d)\n", wrong_errors);
    rc = 1;
  }
  for (CUdeviceptr p : got) cuMemFree_v2(p);
  size_t free = 0, all = 0;
  cuMemGetInfo_v2(&free, &all);
  if (all != quota || free != free0) {
    std::printf("FAIL: after freeing, cuMemGetInfo says %zu free of %zu (want %zu of %zu)\n", free, all, free0, quota);
    rc = 1;
  }
  return rc;
}
