// Tests of the simulated CUDA driver through its exported C ABI, the way programs and the proxy use it.
// The first test case must run before anything calls cuInit (doctest runs cases in file order).
#include <doctest/doctest.h>
#include <elf.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "cuda/cuda_abi.h"

namespace {

#define CU_OK(expr) REQUIRE_EQ((expr), CUDA_SUCCESS)

using Clock = std::chrono::steady_clock;

// Makes the primary context current for one test; releases it afterwards.
struct PrimaryCtx {
  CUcontext ctx = nullptr;
  PrimaryCtx() {
    CU_OK(cuInit(0));
    CU_OK(cuDevicePrimaryCtxRetain(&ctx, 0));
    CU_OK(cuCtxSetCurrent(ctx));
  }
  ~PrimaryCtx() {
    cuCtxSetCurrent(nullptr);
    cuDevicePrimaryCtxRelease_v2(0);
  }
};

// The demo kernel module, loaded from its file path.
struct Demo : PrimaryCtx {
  CUmodule mod = nullptr;
  Demo() { CU_OK(cuModuleLoad(&mod, XG_SIM_DEMO_KERNELS)); }
  ~Demo() { cuModuleUnload(mod); }
  CUfunction fn(const char* name) {
    CUfunction f = nullptr;
    CU_OK(cuModuleGetFunction(&f, mod, name));
    return f;
  }
};

void launch_spin(CUfunction spin, CUstream s, unsigned long long us) {
  void* args[] = {&us};
  CU_OK(cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, s, args, nullptr));
}

std::vector<char> read_file(const char* path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("before cuInit: NOT_INITIALIZED, except version, errors and proc-address queries") {
  int n = -1;
  CHECK_EQ(cuDeviceGetCount(&n), CUDA_ERROR_NOT_INITIALIZED);
  CUdeviceptr p = 0;
  CHECK_EQ(cuMemAlloc_v2(&p, 16), CUDA_ERROR_NOT_INITIALIZED);
  CHECK_EQ(cuCtxSynchronize(), CUDA_ERROR_NOT_INITIALIZED);
  int v = 0;
  CU_OK(cuDriverGetVersion(&v));
  CHECK_EQ(v, CUDA_VERSION);
  const char* s = nullptr;
  CU_OK(cuGetErrorName(CUDA_ERROR_NOT_INITIALIZED, &s));
  CHECK_EQ(std::string(s), "CUDA_ERROR_NOT_INITIALIZED");
  void* fn = nullptr;
  CU_OK(cuGetProcAddress_v2("cuInit", &fn, 12040, 0, nullptr));
  CHECK_EQ(fn, reinterpret_cast<void*>(&cuInit));
}

TEST_CASE("cuInit and the simulated device") {
  CHECK_EQ(cuInit(1), CUDA_ERROR_INVALID_VALUE);
  CU_OK(cuInit(0));
  CU_OK(cuInit(0));
  int n = 0;
  CU_OK(cuDeviceGetCount(&n));
  CHECK_EQ(n, 1);
  CUdevice dev = -1;
  CU_OK(cuDeviceGet(&dev, 0));
  CHECK_EQ(dev, 0);
  CHECK_EQ(cuDeviceGet(&dev, 1), CUDA_ERROR_INVALID_DEVICE);
  char name[64];
  CU_OK(cuDeviceGetName(name, sizeof name, 0));
  CHECK_EQ(std::string(name), "xen-gpu simulated device");
  CU_OK(cuDeviceGetName(name, 4, 0));
  CHECK_EQ(std::string(name), "xen");
  CHECK_EQ(cuDeviceGetName(name, 0, 0), CUDA_ERROR_INVALID_VALUE);
  CUuuid a{}, b{};
  CU_OK(cuDeviceGetUuid(&a, 0));
  CU_OK(cuDeviceGetUuid_v2(&b, 0));
  CHECK(std::memcmp(a.bytes, b.bytes, 16) == 0);
  size_t total = 0;
  CU_OK(cuDeviceTotalMem_v2(&total, 0));
  CHECK_EQ(total, size_t(16384) << 20);
  int major = 0, minor = -1, v = 0;
  CU_OK(cuDeviceComputeCapability(&major, &minor, 0));
  CHECK_EQ(major, 9);
  CHECK_EQ(minor, 0);
  CU_OK(cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, 0));
  CHECK_EQ(v, 132);
  CU_OK(cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_WARP_SIZE, 0));
  CHECK_EQ(v, 32);
  CU_OK(cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, 0));
  CHECK_EQ(v, 1024);
  CU_OK(cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING, 0));
  CHECK_EQ(v, 1);
  CHECK_EQ(cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_MAX, 0), CUDA_ERROR_INVALID_VALUE);
  CHECK_EQ(cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_WARP_SIZE, 3), CUDA_ERROR_INVALID_DEVICE);
}

