// cuModuleLoadData from bytes in memory, cuModuleGetGlobal to set a module variable, a launch with the packed
// `extra` parameter buffer laid out from cuFuncGetParamInfo, and the library API on the same image.
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include "common.h"

int main(int argc, char** argv) {
  const char* path = kernel_module_path(argc, argv);
  std::ifstream file(path, std::ios::binary);
  REQUIRE_TRUE(file.good(), "cannot read %s", path);
  std::vector<char> image((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  setup_primary_context();

  CUmodule mod = nullptr;
  CK(cuModuleLoadData(&mod, image.data()));
  CUdeviceptr scale = 0;
  size_t scale_size = 0;
  CK(cuModuleGetGlobal_v2(&scale, &scale_size, mod, "g_scale"));
  REQUIRE_TRUE(scale_size == sizeof(float), "g_scale is %zu bytes", scale_size);
  const float factor = 2.5f;
  CK(cuMemcpyHtoD_v2(scale, &factor, sizeof factor));

  CUfunction f = nullptr;
  CK(cuModuleGetFunction(&f, mod, "scale_by_global"));  // (float* p, int n)
  size_t off[2], size[2];
  for (size_t i = 0; i < 2; ++i) CK(cuFuncGetParamInfo(f, i, &off[i], &size[i]));
  REQUIRE_TRUE(size[0] == sizeof(void*) && size[1] == sizeof(int), "param sizes %zu %zu", size[0], size[1]);

  const int n = 1000;
  std::vector<float> data(n);
  for (int i = 0; i < n; ++i) data[i] = float(i);
  CUdeviceptr d = 0;
  CK(cuMemAlloc_v2(&d, n * sizeof(float)));
  CK(cuMemcpyHtoD_v2(d, data.data(), n * sizeof(float)));
  alignas(8) unsigned char buffer[64] = {};
  std::memcpy(buffer + off[0], &d, size[0]);
  std::memcpy(buffer + off[1], &n, size[1]);
  size_t buffer_size = off[1] + size[1];
  void* extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, buffer, CU_LAUNCH_PARAM_BUFFER_SIZE, &buffer_size,
                   CU_LAUNCH_PARAM_END};
  CK(cuLaunchKernel(f, (n + 127) / 128, 1, 1, 128, 1, 1, 0, nullptr, nullptr, extra));
  CK(cuMemcpyDtoH_v2(data.data(), d, n * sizeof(float)));
  for (int i = 0; i < n; ++i) REQUIRE_TRUE(data[i] == 2.5f * float(i), "data[%d] = %f", i, double(data[i]));
  unsigned launches = 0;
  CUdeviceptr counter = 0;
  CK(cuModuleGetGlobal_v2(&counter, nullptr, mod, "g_launches"));
  CK(cuMemcpyDtoH_v2(&launches, counter, sizeof launches));
  REQUIRE_TRUE(launches == 1, "g_launches = %u", launches);
  CK(cuModuleUnload(mod));

  // The same bytes through the library API (context-independent loading).
  CUlibrary lib = nullptr;
  CK(cuLibraryLoadData(&lib, image.data(), nullptr, nullptr, 0, nullptr, nullptr, 0));
  CUkernel kernel = nullptr;
  CK(cuLibraryGetKernel(&kernel, lib, "fill_u32"));
  CK(cuKernelGetFunction(&f, kernel));
  unsigned value = 0x5a5a5a5a;
  size_t count = n;
  void* args[] = {&d, &value, &count};
  CK(cuLaunchKernel(f, (n + 255) / 256, 1, 1, 256, 1, 1, 0, nullptr, args, nullptr));
  std::vector<unsigned> words(n);
  CK(cuMemcpyDtoH_v2(words.data(), d, n * sizeof(unsigned)));
  for (int i = 0; i < n; ++i) REQUIRE_TRUE(words[i] == value, "words[%d] = %x", i, words[i]);
  CK(cuLibraryUnload(lib));

  CK(cuMemFree_v2(d));
  teardown_primary_context();
  std::printf("module_data: OK\n");
  return 0;
}
