// zone_bench: an ordinary CUDA driver-API program that measures the costs an application sees. scripts/bench.sh
// runs the same binary twice in one run, natively on the simulated driver (LD_LIBRARY_PATH=<build>/sim) and in a
// zone (xen-gpu run: libvgpu -> shm rings -> zone worker -> the same simulated driver), and compares.
//   sync       cuCtxSynchronize and cuMemGetInfo: per-call latency p50/p99, and untimed calls/s
//   launch     an empty one-thread kernel launched N times on the default stream, then one cuCtxSynchronize:
//              issue rate (launch calls/s) and completed launches/s (including the final synchronize)
//   copy       64 MiB cuMemcpyHtoD / cuMemcpyDtoH from pageable (malloc'd) and pinned (cuMemAllocHost) memory
//   share      (--share-seconds=S, alone) 1 MiB cuMemsetD32 calls back to back for S seconds: how much GPU work
//              a zone gets done; bench.sh runs it in zones of different weights at once
// Output: one `metric NAME VALUE UNIT` line per figure (machine-readable), nothing else on stdout.
// Usage: zone_bench [--sync-calls=N] [--launches=N] [--copy-mib=N] [--copy-reps=N] [KERNEL_MODULE]
//        zone_bench --share-seconds=S
//        (kernel module default: $XG_KERNELS; it must define `empty`, see bench_kernels.cc)
#include <cstring>
#include <string>
#include <vector>

#include "idm/testing/bench_stats.h"
#include "tests/cuda-programs/common.h"

using namespace xg::idm::bench;

namespace {

void metric(const char* name, double value, const char* unit) { std::printf("metric %s %.6g %s\n", name, value, unit); }

template <class Call>
void latency(const char* name, int n, Call call) {
  for (int i = 0; i < n / 10; ++i) CK(call());  // warm-up
  std::vector<double> us;
  us.reserve(n);
  for (int i = 0; i < n; ++i) {
    auto t0 = clock_type::now();
    CUresult r = call();
    us.push_back(us_since(t0));
    if (r != CUDA_SUCCESS) CK(r);
  }
  Percentiles p = percentiles(std::move(us));
  metric((std::string(name) + "_p50").c_str(), p.p50, "us");
  metric((std::string(name) + "_p99").c_str(), p.p99, "us");
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// GB/s (1e9 bytes/s), median of `reps` copies of `bytes`.
double copy_rate(bool htod, void* host, CUdeviceptr dev, size_t bytes, int reps) {
  std::vector<double> rates;
  for (int i = 0; i < reps + 1; ++i) {
    auto t0 = clock_type::now();
    if (htod) CK(cuMemcpyHtoD_v2(dev, host, bytes));
    else CK(cuMemcpyDtoH_v2(host, dev, bytes));
    const double us = us_since(t0);
    if (i > 0) rates.push_back(double(bytes) / us / 1e3);  // first copy is a warm-up
  }
  return median(rates);
}

// Synchronous 1 MiB memsets for `seconds`; prints how many completed.
int share(double seconds) {
  setup_primary_context();
  CUdeviceptr dev = 0;
  CK(cuMemAlloc_v2(&dev, 1 << 20));
  uint64_t n = 0;
  const auto t0 = clock_type::now();
  while (us_since(t0) < seconds * 1e6) {
    CK(cuMemsetD32_v2(dev, static_cast<unsigned>(n), (1 << 20) / 4));
    ++n;
  }
  metric("share_memsets", double(n), "memsets");
  CK(cuMemFree_v2(dev));
  teardown_primary_context();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int sync_calls = 200000, launches = 1000000, copy_reps = 5;
  double share_seconds = 0;
  size_t copy_mib = 64;
  const char* module_path = std::getenv("XG_KERNELS");
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    if (std::strncmp(a, "--sync-calls=", 13) == 0) sync_calls = std::atoi(a + 13);
    else if (std::strncmp(a, "--launches=", 11) == 0) launches = std::atoi(a + 11);
    else if (std::strncmp(a, "--copy-mib=", 11) == 0) copy_mib = size_t(std::atoll(a + 11));
    else if (std::strncmp(a, "--copy-reps=", 12) == 0) copy_reps = std::atoi(a + 12);
    else if (std::strncmp(a, "--share-seconds=", 16) == 0) share_seconds = std::atof(a + 16);
    else if (a[0] != '-') module_path = a;
    else {
      std::fprintf(stderr, "zone_bench: unknown option %s\n", a);
      return 2;
    }
  }
  if (share_seconds > 0) return share(share_seconds);
  if (module_path == nullptr || sync_calls < 10 || launches < 1 || copy_mib < 1 || copy_reps < 1) {
    std::fprintf(stderr, "usage: zone_bench [--sync-calls=N] [--launches=N] [--copy-mib=N] [--copy-reps=N] MODULE\n");
    return 2;
  }
  setup_primary_context();
  CUmodule mod = nullptr;
  CK(cuModuleLoad(&mod, module_path));
  CUfunction empty = nullptr;
  CK(cuModuleGetFunction(&empty, mod, "empty"));

  // (a) synchronous calls: latency per call.
  latency("ctx_sync", sync_calls, [] { return cuCtxSynchronize(); });
  size_t free_b = 0, total_b = 0;
  latency("mem_get_info", sync_calls, [&] { return cuMemGetInfo_v2(&free_b, &total_b); });
  // (b) synchronous calls/s, untimed loop.
  {
    auto t0 = clock_type::now();
    for (int i = 0; i < sync_calls; ++i) CK(cuCtxSynchronize());
    metric("ctx_sync_rate", sync_calls / (us_since(t0) / 1e6), "calls/s");
  }
  // (c) asynchronous launches of an empty one-thread kernel, then one synchronize.
  {
    for (int i = 0; i < 1000; ++i) CK(cuLaunchKernel(empty, 1, 1, 1, 1, 1, 1, 0, nullptr, nullptr, nullptr));
    CK(cuCtxSynchronize());
    auto t0 = clock_type::now();
    for (int i = 0; i < launches; ++i) CK(cuLaunchKernel(empty, 1, 1, 1, 1, 1, 1, 0, nullptr, nullptr, nullptr));
    const double issue_us = us_since(t0);
    CK(cuCtxSynchronize());
    const double total_us = us_since(t0);
    metric("launch_issue_rate", launches / (issue_us / 1e6), "launches/s");
    metric("launch_rate", launches / (total_us / 1e6), "launches/s");
  }
  // (d) 64 MiB copies, pageable and pinned.
  {
    const size_t bytes = copy_mib << 20;
    CUdeviceptr dev = 0;
    CK(cuMemAlloc_v2(&dev, bytes));
    std::vector<char> pageable(bytes, 1);
    void* pinned = nullptr;
    CK(cuMemAllocHost_v2(&pinned, bytes));
    std::memset(pinned, 1, bytes);
    metric("htod_pageable", copy_rate(true, pageable.data(), dev, bytes, copy_reps), "GB/s");
    metric("dtoh_pageable", copy_rate(false, pageable.data(), dev, bytes, copy_reps), "GB/s");
    metric("htod_pinned", copy_rate(true, pinned, dev, bytes, copy_reps), "GB/s");
    metric("dtoh_pinned", copy_rate(false, pinned, dev, bytes, copy_reps), "GB/s");
    CK(cuMemFreeHost(pinned));
    CK(cuMemFree_v2(dev));
  }
  CK(cuModuleUnload(mod));
  teardown_primary_context();
  return 0;
}
