// y = a*x + y on 1M floats with a module loaded from a file; results checked on the host.
#include <cmath>
#include <vector>

#include "common.h"

int main(int argc, char** argv) {
  const char* path = kernel_module_path(argc, argv);
  setup_primary_context();
  CUmodule mod = nullptr;
  CK(cuModuleLoad(&mod, path));
  CUfunction saxpy = nullptr;
  CK(cuModuleGetFunction(&saxpy, mod, "saxpy"));

  const int n = 1 << 20;
  std::vector<float> x(n), y(n);
  for (int i = 0; i < n; ++i) {
    x[i] = float(i % 1000);
    y[i] = 1.0f;
  }
  CUdeviceptr dx = 0, dy = 0;
  CK(cuMemAlloc_v2(&dx, n * sizeof(float)));
  CK(cuMemAlloc_v2(&dy, n * sizeof(float)));
  CK(cuMemcpyHtoD_v2(dx, x.data(), n * sizeof(float)));
  CK(cuMemcpyHtoD_v2(dy, y.data(), n * sizeof(float)));
  float a = 3.0f;
  int count = n;
  void* args[] = {&a, &dx, &dy, &count};
  const unsigned block = 256, grid = (n + block - 1) / block;
  CK(cuLaunchKernel(saxpy, grid, 1, 1, block, 1, 1, 0, nullptr, args, nullptr));
  CK(cuCtxSynchronize());
  CK(cuMemcpyDtoH_v2(y.data(), dy, n * sizeof(float)));
  for (int i = 0; i < n; ++i)
    REQUIRE_TRUE(std::fabs(y[i] - (3.0f * float(i % 1000) + 1.0f)) < 1e-4f, "y[%d] = %f", i, double(y[i]));

  CK(cuMemFree_v2(dx));
  CK(cuMemFree_v2(dy));
  CK(cuModuleUnload(mod));
  teardown_primary_context();
  std::printf("saxpy: OK (%d elements)\n", n);
  return 0;
}
