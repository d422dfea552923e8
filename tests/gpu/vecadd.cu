// A real GPU kernel for the `gpu` tests: compiled by nvcc to a cubin (sm_90) and to PTX at build time.
extern "C" __global__ void vecadd(const float* a, const float* b, float* c, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) c[i] = a[i] + b[i];
}
