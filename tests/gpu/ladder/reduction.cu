// reduction, as in the CUDA samples: a shared-memory tree reduction per block (dynamic shared memory, warp
// shuffles for the last 32), then a second pass over the block sums; 16M ints, checked against the host.
#include <vector>

#include "ladder_common.cuh"
static const char* kName = "reduction";

__global__ void reduce(const int* in, long long* out, int n) {
  extern __shared__ long long sdata[];
  const unsigned tid = threadIdx.x;
  long long sum = 0;
  for (int i = blockIdx.x * blockDim.x * 2 + tid; i < n; i += gridDim.x * blockDim.x * 2) {
    sum += in[i];
    if (i + blockDim.x < n) sum += in[i + blockDim.x];
  }
  sdata[tid] = sum;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 32; s >>= 1) {
    if (tid < s) sdata[tid] = sum = sum + sdata[tid + s];
    __syncthreads();
  }
  if (tid < 32) {
    if (blockDim.x >= 64) sum += sdata[tid + 32];
    for (int off = 16; off > 0; off >>= 1) sum += __shfl_down_sync(0xffffffffu, sum, off);
  }
  if (tid == 0) out[blockIdx.x] = sum;
}

__global__ void reduce_ll(const long long* in, long long* out, int n) {
  extern __shared__ long long sdata[];
  long long sum = 0;
  for (int i = threadIdx.x; i < n; i += blockDim.x) sum += in[i];
  sdata[threadIdx.x] = sum;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) sdata[threadIdx.x] += sdata[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) *out = sdata[0];
}

int main() {
  print_device(kName);
  const int n = 1 << 24, threads = 256, blocks = 1024;
  std::vector<int> h(n);
  long long expected = 0;
  for (int i = 0; i < n; ++i) expected += h[i] = (i * 2654435761u) % 1000 - 500;
  int* d;
  long long *partial, *total;
  CK(cudaMalloc(&d, n * sizeof(int)));
  CK(cudaMalloc(&partial, blocks * sizeof(long long)));
  CK(cudaMalloc(&total, sizeof(long long)));
  CK(cudaMemcpy(d, h.data(), n * sizeof(int), cudaMemcpyHostToDevice));
  reduce<<<blocks, threads, threads * sizeof(long long)>>>(d, partial, n);
  CK(cudaGetLastError());
  reduce_ll<<<1, 512, 512 * sizeof(long long)>>>(partial, total, blocks);
  CK_LAUNCH();
  long long got = 0;
  CK(cudaMemcpy(&got, total, sizeof got, cudaMemcpyDeviceToHost));
  std::printf("reduction: sum %lld, expected %lld\n", got, expected);
  CK(cudaFree(d));
  CK(cudaFree(partial));
  CK(cudaFree(total));
  std::printf(got == expected ? "PASS %s\n" : "FAIL %s: wrong sum\n", kName);
  return got == expected ? 0 : 1;
}
