// An ordinary driver-API program for the `gpu` tests: loads a cubin or PTX module from a file, adds two vectors on
// the GPU, checks the result on the host and prints the launch+synchronize time. It runs unchanged natively (the
// host's libcuda.so.1) and in a zone (libvgpu first on the library path).
// Usage: gpu_vecadd MODULE_FILE
#include <chrono>
#include <cstdio>
#include <vector>

#include "tests/cuda-programs/common.h"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  CK(cuInit(0));
  CUdevice dev;
  CK(cuDeviceGet(&dev, 0));
  CUcontext ctx;
  CK(cuDevicePrimaryCtxRetain(&ctx, dev));
  CK(cuCtxSetCurrent(ctx));
  CUmodule mod;
  CK(cuModuleLoad(&mod, argv[1]));
  CUfunction f;
  CK(cuModuleGetFunction(&f, mod, "vecadd"));
  const int n = 1 << 20;
  std::vector<float> a(n), b(n), c(n);
  for (int i = 0; i < n; ++i) {
    a[i] = float(i);
    b[i] = float(2 * i + 1);
  }
  CUdeviceptr da, db, dc;
  CK(cuMemAlloc_v2(&da, n * sizeof(float)));
  CK(cuMemAlloc_v2(&db, n * sizeof(float)));
  CK(cuMemAlloc_v2(&dc, n * sizeof(float)));
  CK(cuMemcpyHtoD_v2(da, a.data(), n * sizeof(float)));
  CK(cuMemcpyHtoD_v2(db, b.data(), n * sizeof(float)));
  int nn = n;
  void* params[] = {&da, &db, &dc, &nn};
  CK(cuLaunchKernel(f, (n + 255) / 256, 1, 1, 256, 1, 1, 0, nullptr, params, nullptr));  // warm-up
  CK(cuCtxSynchronize());
  const int reps = 200;
  const auto t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < reps; ++r) {
    CK(cuLaunchKernel(f, (n + 255) / 256, 1, 1, 256, 1, 1, 0, nullptr, params, nullptr));
    CK(cuCtxSynchronize());
  }
  const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / reps;
  CK(cuMemcpyDtoH_v2(c.data(), dc, n * sizeof(float)));
  for (int i = 0; i < n; ++i)
    REQUIRE_TRUE(c[i] == a[i] + b[i], "c[%d] = %f, want %f", i, c[i], a[i] + b[i]);
  std::printf("vecadd %s: 1M floats correct; launch + synchronize %.1f us\n", argv[1], us);
  CK(cuModuleUnload(mod));
  return 0;
}
