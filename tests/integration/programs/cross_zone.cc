// Two pods' zones cannot reach each other's GPU memory: one program holds an allocation, a program of another zone
// is handed its device address and tries to read, write and copy from it. Used by the real-Xen pod checks
// (tests/xen/vm/pod-checks.sh), where the two programs run in two pods, i.e. two PV domains.
//
//   cross_zone hold RELEASE_FILE   allocates 1 MiB, fills it with 0xA5, prints "hold ptr=0x... bytes=N", waits
//                                  (at most 5 minutes) until RELEASE_FILE exists, then checks the bytes are still
//                                  all 0xA5: prints "hold intact" and exits 0, or "hold changed at N" and exits 1.
//   cross_zone peek PTR            in its own context, reads 16 bytes at PTR, writes there, copies from there to
//                                  its own allocation (after doing the same to its own memory, which must work);
//                                  prints each result; exits 0 only when all three were refused, 1 otherwise.
// Exit 2: usage; 3: cuInit or the context failed.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <thread>
#include <vector>

#include "cuda/cuda_abi.h"

namespace {

constexpr size_t kBytes = 1 << 20;
constexpr unsigned char kFill = 0xA5;

const char* name_of(CUresult r) {
  const char* n = nullptr;
  return cuGetErrorName(r, &n) == CUDA_SUCCESS && n ? n : "?";
}

int hold(const char* release) {
  CUdeviceptr p = 0;
  if (cuMemAlloc_v2(&p, kBytes) != CUDA_SUCCESS || cuMemsetD8_v2(p, kFill, kBytes) != CUDA_SUCCESS ||
      cuCtxSynchronize() != CUDA_SUCCESS)
    return 3;
  std::printf("hold ptr=0x%llx bytes=%zu\n", static_cast<unsigned long long>(p), kBytes);
  std::fflush(stdout);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  while (::access(release, F_OK) != 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::vector<unsigned char> back(kBytes);
  if (CUresult r = cuMemcpyDtoH_v2(back.data(), p, kBytes); r != CUDA_SUCCESS) {
    std::printf("hold read-back %s\n", name_of(r));
    return 1;
  }
  for (size_t i = 0; i < kBytes; ++i)
    if (back[i] != kFill) {
      std::printf("hold changed at %zu\n", i);
      return 1;
    }
  std::printf("hold intact\n");
  return cuMemFree_v2(p) == CUDA_SUCCESS ? 0 : 1;
}

int peek(const char* ptr_text) {
  char* end = nullptr;
  const unsigned long long v = std::strtoull(ptr_text, &end, 0);
  if (!end || *end != '\0' || v == 0) return 2;
  const CUdeviceptr foreign = v;
  unsigned char buf[16] = {};
  CUdeviceptr own = 0, own2 = 0;
  if (cuMemAlloc_v2(&own, sizeof buf) != CUDA_SUCCESS || cuMemAlloc_v2(&own2, sizeof buf) != CUDA_SUCCESS) return 3;
  // The same three operations on our own memory first: they must work, or a refusal below would prove nothing.
  const bool own_ok = cuMemsetD8_v2(own2, 0x5A, sizeof buf) == CUDA_SUCCESS &&
                      cuMemcpyDtoD_v2(own, own2, sizeof buf) == CUDA_SUCCESS &&
                      cuMemcpyDtoH_v2(buf, own, sizeof buf) == CUDA_SUCCESS && buf[0] == 0x5A && buf[15] == 0x5A;
  const CUresult read = cuMemcpyDtoH_v2(buf, foreign, sizeof buf);
  const CUresult write = cuMemsetD8_v2(foreign, 0x5A, sizeof buf);
  const CUresult copy = cuMemcpyDtoD_v2(own, foreign, sizeof buf);
  const CUresult sync = cuCtxSynchronize();  // a refused call must not have poisoned the context
  std::printf("peek own=%s read=%s write=%s copy=%s then sync=%s\n", own_ok ? "ok" : "FAILED", name_of(read),
              name_of(write), name_of(copy), name_of(sync));
  const bool refused = read != CUDA_SUCCESS && write != CUDA_SUCCESS && copy != CUDA_SUCCESS;
  return own_ok && refused && sync == CUDA_SUCCESS ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  if (cuInit(0) != CUDA_SUCCESS) return 3;
  CUcontext ctx = nullptr;
  if (cuDevicePrimaryCtxRetain(&ctx, 0) != CUDA_SUCCESS || cuCtxSetCurrent(ctx) != CUDA_SUCCESS) return 3;
  const std::string_view mode = argv[1];
  if (mode == "hold") return hold(argv[2]);
  if (mode == "peek") return peek(argv[2]);
  return 2;
}
