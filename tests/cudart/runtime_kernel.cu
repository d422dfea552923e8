// A CUDA-runtime program with a kernel, built by nvcc with its default flags. On a GPU (natively or in a zone) it
// checks the kernel's result. On the simulated driver the launch must fail cleanly with cudaErrorNotSupported (the
// simulated driver cannot run NVIDIA GPU code, and says so in the zone's log): the program reports that and exits
// 3, never crashes.
#include <cstdio>
#include <vector>

#include <cuda_runtime.h>

__global__ void scale(float* x, float k, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) x[i] *= k;
}

int main() {
  const int n = 1 << 16;
  std::vector<float> h(n, 2.0f);
  float* d = nullptr;
  if (cudaMalloc(&d, n * sizeof(float)) != cudaSuccess) return 1;
  if (cudaMemcpy(d, h.data(), n * sizeof(float), cudaMemcpyHostToDevice) != cudaSuccess) return 1;
  scale<<<(n + 255) / 256, 256>>>(d, 1.5f, n);
  const cudaError_t launch = cudaGetLastError();
  if (launch == cudaErrorNotSupported) {
    std::printf("launch refused: %s (%s)\n", cudaGetErrorName(launch), cudaGetErrorString(launch));
    return 3;
  }
  if (launch != cudaSuccess || cudaMemcpy(h.data(), d, n * sizeof(float), cudaMemcpyDeviceToHost) != cudaSuccess) {
    std::printf("FAIL launch: %s\n", cudaGetErrorName(launch));
    return 1;
  }
  for (float v : h)
    if (v != 3.0f) {
      std::printf("FAIL result %f\n", v);
      return 1;
    }
  std::printf("PASS runtime_kernel\n");
  return 0;
}