TEST_CASE("contexts: none current, primary retain/release, create/push/pop/destroy") {
  CU_OK(cuInit(0));
  CUcontext cur = reinterpret_cast<CUcontext>(1);
  CU_OK(cuCtxGetCurrent(&cur));
  CHECK_EQ(cur, nullptr);
  CUdeviceptr p = 0;
  CHECK_EQ(cuMemAlloc_v2(&p, 64), CUDA_ERROR_INVALID_CONTEXT);
  CHECK_EQ(cuCtxPopCurrent_v2(&cur), CUDA_ERROR_INVALID_CONTEXT);

  unsigned flags = 99;
  int active = 1;
  CU_OK(cuDevicePrimaryCtxGetState(0, &flags, &active));
  CHECK_EQ(active, 0);
  CU_OK(cuDevicePrimaryCtxSetFlags_v2(0, CU_CTX_SCHED_BLOCKING_SYNC));
  CHECK_EQ(cuDevicePrimaryCtxSetFlags_v2(0, 0x1000), CUDA_ERROR_INVALID_VALUE);
  {
    PrimaryCtx pc;
    CU_OK(cuDevicePrimaryCtxGetState(0, &flags, &active));
    CHECK_EQ(active, 1);
    CHECK_EQ(flags, unsigned(CU_CTX_SCHED_BLOCKING_SYNC));
    CU_OK(cuCtxGetFlags(&flags));
    CHECK_EQ(flags, unsigned(CU_CTX_SCHED_BLOCKING_SYNC));
    CUdevice dev = -1;
    CU_OK(cuCtxGetDevice(&dev));
    CHECK_EQ(dev, 0);
    unsigned api = 0;
    CU_OK(cuCtxGetApiVersion(nullptr, &api));
    CHECK_EQ(api, 3020u);
    size_t lim = 0;
    CU_OK(cuCtxSetLimit(CU_LIMIT_STACK_SIZE, 4096));
    CU_OK(cuCtxGetLimit(&lim, CU_LIMIT_STACK_SIZE));
    CHECK_EQ(lim, 4096u);
    CHECK_EQ(cuCtxGetLimit(&lim, CUlimit(42)), CUDA_ERROR_UNSUPPORTED_LIMIT);
    CU_OK(cuCtxSynchronize());
  }
  CU_OK(cuDevicePrimaryCtxGetState(0, &flags, &active));
  CHECK_EQ(active, 0);
  CHECK_EQ(cuDevicePrimaryCtxRelease_v2(0), CUDA_ERROR_INVALID_CONTEXT);  // refcount already 0
  CU_OK(cuDevicePrimaryCtxSetFlags_v2(0, 0));

  CUcontext c1 = nullptr, c2 = nullptr;
  CU_OK(cuCtxCreate_v2(&c1, 0, 0));
  CU_OK(cuCtxGetCurrent(&cur));
  CHECK_EQ(cur, c1);
  CU_OK(cuCtxCreate_v2(&c2, 0, 0));
  CU_OK(cuCtxPopCurrent_v2(&cur));
  CHECK_EQ(cur, c2);
  CU_OK(cuCtxGetCurrent(&cur));
  CHECK_EQ(cur, c1);
  CU_OK(cuCtxPushCurrent_v2(c2));
  CU_OK(cuMemAlloc_v2(&p, 1000));  // freed with its context
  CU_OK(cuCtxDestroy_v2(c2));      // current: popped
  CU_OK(cuCtxGetCurrent(&cur));
  CHECK_EQ(cur, c1);
  CHECK_EQ(cuCtxPushCurrent_v2(c2), CUDA_ERROR_INVALID_CONTEXT);
  CHECK_EQ(cuCtxDestroy_v2(c2), CUDA_ERROR_INVALID_CONTEXT);
  CHECK_EQ(cuCtxCreate_v2(&c2, 0, 7), CUDA_ERROR_INVALID_DEVICE);
  CU_OK(cuCtxDestroy_v2(c1));
  CU_OK(cuCtxGetCurrent(&cur));
  CHECK_EQ(cur, nullptr);
}

TEST_CASE("device memory: alloc, free, info, address range, pitch, errors") {
  PrimaryCtx pc;
  size_t free0 = 0, total = 0, free1 = 0;
  CU_OK(cuMemGetInfo_v2(&free0, &total));
  CHECK_EQ(total, size_t(16384) << 20);
  CUdeviceptr a = 0, b = 0;
  CU_OK(cuMemAlloc_v2(&a, 1000));
  CU_OK(cuMemAlloc_v2(&b, 1 << 20));
  CHECK_EQ(a % 256, 0u);
  CHECK_EQ(b % 256, 0u);
  CU_OK(cuMemGetInfo_v2(&free1, &total));
  CHECK_LE(free1, free0 - (1 << 20) - 1000);
  CUdeviceptr base = 0;
  size_t size = 0;
  CU_OK(cuMemGetAddressRange_v2(&base, &size, b + 12345));
  CHECK_EQ(base, b);
  CHECK_EQ(size, size_t(1 << 20));
  CHECK_EQ(cuMemGetAddressRange_v2(&base, &size, b + (1 << 20)), CUDA_ERROR_NOT_FOUND);
  CHECK_EQ(cuMemAlloc_v2(&a, 0), CUDA_ERROR_INVALID_VALUE);
  CUdeviceptr huge = 0;
  CHECK_EQ(cuMemAlloc_v2(&huge, size_t(1) << 40), CUDA_ERROR_OUT_OF_MEMORY);
  CHECK_EQ(cuMemFree_v2(b + 16), CUDA_ERROR_INVALID_VALUE);  // not the start of an allocation
  CU_OK(cuMemFree_v2(b));
  CHECK_EQ(cuMemFree_v2(b), CUDA_ERROR_INVALID_VALUE);  // double free
  CU_OK(cuMemFree_v2(a));
  CU_OK(cuMemGetInfo_v2(&free1, &total));
  CHECK_EQ(free1, free0);

  CUdeviceptr pitched = 0;
  size_t pitch = 0;
  CU_OK(cuMemAllocPitch_v2(&pitched, &pitch, 100, 10, 4));
  CHECK_GE(pitch, 100u);
  CHECK_EQ(pitch % 256, 0u);
  CHECK_EQ(cuMemAllocPitch_v2(&a, &pitch, 100, 10, 3), CUDA_ERROR_INVALID_VALUE);
  CU_OK(cuMemFree_v2(pitched));
}

