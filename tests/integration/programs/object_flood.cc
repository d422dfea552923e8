// A hostile zone's program (tests/integration/limits-test.sh): creates each kind of driver object in a loop until
// the driver (the proxy) refuses, and prints `created KIND N RESULT` for each; then queues asynchronous launches
// without ever synchronising for SECONDS; then prints `holding` and keeps everything until the file RELEASE exists.
// Usage: object_flood MODULE SECONDS RELEASE
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/cuda-programs/common.h"

namespace {

// Calls `make` until it fails or `cap` objects exist; prints the count and the refusal.
template <typename Make>
void flood(const char* kind, Make make, int cap = 100000) {
  int n = 0;
  CUresult r = CUDA_SUCCESS;
  while (n < cap && (r = make()) == CUDA_SUCCESS) ++n;
  const char* name = nullptr;
  cuGetErrorName(r, &name);
  std::printf("created %s %d %s\n", kind, n, r == CUDA_SUCCESS ? "CUDA_SUCCESS" : (name ? name : "?"));
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) return 2;
  const char* module_path = argv[1];
  const double seconds = std::atof(argv[2]);
  const char* release = argv[3];
  CUcontext primary = setup_primary_context();
  std::vector<CUcontext> contexts;
  flood("contexts", [&] {
    CUcontext c = nullptr;
    CUresult r = cuCtxCreate_v2(&c, 0, 0);
    if (r == CUDA_SUCCESS) contexts.push_back(c);
    return r;
  });
  CK(cuCtxSetCurrent(primary));
  flood("streams", [] {
    CUstream s = nullptr;
    return cuStreamCreate(&s, CU_STREAM_NON_BLOCKING);
  });
  flood("events", [] {
    CUevent e = nullptr;
    return cuEventCreate(&e, CU_EVENT_DISABLE_TIMING);
  });
  std::vector<CUmodule> modules;
  flood("modules", [&] {
    CUmodule m = nullptr;
    CUresult r = cuModuleLoad(&m, module_path);
    if (r == CUDA_SUCCESS) modules.push_back(m);
    return r;
  });
  // Functions: every kernel of every loaded module is a distinct function.
  static const char* const kKernels[] = {"saxpy", "reduce_sum", "matmul", "fill_u32", "iota_u32", "spin",
                                         "scale_by_global", "param_probe"};
  size_t next = 0;
  flood("functions", [&] {
    if (next >= modules.size() * std::size(kKernels)) return CUDA_ERROR_NOT_FOUND;  // ran out of distinct ones
    CUfunction f = nullptr;
    CUresult r = cuModuleGetFunction(&f, modules[next / std::size(kKernels)], kKernels[next % std::size(kKernels)]);
    ++next;
    return r;
  });
  flood("host_allocs", [] {
    void* p = nullptr;
    return cuMemAllocHost_v2(&p, 4096);
  });

  // Asynchronous work, never synchronised: the worker must bound what it lets the driver queue.
  CUmodule m = modules.empty() ? nullptr : modules.front();
  CUfunction spin = nullptr;
  if (m == nullptr || cuModuleGetFunction(&spin, m, "spin") != CUDA_SUCCESS) {
    std::fprintf(stderr, "object_flood: no module left to launch from\n");
    return 1;
  }
  unsigned long long zero = 0;
  void* params[] = {&zero};
  long long launches = 0;
  const auto t0 = std::chrono::steady_clock::now();
  while (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < seconds) {
    for (int i = 0; i < 1000; ++i) CK(cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, nullptr, params, nullptr));
    launches += 1000;
  }
  std::printf("launched %lld\nholding\n", launches);
  std::fflush(stdout);
  struct stat st{};
  for (int i = 0; i < 6000 && ::stat(release, &st) != 0; ++i) ::usleep(10000);
  return 0;  // everything is left to the zone's end: the worker must reclaim it
}
