// matrixMul, as in the CUDA samples: shared-memory tiled C = A * B (512x384 * 384x256), checked on the host.
#include <cmath>
#include <vector>

#include "ladder_common.cuh"
static const char* kName = "matrix_mul";
constexpr int kTile = 16;

__global__ void matrix_mul(const float* A, const float* B, float* C, int M, int N, int K) {
  __shared__ float as[kTile][kTile];
  __shared__ float bs[kTile][kTile];
  const int row = blockIdx.y * kTile + threadIdx.y, col = blockIdx.x * kTile + threadIdx.x;
  float acc = 0.0f;
  for (int t = 0; t < K; t += kTile) {
    as[threadIdx.y][threadIdx.x] = row < M && t + threadIdx.x < K ? A[row * K + t + threadIdx.x] : 0.0f;
    bs[threadIdx.y][threadIdx.x] = col < N && t + threadIdx.y < K ? B[(t + threadIdx.y) * N + col] : 0.0f;
    __syncthreads();
    for (int k = 0; k < kTile; ++k) acc += as[threadIdx.y][k] * bs[k][threadIdx.x];
    __syncthreads();
  }
  if (row < M && col < N) C[row * N + col] = acc;
}

int main() {
  print_device(kName);
  const int M = 512, K = 384, N = 256;
  std::vector<float> a(M * K), b(K * N), c(M * N);
  for (int i = 0; i < M * K; ++i) a[i] = float((i * 7) % 13) / 13.0f;
  for (int i = 0; i < K * N; ++i) b[i] = float((i * 5) % 11) / 11.0f - 0.5f;
  float *da, *db, *dc;
  CK(cudaMalloc(&da, a.size() * sizeof(float)));
  CK(cudaMalloc(&db, b.size() * sizeof(float)));
  CK(cudaMalloc(&dc, c.size() * sizeof(float)));
  CK(cudaMemcpy(da, a.data(), a.size() * sizeof(float), cudaMemcpyHostToDevice));
  CK(cudaMemcpy(db, b.data(), b.size() * sizeof(float), cudaMemcpyHostToDevice));
  cudaEvent_t start, stop;
  CK(cudaEventCreate(&start));
  CK(cudaEventCreate(&stop));
  CK(cudaEventRecord(start));
  const int iters = 10;
  for (int i = 0; i < iters; ++i)
    matrix_mul<<<dim3(N / kTile, M / kTile), dim3(kTile, kTile)>>>(da, db, dc, M, N, K);
  CK(cudaEventRecord(stop));
  CK_LAUNCH();
  float ms = 0;
  CK(cudaEventElapsedTime(&ms, start, stop));
  CK(cudaMemcpy(c.data(), dc, c.size() * sizeof(float), cudaMemcpyDeviceToHost));
  for (int r = 0; r < M; ++r)
    for (int col = 0; col < N; ++col) {
      double ref = 0;
      for (int k = 0; k < K; ++k) ref += double(a[r * K + k]) * b[k * N + col];
      if (std::fabs(c[r * N + col] - ref) > 1e-3 * (1 + std::fabs(ref))) {
        std::printf("FAIL %s: C[%d][%d] = %f, expected %f\n", kName, r, col, c[r * N + col], ref);
        return 1;
      }
    }
  std::printf("matrix_mul: %.1f GFLOP/s\n", 2.0 * M * N * K * iters / (ms * 1e6));
  CK(cudaEventDestroy(start));
  CK(cudaEventDestroy(stop));
  CK(cudaFree(da));
  CK(cudaFree(db));
  CK(cudaFree(dc));
  std::printf("PASS %s\n", kName);
  return 0;
}
