// Demo: allocates device memory in CHUNK_MIB pieces (default 16) until the driver refuses. In a zone the
// refusal must be CUDA_ERROR_OUT_OF_MEMORY exactly when the next chunk would exceed what cuMemGetInfo reported
// free at the start (inside a zone: its quota less what it holds); after freeing one chunk, allocating it again must succeed.
// Exits 0 when exactly that was seen.
#include <vector>

#include "demo_common.h"

int main(int argc, char** argv) {
  const size_t chunk = size_t(argc > 1 ? std::atoi(argv[1]) : 16) << 20;
  setup_primary_context();
  size_t free_b = 0, total_b = 0;
  CK(cuMemGetInfo_v2(&free_b, &total_b));
  std::vector<CUdeviceptr> held;
  CUresult refused = CUDA_SUCCESS;
  for (size_t i = 0; i < 4096 && refused == CUDA_SUCCESS; ++i) {
    CUdeviceptr p = 0;
    refused = cuMemAlloc_v2(&p, chunk);
    if (refused == CUDA_SUCCESS) held.push_back(p);
  }
  const size_t got = held.size() * chunk;
  const char* name = nullptr;
  if (cuGetErrorName(refused, &name) != CUDA_SUCCESS || name == nullptr) name = "?";
  bool again = false;
  if (!held.empty()) {
    CK(cuMemFree_v2(held.back()));
    held.pop_back();
    CUdeviceptr p = 0;
    again = cuMemAlloc_v2(&p, chunk) == CUDA_SUCCESS;
    if (again) held.push_back(p);
  }
  for (CUdeviceptr p : held) CK(cuMemFree_v2(p));
  teardown_primary_context();
  const bool ok = refused == CUDA_ERROR_OUT_OF_MEMORY && got <= free_b && got + chunk > free_b && again;
  std::printf("oom:    %s  allocated %zu MiB of a %zu MiB quota in %zu MiB chunks; the next one -> %s%s; "
              "after a free, allocating again %s\n",
              ok ? "PASS" : "FAIL", got >> 20, total_b >> 20, chunk >> 20, name,
              refused == CUDA_ERROR_OUT_OF_MEMORY ? " (as expected)" : " (expected CUDA_ERROR_OUT_OF_MEMORY)",
              again ? "succeeds" : "FAILS");
  return ok ? 0 : 1;
}