TEST_CASE("copies and memsets: data round trips and range checks") {
  PrimaryCtx pc;
  constexpr size_t n = 4096;
  std::vector<unsigned char> host(n), back(n);
  for (size_t i = 0; i < n; ++i) host[i] = static_cast<unsigned char>(i * 7);
  CUdeviceptr d1 = 0, d2 = 0;
  CU_OK(cuMemAlloc_v2(&d1, n));
  CU_OK(cuMemAlloc_v2(&d2, n));
  CU_OK(cuMemcpyHtoD_v2(d1, host.data(), n));
  CU_OK(cuMemcpyDtoD_v2(d2, d1, n));
  CU_OK(cuMemcpyDtoH_v2(back.data(), d2, n));
  CHECK(back == host);
  // Out of range, unknown and freed pointers are refused before any byte moves.
  CHECK_EQ(cuMemcpyHtoD_v2(d1 + 1, host.data(), n), CUDA_ERROR_INVALID_VALUE);
  CHECK_EQ(cuMemcpyDtoH_v2(back.data(), d1 + n - 1, 2), CUDA_ERROR_INVALID_VALUE);  // straddles d1 and d2
  CHECK_EQ(cuMemcpyDtoD_v2(d2, 0x1000, 16), CUDA_ERROR_INVALID_VALUE);
  CHECK_EQ(cuMemsetD8_v2(d1 + n - 1, 0, 2), CUDA_ERROR_INVALID_VALUE);
  CHECK_EQ(cuMemsetD32_v2(d1 + 2, 0, 1), CUDA_ERROR_INVALID_VALUE);  // misaligned
  CHECK_EQ(cuMemsetD16_v2(d1 + 1, 0, 1), CUDA_ERROR_INVALID_VALUE);
  CU_OK(cuMemcpyHtoD_v2(d1, host.data(), 0));

  CU_OK(cuMemsetD8_v2(d1, 0xab, n));
  CU_OK(cuMemsetD16_v2(d1 + 2, 0x1234, 2));
  CU_OK(cuMemsetD32_v2(d1 + 8, 0xdeadbeef, 1));
  CU_OK(cuMemcpyDtoH_v2(back.data(), d1, 16));
  unsigned short s = 0;
  unsigned w = 0;
  std::memcpy(&s, back.data() + 4, 2);
  std::memcpy(&w, back.data() + 8, 4);
  CHECK_EQ(back[0], 0xab);
  CHECK_EQ(s, 0x1234);
  CHECK_EQ(w, 0xdeadbeefu);
  CHECK_EQ(back[12], 0xab);

  // Unified cuMemcpy takes device and host pointers alike.
  CU_OK(cuMemcpy(d2, reinterpret_cast<CUdeviceptr>(host.data()), n));
  CU_OK(cuMemcpy(reinterpret_cast<CUdeviceptr>(back.data()), d2, n));
  CHECK(back == host);
  CHECK_EQ(cuMemcpy(d2 + 8, d1, n), CUDA_ERROR_INVALID_VALUE);

  // 2D: an 8x4 window of a 16-byte-pitch host image into a pitched device buffer and back.
  CUdeviceptr img = 0;
  size_t pitch = 0;
  CU_OK(cuMemAllocPitch_v2(&img, &pitch, 8, 4, 4));
  CUDA_MEMCPY2D cp{};
  cp.srcMemoryType = CU_MEMORYTYPE_HOST;
  cp.srcHost = host.data();
  cp.srcPitch = 16;
  cp.srcXInBytes = 2;
  cp.srcY = 1;
  cp.dstMemoryType = CU_MEMORYTYPE_DEVICE;
  cp.dstDevice = img;
  cp.dstPitch = pitch;
  cp.WidthInBytes = 8;
  cp.Height = 4;
  CU_OK(cuMemcpy2D_v2(&cp));
  std::vector<unsigned char> out(32);
  CUDA_MEMCPY2D back2{};
  back2.srcMemoryType = CU_MEMORYTYPE_DEVICE;
  back2.srcDevice = img;
  back2.srcPitch = pitch;
  back2.dstMemoryType = CU_MEMORYTYPE_HOST;
  back2.dstHost = out.data();
  back2.dstPitch = 8;
  back2.WidthInBytes = 8;
  back2.Height = 4;
  CU_OK(cuMemcpy2DAsync_v2(&back2, nullptr));
  CU_OK(cuStreamSynchronize(nullptr));
  for (size_t r = 0; r < 4; ++r)
    for (size_t c = 0; c < 8; ++c) CHECK_EQ(out[r * 8 + c], host[(r + 1) * 16 + 2 + c]);
  back2.Height = 1u << 20;  // runs off the allocation
  CHECK_EQ(cuMemcpy2D_v2(&back2), CUDA_ERROR_INVALID_VALUE);
  back2.srcMemoryType = CU_MEMORYTYPE_ARRAY;
  CHECK_EQ(cuMemcpy2D_v2(&back2), CUDA_ERROR_NOT_SUPPORTED);
  CU_OK(cuMemFree_v2(img));
  CU_OK(cuMemFree_v2(d1));
  CU_OK(cuMemFree_v2(d2));
}

