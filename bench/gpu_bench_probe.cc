// gpu_bench_probe: the measuring half of `make bench-gpu`. An ordinary CUDA driver-API program (cuda/cuda_abi.h,
// -lcuda, no rpath): bench/gpu_bench runs it natively (the driver's own libcuda.so.1, real or simulated) and in
// zones (libvgpu first on the library path), in one run, and compares. Each figure is one line on stdout:
//   metric NAME VALUE UNIT
// Modes:
//   info                        `info KEY VALUE` lines: the libcuda.so.1 it loaded, GPU name, driver version
//   measure MODULE [--quick]    every single-program figure (latencies as medians; rates, bandwidths)
//   loop MODULE N START_NS      waits for CLOCK_REALTIME START_NS (so that many zones start together), then N
//                               empty-kernel launches, each followed by cuCtxSynchronize: p50/p99 and the rate
// MODULE must define `empty` and `vecadd` (bench/bench_kernels.cc for the simulated driver; tests/gpu/kernels.cu
// compiled to a cubin or PTX for a real GPU).
#include <dlfcn.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "idm/testing/bench_stats.h"
#include "tests/cuda-programs/common.h"

using namespace xg::idm::bench;

namespace {

void metric(const std::string& name, double value, const char* unit) {
  std::printf("metric %s %.6g %s\n", name.c_str(), value, unit);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Median microseconds of `n` timed calls after n/10 untimed ones.
template <class Call>
double median_us(int n, Call call) {
  for (int i = 0; i < n / 10; ++i) call();
  std::vector<double> us;
  us.reserve(n);
  for (int i = 0; i < n; ++i) {
    const auto t0 = clock_type::now();
    call();
    us.push_back(us_since(t0));
  }
  return median(std::move(us));
}

struct Kernels {
  CUmodule mod = nullptr;
  CUfunction empty = nullptr, vecadd = nullptr;
};

Kernels load_kernels(const char* path) {
  Kernels k;
  CK(cuModuleLoad(&k.mod, path));
  CK(cuModuleGetFunction(&k.empty, k.mod, "empty"));
  CK(cuModuleGetFunction(&k.vecadd, k.mod, "vecadd"));
  return k;
}

void launch_empty(const Kernels& k) { CK(cuLaunchKernel(k.empty, 1, 1, 1, 1, 1, 1, 0, nullptr, nullptr, nullptr)); }

int info() {
  Dl_info dl{};
  const bool found = dladdr(reinterpret_cast<void*>(&cuInit), &dl) != 0 && dl.dli_fname != nullptr;
  std::printf("info library %s\n", found ? dl.dli_fname : "?");
  CK(cuInit(0));
  int version = 0;
  CK(cuDriverGetVersion(&version));
  CUdevice dev = 0;
  CK(cuDeviceGet(&dev, 0));
  char name[256] = {};
  CK(cuDeviceGetName(name, sizeof name, dev));
  size_t total = 0;
  CK(cuDeviceTotalMem_v2(&total, dev));
  std::printf("info cuda_version %d\ninfo gpu %s\ninfo total_mib %zu\n", version, name, total >> 20);
  return 0;
}

// GB/s (1e9 bytes/s): median of `reps` synchronous copies of `bytes`, after one warm-up copy.
double copy_gbps(bool htod, void* host, CUdeviceptr dev, size_t bytes, int reps) {
  std::vector<double> rates;
  for (int i = 0; i <= reps; ++i) {
    const auto t0 = clock_type::now();
    if (htod) CK(cuMemcpyHtoD_v2(dev, host, bytes));
    else CK(cuMemcpyDtoH_v2(host, dev, bytes));
    const double us = us_since(t0);
    if (i > 0) rates.push_back(double(bytes) / us / 1e3);
  }
  return median(std::move(rates));
}

void bandwidth(bool quick) {
  struct Size {
    const char* name;
    size_t bytes;
    int reps;
  };
  std::vector<Size> sizes = {{"1m", size_t(1) << 20, 50}, {"64m", size_t(64) << 20, 10}, {"1g", size_t(1) << 30, 3}};
  if (quick) sizes.pop_back();
  const size_t largest = sizes.back().bytes;
  CUdeviceptr dev = 0;
  CK(cuMemAlloc_v2(&dev, largest));
  std::vector<char> pageable(largest, 1);
  void* pinned = nullptr;
  CK(cuMemAllocHost_v2(&pinned, largest));
  std::memset(pinned, 1, largest);
  for (const Size& s : sizes) {
    metric(std::string("htod_pageable_") + s.name, copy_gbps(true, pageable.data(), dev, s.bytes, s.reps), "GB/s");
    metric(std::string("dtoh_pageable_") + s.name, copy_gbps(false, pageable.data(), dev, s.bytes, s.reps), "GB/s");
    metric(std::string("htod_pinned_") + s.name, copy_gbps(true, pinned, dev, s.bytes, s.reps), "GB/s");
    metric(std::string("dtoh_pinned_") + s.name, copy_gbps(false, pinned, dev, s.bytes, s.reps), "GB/s");
  }
  CK(cuMemFreeHost(pinned));
  CK(cuMemFree_v2(dev));
}

int measure(const char* module_path, bool quick) {
  setup_primary_context();
  const Kernels k = load_kernels(module_path);
  const int scale = quick ? 10 : 1;

  metric("ctx_sync_idle", median_us(20000 / scale, [] { CK(cuCtxSynchronize()); }), "us");
  size_t free_b = 0, total_b = 0;
  metric("mem_get_info", median_us(20000 / scale, [&] { CK(cuMemGetInfo_v2(&free_b, &total_b)); }), "us");
  metric("launch_sync", median_us(5000 / scale, [&] {
           launch_empty(k);
           CK(cuCtxSynchronize());
         }),
         "us");
  {  // 200k asynchronous launches, then one synchronize: launches completed per second.
    const int n = 200000 / scale;
    for (int i = 0; i < 1000; ++i) launch_empty(k);
    CK(cuCtxSynchronize());
    const auto t0 = clock_type::now();
    for (int i = 0; i < n; ++i) launch_empty(k);
    CK(cuCtxSynchronize());
    metric("launch_async_rate", n / (us_since(t0) / 1e6), "launches/s");
  }
  {  // c = a + b over 1M floats, launch + synchronize; the result is checked once.
    const int n = 1 << 20;
    CUdeviceptr a = 0, b = 0, c = 0;
    CK(cuMemAlloc_v2(&a, n * sizeof(float)));
    CK(cuMemAlloc_v2(&b, n * sizeof(float)));
    CK(cuMemAlloc_v2(&c, n * sizeof(float)));
    std::vector<float> ha(n), hb(n), hc(n);
    for (int i = 0; i < n; ++i) ha[i] = float(i), hb[i] = float(3 * i + 1);
    CK(cuMemcpyHtoD_v2(a, ha.data(), n * sizeof(float)));
    CK(cuMemcpyHtoD_v2(b, hb.data(), n * sizeof(float)));
    int nn = n;
    void* params[] = {&a, &b, &c, &nn};
    // Under the simulated driver each kernel runs on the CPU (~0.1 s in the sanitized tree): --quick takes 10.
    metric("vecadd_1m_sync", median_us(quick ? 10 : 1000, [&] {
             CK(cuLaunchKernel(k.vecadd, (n + 255) / 256, 1, 1, 256, 1, 1, 0, nullptr, params, nullptr));
             CK(cuCtxSynchronize());
           }),
           "us");
    CK(cuMemcpyDtoH_v2(hc.data(), c, n * sizeof(float)));
    for (int i = 0; i < n; ++i) REQUIRE_TRUE(hc[i] == ha[i] + hb[i], "vecadd c[%d] = %f", i, hc[i]);
    for (CUdeviceptr p : {a, b, c}) CK(cuMemFree_v2(p));
  }
  for (auto [name, bytes, n] : {std::tuple{"alloc_free_256b", size_t(256), 500},
                                std::tuple{"alloc_free_1m", size_t(1) << 20, 500},
                                std::tuple{"alloc_free_64m", size_t(64) << 20, 100}}) {
    metric(name, median_us(n / scale, [bytes = bytes] {
             CUdeviceptr p = 0;
             CK(cuMemAlloc_v2(&p, bytes));
             CK(cuMemFree_v2(p));
           }),
           "us");
  }
  {  // 4-byte synchronous copies: the latency of a copy, not its bandwidth.
    CUdeviceptr d = 0;
    CK(cuMemAlloc_v2(&d, 4));
    unsigned v = 7;
    metric("htod_4b", median_us(5000 / scale, [&] { CK(cuMemcpyHtoD_v2(d, &v, 4)); }), "us");
    metric("dtoh_4b", median_us(5000 / scale, [&] { CK(cuMemcpyDtoH_v2(&v, d, 4)); }), "us");
    REQUIRE_TRUE(v == 7, "4-byte round trip read %u", v);
    CK(cuMemFree_v2(d));
  }
  bandwidth(quick);
  CK(cuModuleUnload(k.mod));
  teardown_primary_context();
  return 0;
}

int64_t realtime_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

int loop(const char* module_path, int n, int64_t start_ns) {
  setup_primary_context();
  const Kernels k = load_kernels(module_path);
  for (int i = 0; i < 100; ++i) launch_empty(k);  // warm-up, before the common start
  CK(cuCtxSynchronize());
  while (realtime_ns() < start_ns) {
    const int64_t left = start_ns - realtime_ns();
    if (left > 2000000) usleep(1000);
  }
  std::vector<double> us;
  us.reserve(n);
  const auto t0 = clock_type::now();
  for (int i = 0; i < n; ++i) {
    const auto t = clock_type::now();
    launch_empty(k);
    CK(cuCtxSynchronize());
    us.push_back(us_since(t));
  }
  const double total_s = us_since(t0) / 1e6;
  metric("loop_max", *std::max_element(us.begin(), us.end()), "us");
  const Percentiles p = percentiles(std::move(us));
  metric("loop_p50", p.p50, "us");
  metric("loop_p99", p.p99, "us");
  metric("loop_rate", n / total_s, "launches/s");
  CK(cuModuleUnload(k.mod));
  teardown_primary_context();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "info" && argc == 2) return info();
  if (mode == "measure" && (argc == 3 || (argc == 4 && std::strcmp(argv[3], "--quick") == 0)))
    return measure(argv[2], argc == 4);
  if (mode == "loop" && argc == 5) {
    const int n = std::atoi(argv[3]);
    if (n > 0) return loop(argv[2], n, std::atoll(argv[4]));
  }
  std::fprintf(stderr,
               "usage: gpu_bench_probe info | measure MODULE [--quick] | loop MODULE N START_REALTIME_NS\n");
  return 2;
}
