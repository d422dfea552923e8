// Demo workload: the sum of 4M ints by an atomic-add reduction kernel on a stream with async copies, round
// after round for SECONDS (default 3), each sum compared with the host's. One verdict line; exit 0 iff all match.
#include <vector>

#include "demo_common.h"

int main(int argc, char** argv) {
  const double seconds = demo::seconds_arg(argc, argv, 3.0);
  setup_primary_context();
  CUmodule mod = nullptr;
  CK(cuModuleLoad(&mod, demo::kernels()));
  CUfunction reduce = nullptr;
  CK(cuModuleGetFunction(&reduce, mod, "reduce_sum"));

  const int n = 4 << 20;
  std::vector<int> x(n);
  CUstream s = nullptr;
  CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
  CUdeviceptr dx = 0, dsum = 0;
  CK(cuMemAlloc_v2(&dx, n * sizeof(int)));
  CK(cuMemAlloc_v2(&dsum, sizeof(long long)));
  int rounds = 0, mismatches = 0;
  long long last_got = 0, last_want = 0;
  demo::Clock clock;
  do {
    long long want = 0;
    for (int i = 0; i < n; ++i) {
      x[i] = ((i + 1) * (rounds + 37)) % 2001 - 1000;
      want += x[i];
    }
    CK(cuMemsetD8Async(dsum, 0, sizeof(long long), s));
    CK(cuMemcpyHtoDAsync_v2(dx, x.data(), n * sizeof(int), s));
    int count = n;
    void* args[] = {&dx, &dsum, &count};
    CK(cuLaunchKernel(reduce, (n + 255) / 256, 1, 1, 256, 1, 1, 0, s, args, nullptr));
    long long got = 0;
    CK(cuMemcpyDtoHAsync_v2(&got, dsum, sizeof got, s));
    CK(cuStreamSynchronize(s));
    mismatches += got != want;
    last_got = got;
    last_want = want;
    ++rounds;
  } while (clock.seconds() < seconds);
  const double took = clock.seconds();

  CK(cuStreamDestroy_v2(s));
  CK(cuMemFree_v2(dx));
  CK(cuMemFree_v2(dsum));
  CK(cuModuleUnload(mod));
  teardown_primary_context();
  std::printf("reduce: %s  %d rounds summing %d ints, last sum %lld vs host %lld, %d mismatches (%.1f s)\n",
              mismatches == 0 ? "PASS" : "FAIL", rounds, n, last_got, last_want, mismatches, took);
  return mismatches == 0 ? 0 : 1;
}
