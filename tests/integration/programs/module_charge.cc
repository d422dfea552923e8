// A zone program: a module's image counts against the zone's quota while it is loaded. cuMemGetInfo's free
// memory drops by at least the image's size when the module is loaded and comes back exactly when it is unloaded.
// Usage: module_charge [KERNEL_MODULE]   (or $XG_KERNELS)
#include <sys/stat.h>

#include <cstdio>

#include "tests/cuda-programs/common.h"

int main(int argc, char** argv) {
  const char* path = kernel_module_path(argc, argv);
  struct stat st{};
  if (::stat(path, &st) != 0) return 2;
  setup_primary_context();
  size_t free0 = 0, free1 = 0, free2 = 0, total = 0;
  CK(cuMemGetInfo_v2(&free0, &total));
  CUmodule m = nullptr;
  CK(cuModuleLoad(&m, path));
  CK(cuMemGetInfo_v2(&free1, &total));
  CK(cuModuleUnload(m));
  CK(cuMemGetInfo_v2(&free2, &total));
  const size_t image = static_cast<size_t>(st.st_size);
  std::printf("module of %zu bytes: free %zu -> %zu while loaded -> %zu after unloading\n", image, free0, free1, free2);
  if (free0 < free1 || free0 - free1 < image || free2 != free0) {
    std::printf("FAIL: the module's image is not charged to the zone while it is loaded\n");
    return 1;
  }
  teardown_primary_context();
  std::printf("PASS: a module's image counts against the zone's quota while it is loaded\n");
  return 0;
}
