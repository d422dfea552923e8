// C = A * B (96x80 times 80x64) with a 2D grid, in a created (non-primary) context; checked on the host.
#include <cmath>
#include <vector>

#include "common.h"

int main(int argc, char** argv) {
  const char* path = kernel_module_path(argc, argv);
  CK(cuInit(0));
  CUcontext ctx = nullptr;
  CK(create_context(&ctx, 0, 0));
  CUmodule mod = nullptr;
  CK(cuModuleLoad(&mod, path));
  CUfunction matmul = nullptr;
  CK(cuModuleGetFunction(&matmul, mod, "matmul"));

  const int M = 96, N = 64, K = 80;
  std::vector<float> A(M * K), B(K * N), C(M * N);
  for (int i = 0; i < M * K; ++i) A[i] = float((i * 7) % 13) - 6.0f;
  for (int i = 0; i < K * N; ++i) B[i] = float((i * 5) % 11) * 0.5f;
  CUdeviceptr dA = 0, dB = 0, dC = 0;
  CK(cuMemAlloc_v2(&dA, A.size() * sizeof(float)));
  CK(cuMemAlloc_v2(&dB, B.size() * sizeof(float)));
  CK(cuMemAlloc_v2(&dC, C.size() * sizeof(float)));
  CK(cuMemcpyHtoD_v2(dA, A.data(), A.size() * sizeof(float)));
  CK(cuMemcpyHtoD_v2(dB, B.data(), B.size() * sizeof(float)));
  int m = M, n = N, k = K;
  void* args[] = {&dA, &dB, &dC, &m, &n, &k};
  const unsigned bx = 16, by = 16;
  CK(cuLaunchKernel(matmul, (N + bx - 1) / bx, (M + by - 1) / by, 1, bx, by, 1, 0, nullptr, args, nullptr));
  CK(cuMemcpyDtoH_v2(C.data(), dC, C.size() * sizeof(float)));
  for (int r = 0; r < M; ++r)
    for (int c = 0; c < N; ++c) {
      float acc = 0.0f;
      for (int i = 0; i < K; ++i) acc += A[r * K + i] * B[i * N + c];
      REQUIRE_TRUE(std::fabs(C[r * N + c] - acc) <= 1e-3f * (1.0f + std::fabs(acc)), "C[%d][%d] = %f, want %f", r,
                   c, double(C[r * N + c]), double(acc));
    }
  CK(cuMemFree_v2(dA));
  CK(cuMemFree_v2(dB));
  CK(cuMemFree_v2(dC));
  CK(cuModuleUnload(mod));
  CK(cuCtxDestroy_v2(ctx));
  std::printf("matmul: OK (%dx%d * %dx%d)\n", M, K, K, N);
  return 0;
}
