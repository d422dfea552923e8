// A zone program for the many-programs-per-zone test: creates its context, waits until START_FILE exists (so that
// many programs allocate at once), allocates 1 MiB at a time until the driver refuses, holds what it got until
// RELEASE_FILE exists, then frees it all and exits.
// Prints "got N MiB first_refusal=ERRNAME" once it holds, and "free F total T" (cuMemGetInfo, bytes) before it
// frees. A program that cannot even create its context (the zone's quota has no room for the context's own
// memory) prints "context ERRNAME" and exits 4.
// Usage: zone_fill START_FILE READY_FILE RELEASE_FILE
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>
#include <vector>

#include "cuda/cuda_abi.h"

namespace {

const char* name_of(CUresult r) {
  const char* n = nullptr;
  return cuGetErrorName(r, &n) == CUDA_SUCCESS && n ? n : "?";
}

// Until `path` exists (at most a minute: a test that died must not leave us behind for long).
void wait_for(const char* path) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (::access(path, F_OK) != 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) return 2;
  const char* start = argv[1];
  const char* ready = argv[2];
  const char* release = argv[3];
  if (cuInit(0) != CUDA_SUCCESS) return 3;
  CUcontext ctx = nullptr;
  if (CUresult r = cuDevicePrimaryCtxRetain(&ctx, 0); r != CUDA_SUCCESS) {
    std::printf("context %s\n", name_of(r));
    std::fflush(stdout);
    return 4;
  }
  cuCtxSetCurrent(ctx);
  wait_for(start);
  std::vector<CUdeviceptr> got;
  CUresult refusal = CUDA_SUCCESS;
  for (;;) {
    CUdeviceptr p = 0;
    refusal = cuMemAlloc_v2(&p, 1 << 20);
    if (refusal != CUDA_SUCCESS) break;
    got.push_back(p);
  }
  std::printf("got %zu MiB first_refusal=%s\n", got.size(), name_of(refusal));
  std::fflush(stdout);
  std::ofstream(ready).put('1');
  wait_for(release);
  size_t free = 0, total = 0;
  cuMemGetInfo_v2(&free, &total);
  std::printf("free %zu total %zu\n", free, total);
  for (CUdeviceptr p : got) cuMemFree_v2(p);
  cuDevicePrimaryCtxRelease_v2(0);
  return 0;
}
