// Shared helpers for the CUDA driver-API test programs. These are ordinary CUDA programs: they include only the
// driver API header (cuda/cuda_abi.h stands in for cuda.h) and link -lcuda; they know nothing of virtualization.
#pragma once

#include <cstdio>
#include <cstdlib>

#if defined(XG_TOOLKIT_CUDA_H)
#include <cuda.h>  // the CUDA toolkit's own header: its macros bind names to the newest versioned symbols
#else
#include "cuda/cuda_abi.h"
#endif

// A created context, as a program written for either header spells it: CUDA 13's cuda.h binds cuCtxCreate to
// cuCtxCreate_v4 (creation parameters; NULL for none).
inline CUresult create_context(CUcontext* ctx, unsigned flags, CUdevice dev) {
#if defined(XG_TOOLKIT_CUDA_H) && CUDA_VERSION >= 12050
  return cuCtxCreate(ctx, nullptr, flags, dev);
#else
  return cuCtxCreate_v2(ctx, flags, dev);
#endif
}

// Exits with a message naming the failed call and the driver's error name.
#define CK(call)                                                                                  \
  do {                                                                                            \
    CUresult ck_r = (call);                                                                       \
    if (ck_r != CUDA_SUCCESS) {                                                                   \
      const char* ck_name = nullptr;                                                              \
      cuGetErrorName(ck_r, &ck_name);                                                             \
      std::fprintf(stderr, "FAIL %s:%d: %s -> %s (%d)\n", __FILE__, __LINE__, #call,              \
                   ck_name ? ck_name : "?", static_cast<int>(ck_r));                              \
      std::exit(1);                                                                               \
    }                                                                                             \
  } while (0)

// Exits unless `call` returns exactly `expected`.
#define EXPECT_RESULT(call, expected)                                                             \
  do {                                                                                            \
    CUresult ex_r = (call);                                                                       \
    if (ex_r != (expected)) {                                                                     \
      std::fprintf(stderr, "FAIL %s:%d: %s returned %d, expected %s (%d)\n", __FILE__, __LINE__, \
                   #call, static_cast<int>(ex_r), #expected, static_cast<int>(expected));        \
      std::exit(1);                                                                               \
    }                                                                                             \
  } while (0)

#define REQUIRE_TRUE(cond, ...)                                                                   \
  do {                                                                                            \
    if (!(cond)) {                                                                                \
      std::fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                        \
      std::fprintf(stderr, __VA_ARGS__);                                                          \
      std::fprintf(stderr, "\n");                                                                 \
      std::exit(1);                                                                               \
    }                                                                                             \
  } while (0)

// The kernel module: argv[1], else $XG_KERNELS.
inline const char* kernel_module_path(int argc, char** argv) {
  const char* path = argc > 1 ? argv[1] : std::getenv("XG_KERNELS");
  if (path == nullptr) {
    std::fprintf(stderr, "usage: %s KERNEL_MODULE (or set XG_KERNELS)\n", argc > 0 ? argv[0] : "prog");
    std::exit(2);
  }
  return path;
}

// cuInit, device 0, its primary context made current.
inline CUcontext setup_primary_context() {
  CK(cuInit(0));
  CUdevice dev = 0;
  CK(cuDeviceGet(&dev, 0));
  CUcontext ctx = nullptr;
  CK(cuDevicePrimaryCtxRetain(&ctx, dev));
  CK(cuCtxSetCurrent(ctx));
  return ctx;
}

inline void teardown_primary_context() {
  CK(cuCtxSetCurrent(nullptr));
  CK(cuDevicePrimaryCtxRelease_v2(0));
}
