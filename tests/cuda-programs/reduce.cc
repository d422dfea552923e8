// Sum of 100000 ints by an atomic-add reduction kernel, on a non-blocking stream with async copies.
#include <vector>

#include "common.h"

int main(int argc, char** argv) {
  const char* path = kernel_module_path(argc, argv);
  setup_primary_context();
  CUmodule mod = nullptr;
  CK(cuModuleLoad(&mod, path));
  CUfunction reduce = nullptr;
  CK(cuModuleGetFunction(&reduce, mod, "reduce_sum"));

  const int n = 100000;
  std::vector<int> x(n);
  long long expect = 0;
  for (int i = 0; i < n; ++i) {
    x[i] = (i * 37) % 1001 - 500;
    expect += x[i];
  }
  CUstream s = nullptr;
  CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
  CUdeviceptr dx = 0, dsum = 0;
  CK(cuMemAlloc_v2(&dx, n * sizeof(int)));
  CK(cuMemAlloc_v2(&dsum, sizeof(long long)));
  CK(cuMemsetD8Async(dsum, 0, sizeof(long long), s));
  CK(cuMemcpyHtoDAsync_v2(dx, x.data(), n * sizeof(int), s));
  int count = n;
  void* args[] = {&dx, &dsum, &count};
  int min_grid = 0, block = 0;
  CK(cuOccupancyMaxPotentialBlockSize(&min_grid, &block, reduce, nullptr, 0, 0));
  REQUIRE_TRUE(block > 0 && block <= 1024, "block size %d", block);
  CK(cuLaunchKernel(reduce, (n + block - 1) / block, 1, 1, block, 1, 1, 0, s, args, nullptr));
  long long got = 0;
  CK(cuMemcpyDtoHAsync_v2(&got, dsum, sizeof got, s));
  CK(cuStreamSynchronize(s));
  REQUIRE_TRUE(got == expect, "sum %lld, expected %lld", got, expect);

  CK(cuStreamDestroy_v2(s));
  CK(cuMemFree_v2(dx));
  CK(cuMemFree_v2(dsum));
  CK(cuModuleUnload(mod));
  teardown_primary_context();
  std::printf("reduce: OK (sum %lld)\n", got);
  return 0;
}