TEST_CASE("pinned host memory and pointer attributes") {
  PrimaryCtx pc;
  void* h = nullptr;
  CU_OK(cuMemHostAlloc(&h, 1000, CU_MEMHOSTALLOC_DEVICEMAP));
  CUdeviceptr dp = 0;
  CU_OK(cuMemHostGetDevicePointer_v2(&dp, h, 0));
  CHECK_EQ(dp, reinterpret_cast<CUdeviceptr>(h));
  unsigned type = 0;
  CU_OK(cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, dp));
  CHECK_EQ(type, unsigned(CU_MEMORYTYPE_HOST));
  CU_OK(cuMemsetD8_v2(dp, 7, 1000));  // the device can address pinned memory
  CHECK_EQ(static_cast<unsigned char*>(h)[999], 7);
  CHECK_EQ(cuMemFreeHost(static_cast<char*>(h) + 1), CUDA_ERROR_INVALID_VALUE);
  CU_OK(cuMemFreeHost(h));
  CU_OK(cuMemAllocHost_v2(&h, 64));
  CU_OK(cuMemFreeHost(h));

  std::vector<char> buf(8192);
  CU_OK(cuMemHostRegister_v2(buf.data(), buf.size(), 0));
  CHECK_EQ(cuMemHostRegister_v2(buf.data() + 10, 10, 0), CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED);
  CU_OK(cuMemHostGetDevicePointer_v2(&dp, buf.data() + 100, 0));
  CHECK_EQ(dp, reinterpret_cast<CUdeviceptr>(buf.data() + 100));
  CU_OK(cuMemHostUnregister(buf.data()));
  CHECK_EQ(cuMemHostUnregister(buf.data()), CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED);
  CHECK_EQ(cuMemHostGetDevicePointer_v2(&dp, buf.data(), 0), CUDA_ERROR_INVALID_VALUE);

  CUdeviceptr d = 0;
  CU_OK(cuMemAlloc_v2(&d, 512));
  CUcontext ctx = nullptr;
  CU_OK(cuPointerGetAttribute(&ctx, CU_POINTER_ATTRIBUTE_CONTEXT, d + 8));
  CHECK_EQ(ctx, pc.ctx);
  CU_OK(cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, d + 8));
  CHECK_EQ(type, unsigned(CU_MEMORYTYPE_DEVICE));
  void* hp = nullptr;
  CHECK_EQ(cuPointerGetAttribute(&hp, CU_POINTER_ATTRIBUTE_HOST_POINTER, d), CUDA_ERROR_INVALID_VALUE);
  CHECK_EQ(cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, 0x10), CUDA_ERROR_INVALID_VALUE);
  CUpointer_attribute attrs[] = {CU_POINTER_ATTRIBUTE_RANGE_START_ADDR, CU_POINTER_ATTRIBUTE_RANGE_SIZE,
                                 CU_POINTER_ATTRIBUTE_BUFFER_ID, CU_POINTER_ATTRIBUTE_MEMORY_TYPE};
  void* start = nullptr;
  size_t size = 0;
  unsigned long long id = 0;
  void* data[] = {&start, &size, &id, &type};
  CU_OK(cuPointerGetAttributes(4, attrs, data, d + 100));
  CHECK_EQ(reinterpret_cast<CUdeviceptr>(start), d);
  CHECK_EQ(size, 512u);
  CHECK_NE(id, 0u);
  CU_OK(cuPointerGetAttributes(4, attrs, data, 0x10));  // unknown pointer: zeros, not an error
  CHECK_EQ(type, 0u);
  CHECK_EQ(size, 0u);
  CU_OK(cuMemFree_v2(d));
}

