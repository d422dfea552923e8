// vectorAdd, as in the CUDA samples: C = A + B on 1M floats, checked on the host.
#include <vector>

#include "ladder_common.cuh"
static const char* kName = "vector_add";

__global__ void vector_add(const float* a, const float* b, float* c, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) c[i] = a[i] + b[i];
}

int main() {
  print_device(kName);
  const int n = 1 << 20;
  std::vector<float> a(n), b(n), c(n);
  for (int i = 0; i < n; ++i) a[i] = float(i) * 0.5f, b[i] = float(n - i);
  float *da, *db, *dc;
  CK(cudaMalloc(&da, n * sizeof(float)));
  CK(cudaMalloc(&db, n * sizeof(float)));
  CK(cudaMalloc(&dc, n * sizeof(float)));
  CK(cudaMemcpy(da, a.data(), n * sizeof(float), cudaMemcpyHostToDevice));
  CK(cudaMemcpy(db, b.data(), n * sizeof(float), cudaMemcpyHostToDevice));
  vector_add<<<(n + 255) / 256, 256>>>(da, db, dc, n);
  CK_LAUNCH();
  CK(cudaMemcpy(c.data(), dc, n * sizeof(float), cudaMemcpyDeviceToHost));
  for (int i = 0; i < n; ++i)
    if (c[i] != a[i] + b[i]) {
      std::printf("FAIL %s: c[%d] = %f, expected %f\n", kName, i, c[i], a[i] + b[i]);
      return 1;
    }
  CK(cudaFree(da));
  CK(cudaFree(db));
  CK(cudaFree(dc));
  std::printf("PASS %s\n", kName);
  return 0;
}
