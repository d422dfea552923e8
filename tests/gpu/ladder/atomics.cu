// simpleAtomicIntrinsics-style: atomicAdd/Sub/Max/Min/And/Or/Xor/CAS on ints and atomicAdd on doubles from 256k
// threads, the results checked against the host.
#include "ladder_common.cuh"
static const char* kName = "atomics";

__global__ void atomics(int* r, unsigned* u, double* d, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  atomicAdd(&r[0], 1);
  atomicSub(&r[1], 2);
  atomicMax(&r[2], i);
  atomicMin(&r[3], -i);
  atomicAnd(&u[0], ~(1u << (i % 32)));
  atomicOr(&u[1], 1u << (i % 32));
  atomicXor(&u[2], unsigned(i));
  int old = r[4], assumed;
  do {
    assumed = old;
    old = atomicCAS(&r[4], assumed, assumed + 3);
  } while (old != assumed);
  atomicAdd(d, 0.5);
}

int main() {
  print_device(kName);
  const int n = 1 << 18;
  int* r;
  unsigned* u;
  double* d;
  CK(cudaMalloc(&r, 5 * sizeof(int)));
  CK(cudaMalloc(&u, 3 * sizeof(unsigned)));
  CK(cudaMalloc(&d, sizeof(double)));
  const int r0[5] = {0, 0, -1, 1, 0};
  const unsigned u0[3] = {0xffffffffu, 0, 0};
  CK(cudaMemcpy(r, r0, sizeof r0, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(u, u0, sizeof u0, cudaMemcpyHostToDevice));
  CK(cudaMemset(d, 0, sizeof(double)));
  atomics<<<n / 256, 256>>>(r, u, d, n);
  CK_LAUNCH();
  int rh[5];
  unsigned uh[3];
  double dh;
  CK(cudaMemcpy(rh, r, sizeof rh, cudaMemcpyDeviceToHost));
  CK(cudaMemcpy(uh, u, sizeof uh, cudaMemcpyDeviceToHost));
  CK(cudaMemcpy(&dh, d, sizeof dh, cudaMemcpyDeviceToHost));
  unsigned x = 0;
  for (int i = 0; i < n; ++i) x ^= unsigned(i);
  const bool ok = rh[0] == n && rh[1] == -2 * n && rh[2] == n - 1 && rh[3] == -(n - 1) && rh[4] == 3 * n &&
                  uh[0] == 0 && uh[1] == 0xffffffffu && uh[2] == x && dh == 0.5 * n;
  std::printf("atomics: add %d sub %d max %d min %d cas %d and %08x or %08x xor %08x (expected %08x) dadd %.1f\n",
              rh[0], rh[1], rh[2], rh[3], rh[4], uh[0], uh[1], uh[2], x, dh);
  CK(cudaFree(r));
  CK(cudaFree(u));
  CK(cudaFree(d));
  std::printf(ok ? "PASS %s\n" : "FAIL %s: wrong atomic results\n", kName);
  return ok ? 0 : 1;
}