TEST_CASE("modules: real GPU code loads but never runs, CPU modules load from files and bytes") {
  PrimaryCtx pc;
  CUmodule m = nullptr;
  // A CUDA runtime registers its images at start-up: they load, and using anything in them is NOT_SUPPORTED.
  auto refused = [](CUmodule mod) {
    CUfunction f = nullptr;
    CHECK_EQ(cuModuleGetFunction(&f, mod, "vector_add"), CUDA_ERROR_NOT_SUPPORTED);
    CUdeviceptr g = 0;
    CHECK_EQ(cuModuleGetGlobal_v2(&g, nullptr, mod, "table"), CUDA_ERROR_NOT_SUPPORTED);
    CU_OK(cuModuleUnload(mod));
  };
  const char* ptx = "//\n.version 8.4\n.target sm_90\n.address_size 64\n";
  CU_OK(cuModuleLoadData(&m, ptx));
  refused(m);
  CU_OK(cuModuleLoadDataEx(&m, ptx, 0, nullptr, nullptr));
  refused(m);
  const unsigned char fatbin[16] = {0x50, 0xed, 0x55, 0xba, 1, 0, 0x10, 0};
  CU_OK(cuModuleLoadFatBinary(&m, fatbin));
  refused(m);
  Elf64_Ehdr cubin{};
  std::memcpy(cubin.e_ident, ELFMAG, SELFMAG);
  cubin.e_ident[EI_CLASS] = ELFCLASS64;
  cubin.e_machine = 190;  // EM_CUDA
  CU_OK(cuModuleLoadData(&m, &cubin));
  refused(m);
  {
    CUlibrary lib = nullptr;
    CU_OK(cuLibraryLoadData(&lib, fatbin, nullptr, nullptr, 0, nullptr, nullptr, 0));
    CUkernel k = nullptr;
    CHECK_EQ(cuLibraryGetKernel(&k, lib, "vector_add"), CUDA_ERROR_NOT_SUPPORTED);
    CU_OK(cuLibraryGetModule(&m, lib));
    CUfunction f = nullptr;
    CHECK_EQ(cuModuleGetFunction(&f, m, "vector_add"), CUDA_ERROR_NOT_SUPPORTED);
    CHECK_EQ(cuModuleUnload(m), CUDA_ERROR_INVALID_HANDLE);  // a library's module goes with the library
    CU_OK(cuLibraryUnload(lib));
    CHECK_EQ(cuModuleGetFunction(&f, m, "vector_add"), CUDA_ERROR_INVALID_HANDLE);
  }
  CHECK_EQ(cuModuleLoadData(&m, "garbage"), CUDA_ERROR_INVALID_IMAGE);
  CHECK_EQ(cuModuleLoad(&m, "/nonexistent/kernels.so"), CUDA_ERROR_FILE_NOT_FOUND);

  std::vector<char> image = read_file(XG_SIM_DEMO_KERNELS);
  REQUIRE(image.size() > 1000);
  CUmodule a = nullptr, b = nullptr;
  CU_OK(cuModuleLoadData(&a, image.data()));
  CU_OK(cuModuleLoad(&b, XG_SIM_DEMO_KERNELS));
  CUfunction f = nullptr;
  CHECK_EQ(cuModuleGetFunction(&f, a, "no_such_kernel"), CUDA_ERROR_NOT_FOUND);
  CU_OK(cuModuleGetFunction(&f, a, "scale_by_global"));
  CUfunction again = nullptr;
  CU_OK(cuModuleGetFunction(&again, a, "scale_by_global"));
  CHECK_EQ(f, again);
  // Each load has its own globals.
  CUdeviceptr ga = 0, gb = 0;
  size_t gsize = 0;
  CU_OK(cuModuleGetGlobal_v2(&ga, &gsize, a, "g_scale"));
  CU_OK(cuModuleGetGlobal_v2(&gb, nullptr, b, "g_scale"));
  CHECK_EQ(gsize, sizeof(float));
  CHECK_NE(ga, gb);
  CHECK_EQ(cuModuleGetGlobal_v2(&ga, &gsize, a, "nope"), CUDA_ERROR_NOT_FOUND);
  float three = 3.0f, got = 0.0f;
  CU_OK(cuMemcpyHtoD_v2(ga, &three, sizeof three));
  CHECK_EQ(cuMemcpyHtoD_v2(ga, &three, 8), CUDA_ERROR_INVALID_VALUE);  // past the global
  CU_OK(cuMemcpyDtoH_v2(&got, gb, sizeof got));
  CHECK_EQ(got, 1.0f);
  CUdeviceptr buf = 0;
  CU_OK(cuMemAlloc_v2(&buf, 4 * sizeof(float)));
  float vals[4] = {1, 2, 3, 4};
  CU_OK(cuMemcpyHtoD_v2(buf, vals, sizeof vals));
  int n = 4;
  void* args[] = {&buf, &n};
  CU_OK(cuLaunchKernel(f, 1, 1, 1, 4, 1, 1, 0, nullptr, args, nullptr));
  CU_OK(cuMemcpyDtoH_v2(vals, buf, sizeof vals));
  CHECK_EQ(vals[3], 12.0f);
  CU_OK(cuModuleUnload(a));
  CHECK_EQ(cuLaunchKernel(f, 1, 1, 1, 4, 1, 1, 0, nullptr, args, nullptr), CUDA_ERROR_INVALID_HANDLE);
  CHECK_EQ(cuModuleGetFunction(&f, a, "saxpy"), CUDA_ERROR_INVALID_HANDLE);
  CHECK_EQ(cuMemcpyHtoD_v2(ga, &three, sizeof three), CUDA_ERROR_INVALID_VALUE);  // global gone with module
  CHECK_EQ(cuModuleUnload(a), CUDA_ERROR_INVALID_HANDLE);
  CU_OK(cuModuleUnload(b));
  CU_OK(cuMemFree_v2(buf));

  CUlibrary lib = nullptr;
  CU_OK(cuLibraryLoadData(&lib, image.data(), nullptr, nullptr, 0, nullptr, nullptr, 0));
  CUkernel k = nullptr;
  CU_OK(cuLibraryGetKernel(&k, lib, "iota_u32"));
  CU_OK(cuKernelGetFunction(&f, k));
  CU_OK(cuMemAlloc_v2(&buf, 64 * sizeof(unsigned)));
  unsigned start = 100;
  size_t count = 64;
  void* iargs[] = {&buf, &start, &count};
  CU_OK(cuLaunchKernel(f, 2, 1, 1, 32, 1, 1, 0, nullptr, iargs, nullptr));
  std::vector<unsigned> out(64);
  CU_OK(cuMemcpyDtoH_v2(out.data(), buf, 64 * sizeof(unsigned)));
  CHECK_EQ(out[63], 163u);
  CU_OK(cuMemFree_v2(buf));
  CU_OK(cuLibraryUnload(lib));
  CHECK_EQ(cuLibraryGetKernel(&k, lib, "iota_u32"), CUDA_ERROR_INVALID_HANDLE);
}

