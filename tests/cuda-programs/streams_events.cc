// Two streams, events, timing and cross-stream waits: work really runs asynchronously, elapsed time covers it,
// and cuStreamWaitEvent orders the second stream after the first.
#include <vector>

#include "common.h"

int main(int argc, char** argv) {
  const char* path = kernel_module_path(argc, argv);
  setup_primary_context();
  CUmodule mod = nullptr;
  CK(cuModuleLoad(&mod, path));
  CUfunction spin = nullptr, iota = nullptr;
  CK(cuModuleGetFunction(&spin, mod, "spin"));
  CK(cuModuleGetFunction(&iota, mod, "iota_u32"));

  CUstream producer = nullptr, consumer = nullptr;
  CK(cuStreamCreate(&producer, CU_STREAM_NON_BLOCKING));
  CK(cuStreamCreateWithPriority(&consumer, CU_STREAM_NON_BLOCKING, 0));
  CUevent start = nullptr, done = nullptr;
  CK(cuEventCreate(&start, CU_EVENT_DEFAULT));
  CK(cuEventCreate(&done, CU_EVENT_DEFAULT));

  const size_t n = 1 << 16;
  CUdeviceptr buf = 0;
  CK(cuMemAlloc_v2(&buf, n * sizeof(unsigned)));
  void* pinned = nullptr;
  CK(cuMemHostAlloc(&pinned, n * sizeof(unsigned), 0));

  // producer: [start] spin 100 ms, fill buf with iota [done]; consumer: wait(done), copy buf to pinned memory.
  unsigned long long spin_us = 100000;
  void* spin_args[] = {&spin_us};
  unsigned first = 7;
  size_t count = n;
  void* iota_args[] = {&buf, &first, &count};
  CK(cuEventRecord(start, producer));
  CK(cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, producer, spin_args, nullptr));
  CK(cuLaunchKernel(iota, unsigned((n + 255) / 256), 1, 1, 256, 1, 1, 0, producer, iota_args, nullptr));
  CK(cuEventRecord(done, producer));
  CK(cuStreamWaitEvent(consumer, done, 0));
  CK(cuMemcpyDtoHAsync_v2(pinned, buf, n * sizeof(unsigned), consumer));

  EXPECT_RESULT(cuStreamQuery(producer), CUDA_ERROR_NOT_READY);
  EXPECT_RESULT(cuEventQuery(done), CUDA_ERROR_NOT_READY);
  float ms = 0;
  EXPECT_RESULT(cuEventElapsedTime(&ms, start, done), CUDA_ERROR_NOT_READY);

  CK(cuStreamSynchronize(consumer));
  CK(cuEventQuery(done));  // the consumer could only finish after `done`
  const unsigned* out = static_cast<const unsigned*>(pinned);
  for (size_t i = 0; i < n; ++i) REQUIRE_TRUE(out[i] == 7 + i, "out[%zu] = %u", i, out[i]);
  CK(cuEventElapsedTime(&ms, start, done));
  REQUIRE_TRUE(ms >= 100.0f && ms < 60000.0f, "elapsed %f ms, expected >= 100", double(ms));
  CK(cuStreamQuery(producer));

  CK(cuEventDestroy_v2(start));
  CK(cuEventDestroy_v2(done));
  CK(cuStreamDestroy_v2(producer));
  CK(cuStreamDestroy_v2(consumer));
  CK(cuMemFreeHost(pinned));
  CK(cuMemFree_v2(buf));
  CK(cuModuleUnload(mod));
  teardown_primary_context();
  std::printf("streams_events: OK (elapsed %.1f ms)\n", double(ms));
  return 0;
}
