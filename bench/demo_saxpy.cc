// Demo workload: y = a*x + y over 4M floats (32 MiB on the device), round after round for SECONDS (default 3),
// each round's result checked against the host. Prints one verdict line; exits 0 only if every round matched.
#include <cmath>
#include <vector>

#include "demo_common.h"

int main(int argc, char** argv) {
  const double seconds = demo::seconds_arg(argc, argv, 3.0);
  setup_primary_context();
  CUmodule mod = nullptr;
  CK(cuModuleLoad(&mod, demo::kernels()));
  CUfunction saxpy = nullptr;
  CK(cuModuleGetFunction(&saxpy, mod, "saxpy"));

  const int n = 4 << 20;
  std::vector<float> x(n), y(n), out(n);
  CUdeviceptr dx = 0, dy = 0;
  CK(cuMemAlloc_v2(&dx, n * sizeof(float)));
  CK(cuMemAlloc_v2(&dy, n * sizeof(float)));
  double max_err = 0;
  int rounds = 0;
  demo::Clock clock;
  do {
    const float a = 0.5f + float(rounds % 7);
    for (int i = 0; i < n; ++i) {
      x[i] = float((i + rounds) % 1000) * 0.25f;
      y[i] = float(i % 17) - 8.0f;
    }
    CK(cuMemcpyHtoD_v2(dx, x.data(), n * sizeof(float)));
    CK(cuMemcpyHtoD_v2(dy, y.data(), n * sizeof(float)));
    float a_arg = a;
    int n_arg = n;
    void* args[] = {&a_arg, &dx, &dy, &n_arg};
    CK(cuLaunchKernel(saxpy, (n + 255) / 256, 1, 1, 256, 1, 1, 0, nullptr, args, nullptr));
    CK(cuMemcpyDtoH_v2(out.data(), dy, n * sizeof(float)));
    for (int i = 0; i < n; ++i) max_err = std::fmax(max_err, std::fabs(double(out[i]) - (double(a) * x[i] + y[i])));
    ++rounds;
  } while (clock.seconds() < seconds);
  const double took = clock.seconds();

  CK(cuMemFree_v2(dx));
  CK(cuMemFree_v2(dy));
  CK(cuModuleUnload(mod));
  teardown_primary_context();
  const bool ok = max_err <= 1e-3;
  std::printf("saxpy:  %s  %d rounds of y = a*x + y over %d floats, max |error| %.1e (%.1f s)\n",
              ok ? "PASS" : "FAIL", rounds, n, max_err, took);
  return ok ? 0 : 1;
}