TEST_CASE("launch: parameter layout, kernelParams and extra forms, cuLaunchKernelEx, attributes") {
  Demo demo;
  CUfunction probe = demo.fn("param_probe");
  const size_t expect_offset[] = {0, 8, 16, 20, 24}, expect_size[] = {1, 8, 4, 2, 8};
  for (size_t i = 0; i < 5; ++i) {
    size_t off = 0, size = 0;
    CU_OK(cuFuncGetParamInfo(probe, i, &off, &size));
    CHECK_EQ(off, expect_offset[i]);
    CHECK_EQ(size, expect_size[i]);
  }
  size_t off = 0, size = 0;
  CHECK_EQ(cuFuncGetParamInfo(probe, 5, &off, &size), CUDA_ERROR_INVALID_VALUE);

  struct ProbeOut {
    char c;
    double d;
    int i;
    short s;
  };
  CUdeviceptr out = 0;
  CU_OK(cuMemAlloc_v2(&out, sizeof(ProbeOut)));
  alignas(8) unsigned char packed[32] = {};
  const char c = 'x';
  const double dv = 2.5;
  const int iv = -7;
  const short sv = 300;
  std::memcpy(packed + 0, &c, 1);
  std::memcpy(packed + 8, &dv, 8);
  std::memcpy(packed + 16, &iv, 4);
  std::memcpy(packed + 20, &sv, 2);
  std::memcpy(packed + 24, &out, 8);
  size_t packed_size = sizeof packed;
  void* extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, packed, CU_LAUNCH_PARAM_BUFFER_SIZE, &packed_size,
                   CU_LAUNCH_PARAM_END};
  CU_OK(cuLaunchKernel(probe, 1, 1, 1, 1, 1, 1, 0, nullptr, nullptr, extra));
  ProbeOut got{};
  CU_OK(cuMemcpyDtoH_v2(&got, out, sizeof got));
  CHECK_EQ(got.c, 'x');
  CHECK_EQ(got.d, 2.5);
  CHECK_EQ(got.i, -7);
  CHECK_EQ(got.s, 300);
  packed_size = 16;  // too small for the parameters
  CHECK_EQ(cuLaunchKernel(probe, 1, 1, 1, 1, 1, 1, 0, nullptr, nullptr, extra), CUDA_ERROR_INVALID_VALUE);
  CHECK_EQ(cuLaunchKernel(probe, 1, 1, 1, 1, 1, 1, 0, nullptr, nullptr, nullptr), CUDA_ERROR_INVALID_VALUE);

  CUfunction saxpy = demo.fn("saxpy");
  void* none[4] = {};
  CHECK_EQ(cuLaunchKernel(saxpy, 0, 1, 1, 1, 1, 1, 0, nullptr, none, nullptr), CUDA_ERROR_INVALID_VALUE);
  CHECK_EQ(cuLaunchKernel(saxpy, 1, 1, 1, 1025, 1, 1, 0, nullptr, none, nullptr), CUDA_ERROR_INVALID_VALUE);
  CHECK_EQ(cuLaunchKernel(saxpy, 1, 1, 1, 1, 1, 1, 1 << 20, nullptr, none, nullptr), CUDA_ERROR_INVALID_VALUE);
  CHECK_EQ(cuLaunchKernel(nullptr, 1, 1, 1, 1, 1, 1, 0, nullptr, none, nullptr), CUDA_ERROR_INVALID_HANDLE);

  // cuLaunchKernelEx with cooperative + cluster attributes (accepted; no effect on a serial grid).
  constexpr int n = 300;
  std::vector<float> x(n), y(n, 1.0f);
  for (int i = 0; i < n; ++i) x[i] = float(i);
  CUdeviceptr dx = 0, dy = 0;
  CU_OK(cuMemAlloc_v2(&dx, n * sizeof(float)));
  CU_OK(cuMemAlloc_v2(&dy, n * sizeof(float)));
  CU_OK(cuMemcpyHtoD_v2(dx, x.data(), n * sizeof(float)));
  CU_OK(cuMemcpyHtoD_v2(dy, y.data(), n * sizeof(float)));
  CUlaunchAttribute attrs[2] = {};
  attrs[0].id = CU_LAUNCH_ATTRIBUTE_COOPERATIVE;
  attrs[0].value.cooperative = 1;
  attrs[1].id = CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION;
  attrs[1].value.clusterDim = {2, 1, 1};
  CUlaunchConfig cfg{};
  cfg.gridDimX = 4;
  cfg.gridDimY = cfg.gridDimZ = 1;
  cfg.blockDimX = 128;
  cfg.blockDimY = cfg.blockDimZ = 1;
  cfg.attrs = attrs;
  cfg.numAttrs = 2;
  float a = 2.0f;
  int count = n;
  void* args[] = {&a, &dx, &dy, &count};
  CU_OK(cuLaunchKernelEx(&cfg, saxpy, args, nullptr));
  CU_OK(cuMemcpyDtoH_v2(y.data(), dy, n * sizeof(float)));
  for (int i = 0; i < n; ++i) CHECK_EQ(y[i], 2.0f * float(i) + 1.0f);
  attrs[1].value.clusterDim = {3, 1, 1};  // does not divide the grid
  CHECK_EQ(cuLaunchKernelEx(&cfg, saxpy, args, nullptr), CUDA_ERROR_INVALID_CLUSTER_SIZE);

  int v = 0;
  CU_OK(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, saxpy));
  CHECK_EQ(v, 1024);
  CU_OK(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_NUM_REGS, saxpy));
  CHECK_EQ(v, 32);
  CU_OK(cuFuncSetAttribute(saxpy, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 100 * 1024));
  CU_OK(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, saxpy));
  CHECK_EQ(v, 100 * 1024);
  CHECK_EQ(cuFuncSetAttribute(saxpy, CU_FUNC_ATTRIBUTE_NUM_REGS, 8), CUDA_ERROR_INVALID_VALUE);
  CHECK_EQ(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_MAX, saxpy), CUDA_ERROR_INVALID_VALUE);
  int blocks = 0, min_grid = 0, block = 0;
  CU_OK(cuOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, saxpy, 256, 0));
  CHECK_EQ(blocks, 8);
  CHECK_EQ(cuOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, saxpy, 0, 0), CUDA_ERROR_INVALID_VALUE);
  CU_OK(cuOccupancyMaxPotentialBlockSize(&min_grid, &block, saxpy, nullptr, 0, 0));
  CHECK_GT(block, 0);
  CHECK_LE(block, 1024);
  CHECK_GE(min_grid, 132);
  CU_OK(cuMemFree_v2(dx));
  CU_OK(cuMemFree_v2(dy));
  CU_OK(cuMemFree_v2(out));
}

