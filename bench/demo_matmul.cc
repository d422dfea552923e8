// Demo workload: C = A * B for 128x128 matrices with a 2D grid in a created context, round after round for
// SECONDS (default 3), each product checked against the host's. One verdict line; exit 0 iff all match.
#include <cmath>
#include <vector>

#include "demo_common.h"

int main(int argc, char** argv) {
  const double seconds = demo::seconds_arg(argc, argv, 3.0);
  CK(cuInit(0));
  CUcontext ctx = nullptr;
  CK(cuCtxCreate_v2(&ctx, 0, 0));
  CUmodule mod = nullptr;
  CK(cuModuleLoad(&mod, demo::kernels()));
  CUfunction matmul = nullptr;
  CK(cuModuleGetFunction(&matmul, mod, "matmul"));

  const int M = 128, N = 128, K = 128;
  std::vector<float> A(M * K), B(K * N), C(M * N);
  CUdeviceptr dA = 0, dB = 0, dC = 0;
  CK(cuMemAlloc_v2(&dA, A.size() * sizeof(float)));
  CK(cuMemAlloc_v2(&dB, B.size() * sizeof(float)));
  CK(cuMemAlloc_v2(&dC, C.size() * sizeof(float)));
  double max_rel = 0;
  int rounds = 0;
  demo::Clock clock;
  do {
    for (int i = 0; i < M * K; ++i) A[i] = float((i * 7 + rounds) % 13) - 6.0f;
    for (int i = 0; i < K * N; ++i) B[i] = float((i * 5 + rounds) % 11) * 0.5f;
    CK(cuMemcpyHtoD_v2(dA, A.data(), A.size() * sizeof(float)));
    CK(cuMemcpyHtoD_v2(dB, B.data(), B.size() * sizeof(float)));
    int m = M, n = N, k = K;
    void* args[] = {&dA, &dB, &dC, &m, &n, &k};
    CK(cuLaunchKernel(matmul, N / 16, M / 16, 1, 16, 16, 1, 0, nullptr, args, nullptr));
    CK(cuMemcpyDtoH_v2(C.data(), dC, C.size() * sizeof(float)));
    for (int r = 0; r < M; ++r)
      for (int c = 0; c < N; ++c) {
        double acc = 0;
        for (int i = 0; i < K; ++i) acc += double(A[r * K + i]) * B[i * N + c];
        max_rel = std::fmax(max_rel, std::fabs(C[r * N + c] - acc) / (1.0 + std::fabs(acc)));
      }
    ++rounds;
  } while (clock.seconds() < seconds);
  const double took = clock.seconds();

  CK(cuMemFree_v2(dA));
  CK(cuMemFree_v2(dB));
  CK(cuMemFree_v2(dC));
  CK(cuModuleUnload(mod));
  CK(cuCtxDestroy_v2(ctx));
  const bool ok = max_rel <= 1e-5;
  std::printf("matmul: %s  %d rounds of %dx%d * %dx%d, max relative error %.1e vs host (%.1f s)\n",
              ok ? "PASS" : "FAIL", rounds, M, K, K, N, max_rel, took);
  return ok ? 0 : 1;
}