TEST_CASE("streams and events: asynchrony, NOT_READY, timing, waits, destroyed handles") {
  Demo demo;
  CUfunction spin = demo.fn("spin");
  CUstream s1 = nullptr, s2 = nullptr;
  CU_OK(cuStreamCreate(&s1, CU_STREAM_NON_BLOCKING));
  CU_OK(cuStreamCreateWithPriority(&s2, CU_STREAM_NON_BLOCKING, -1));
  CHECK_EQ(cuStreamCreate(&s1, 0x10), CUDA_ERROR_INVALID_VALUE);
  CUevent start = nullptr, stop = nullptr, notime = nullptr, never = nullptr;
  CU_OK(cuEventCreate(&start, CU_EVENT_DEFAULT));
  CU_OK(cuEventCreate(&stop, CU_EVENT_BLOCKING_SYNC));
  CU_OK(cuEventCreate(&notime, CU_EVENT_DISABLE_TIMING));
  CU_OK(cuEventCreate(&never, 0));
  CU_OK(cuEventQuery(never));  // never recorded: SUCCESS
  CU_OK(cuEventSynchronize(never));

  constexpr unsigned long long kSpinUs = 150'000;
  CU_OK(cuEventRecord(start, s1));
  launch_spin(spin, s1, kSpinUs);
  CU_OK(cuEventRecord(stop, s1));
  CU_OK(cuEventRecord(notime, s1));
  CHECK_EQ(cuStreamQuery(s1), CUDA_ERROR_NOT_READY);
  CHECK_EQ(cuEventQuery(stop), CUDA_ERROR_NOT_READY);
  float ms = 0;
  CHECK_EQ(cuEventElapsedTime(&ms, start, stop), CUDA_ERROR_NOT_READY);
  // s2 waits for `stop`: its memset cannot finish before the spin.
  CUdeviceptr d = 0;
  CU_OK(cuMemAlloc_v2(&d, 64));
  CU_OK(cuStreamWaitEvent(s2, stop, 0));
  CU_OK(cuMemsetD32Async(d, 5, 16, s2));
  CHECK_EQ(cuStreamQuery(s2), CUDA_ERROR_NOT_READY);
  CU_OK(cuStreamSynchronize(s2));
  CU_OK(cuEventQuery(stop));  // s2 finished only after `stop` completed
  CU_OK(cuEventSynchronize(stop));
  CU_OK(cuStreamSynchronize(s1));
  CU_OK(cuStreamQuery(s1));
  CU_OK(cuEventElapsedTime(&ms, start, stop));
  CHECK_GE(ms, kSpinUs / 1000.0f);
  CHECK_LT(ms, 10'000.0f);
  CHECK_EQ(cuEventElapsedTime(&ms, start, notime), CUDA_ERROR_INVALID_HANDLE);  // timing disabled
  CHECK_EQ(cuEventElapsedTime(&ms, start, never), CUDA_ERROR_INVALID_HANDLE);   // never recorded

  // Async copy on a stream into pinned memory.
  void* pinned = nullptr;
  CU_OK(cuMemAllocHost_v2(&pinned, 64));
  CU_OK(cuMemcpyDtoHAsync_v2(pinned, d, 64, s1));
  CU_OK(cuStreamSynchronize(s1));
  CHECK_EQ(static_cast<unsigned*>(pinned)[15], 5u);
  CHECK_EQ(cuMemcpyHtoDAsync_v2(d, pinned, 65, s1), CUDA_ERROR_INVALID_VALUE);

  // Legacy NULL stream: a synchronous copy waits for earlier work in blocking streams.
  CUstream blocking = nullptr;
  CU_OK(cuStreamCreate(&blocking, CU_STREAM_DEFAULT));
  const auto t0 = Clock::now();
  launch_spin(spin, blocking, 100'000);
  unsigned word = 0;
  CU_OK(cuMemcpyDtoH_v2(&word, d, sizeof word));
  CHECK_GE(Clock::now() - t0, std::chrono::milliseconds(100));
  CU_OK(cuStreamQuery(blocking));

  CU_OK(cuStreamDestroy_v2(blocking));
  CU_OK(cuStreamDestroy_v2(s1));
  CU_OK(cuStreamDestroy_v2(s2));
  CHECK_EQ(cuStreamQuery(s1), CUDA_ERROR_INVALID_HANDLE);
  CHECK_EQ(cuStreamDestroy_v2(s1), CUDA_ERROR_INVALID_HANDLE);
  CHECK_EQ(cuMemsetD8Async(d, 0, 1, s2), CUDA_ERROR_INVALID_HANDLE);
  CHECK_EQ(cuEventRecord(start, s1), CUDA_ERROR_INVALID_HANDLE);
  for (CUevent e : {start, stop, notime, never}) CU_OK(cuEventDestroy_v2(e));
  CHECK_EQ(cuEventQuery(start), CUDA_ERROR_INVALID_HANDLE);
  CHECK_EQ(cuEventDestroy_v2(start), CUDA_ERROR_INVALID_HANDLE);
  CHECK_EQ(cuEventCreate(&start, CU_EVENT_INTERPROCESS), CUDA_ERROR_INVALID_VALUE);
  CU_OK(cuMemFreeHost(pinned));
  CU_OK(cuMemFree_v2(d));
}

TEST_CASE("cuGetProcAddress resolves base names by version; a miss is NULL + a reason (v2) or NOT_FOUND (v1)") {
  void* fn = nullptr;
  CUdriverProcAddressQueryResult st = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
  CU_OK(cuGetProcAddress_v2("cuMemAlloc", &fn, 12040, 0, &st));
  CHECK_EQ(fn, reinterpret_cast<void*>(&cuMemAlloc_v2));
  CHECK_EQ(st, CU_GET_PROC_ADDRESS_SUCCESS);
  CHECK_EQ(cuGetProcAddress_v2("cuMemAlloc", &fn, 3000, 0, &st), CUDA_SUCCESS);
  CHECK_EQ(st, CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT);
  CHECK_EQ(fn, nullptr);
  CHECK_EQ(cuGetProcAddress_v2("cuGraphLaunch", &fn, 12040, 0, &st), CUDA_SUCCESS);
  CHECK_EQ(st, CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND);
  CHECK_EQ(fn, nullptr);
  CHECK_EQ(cuGetProcAddress_v2("cuMemAlloc_v2", &fn, 12040, 0, &st), CUDA_SUCCESS);
  CHECK_EQ(st, CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND);
  CHECK_EQ(cuGetProcAddress("cuGraphLaunch", &fn, 12040, 0), CUDA_ERROR_NOT_FOUND);
  CU_OK(cuGetProcAddress("cuGetProcAddress", &fn, 11040, 0));
  CHECK_EQ(fn, reinterpret_cast<void*>(&cuGetProcAddress));
  CU_OK(cuGetProcAddress("cuGetProcAddress", &fn, 12000, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM));
  CHECK_EQ(fn, reinterpret_cast<void*>(&cuGetProcAddress_v2));
  CU_OK(cuGetProcAddress_v2("cuFuncGetParamInfo", &fn, 12040, 0, nullptr));
  CHECK_EQ(fn, reinterpret_cast<void*>(&cuFuncGetParamInfo));
  CHECK_EQ(cuGetProcAddress_v2("cuInit", &fn, 12040, 8, nullptr), CUDA_ERROR_INVALID_VALUE);
  CHECK_EQ(cuGetProcAddress_v2(nullptr, &fn, 12040, 0, nullptr), CUDA_ERROR_INVALID_VALUE);
  // Every entry resolved through the table is the exported function of that name (spot checks above);
  // the resolved cuMemcpyHtoD really is the _v2 ABI.
  CU_OK(cuGetProcAddress_v2("cuMemcpyHtoD", &fn, 12040, 0, nullptr));
  CHECK_EQ(fn, reinterpret_cast<void*>(&cuMemcpyHtoD_v2));
}

TEST_CASE("error names and strings") {
  const char* s = nullptr;
  CU_OK(cuGetErrorName(CUDA_ERROR_INVALID_VALUE, &s));
  CHECK_EQ(std::string(s), "CUDA_ERROR_INVALID_VALUE");
  CU_OK(cuGetErrorString(CUDA_ERROR_INVALID_VALUE, &s));
  CHECK_EQ(std::string(s), "invalid argument");
  CU_OK(cuGetErrorString(CUDA_ERROR_NOT_READY, &s));
  CHECK_EQ(std::string(s), "device not ready");
  CU_OK(cuGetErrorName(CUDA_ERROR_UNKNOWN, &s));
  CHECK_EQ(std::string(s), "CUDA_ERROR_UNKNOWN");
  CHECK_EQ(cuGetErrorName(CUresult(12345), &s), CUDA_ERROR_INVALID_VALUE);
  CHECK_EQ(s, nullptr);
  CHECK_EQ(cuGetErrorString(CUDA_SUCCESS, nullptr), CUDA_ERROR_INVALID_VALUE);
}

TEST_CASE("thread safety: concurrent allocations, copies and launches from several threads") {
  Demo demo;
  CUfunction fill = demo.fn("fill_u32");
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      if (cuCtxSetCurrent(demo.ctx) != CUDA_SUCCESS) ++failures[t];
      CUstream s = nullptr;
      if (cuStreamCreate(&s, CU_STREAM_NON_BLOCKING) != CUDA_SUCCESS) ++failures[t];
      for (int i = 0; i < 50; ++i) {
        CUdeviceptr p = 0;
        size_t n = 256;
        unsigned value = unsigned(t * 1000 + i);
        if (cuMemAlloc_v2(&p, n * 4) != CUDA_SUCCESS) { ++failures[t]; continue; }
        void* args[] = {&p, &value, &n};
        if (cuLaunchKernel(fill, 1, 1, 1, 256, 1, 1, 0, s, args, nullptr) != CUDA_SUCCESS) ++failures[t];
        unsigned back = 0;
        if (cuStreamSynchronize(s) != CUDA_SUCCESS) ++failures[t];
        if (cuMemcpyDtoH_v2(&back, p + 4 * 255, 4) != CUDA_SUCCESS || back != value) ++failures[t];
        if (cuMemFree_v2(p) != CUDA_SUCCESS) ++failures[t];
      }
      if (cuStreamDestroy_v2(s) != CUDA_SUCCESS) ++failures[t];
    });
  }
  for (auto& th : threads) th.join();
  for (int f : failures) CHECK_EQ(f, 0);
}
