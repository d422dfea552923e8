// sim_kernel.h: write kernels for the simulated CUDA driver (gpu-proxy/sim) as a CPU shared object.
//
// The simulated driver cannot run PTX or cubins. Its module format is an x86_64 ELF shared object whose kernels
// are ordinary C++ functions declared with XG_SIM_KERNEL:
//
//   #include "gpu-proxy/sim/sim_kernel.h"
//   XG_SIM_KERNEL(saxpy, (float a, const float* x, float* y, int n)) {
//     int i = blockIdx.x * blockDim.x + threadIdx.x;
//     if (i < n) y[i] = a * x[i] + y[i];
//   }
//   XG_SIM_GLOBAL(float, g_scale) = 2.0f;   // found by cuModuleGetGlobal("g_scale")
//
// XG_SIM_KERNEL(name, (params)) generates
//   - `extern "C" void name(params)`: the kernel itself, taking the same parameters as the CUDA kernel;
//   - `extern "C" const xg_sim_kernel_desc xg_sim_kernel__name`: its descriptor, which the driver finds with
//     dlsym: a thunk that takes `void** kernelParams` (one pointer per parameter, as cuLaunchKernel does) and
//     runs the whole grid, plus the parameter layout table (offset and size of each parameter in the packed
//     argument buffer, natural alignment, as the real cuFuncGetParamInfo reports).
//
// Execution model (simulation, documented in STATUS.md): the driver runs a grid by calling the kernel once per
// thread, serially, block after block, on the worker thread of the stream it was launched on. blockIdx,
// threadIdx, blockDim and gridDim are thread-local variables of the module. NOT modelled: __syncthreads(),
// warp intrinsics, static __shared__ memory (xg_sim_dynamic_shared() returns the launch's dynamic shared memory,
// one buffer reused by each block in turn). Because threads run one at a time, atomics are trivial, but two
// streams may run kernels concurrently, so xg_atomic_add is a real atomic.
#pragma once

#include <stddef.h>
#include <stdint.h>

// ABI between the simulated driver and a module. Bump on any change to the structs below.
#define XG_SIM_ABI_VERSION 1u
#define XG_SIM_KERNEL_PREFIX "xg_sim_kernel__"
#define XG_SIM_GLOBAL_PREFIX "xg_sim_global__"

extern "C" {
struct xg_sim_dim3 {
  unsigned int x, y, z;
};
// What the driver passes to a kernel's thunk for one launch.
struct xg_sim_launch {
  xg_sim_dim3 grid;
  xg_sim_dim3 block;
  void* dynamic_shared;  // sharedMemBytes of zeroed memory (NULL when 0), reused by every block
  size_t dynamic_shared_bytes;
};
typedef void (*xg_sim_thunk)(const xg_sim_launch* launch, void** kernel_params);
struct xg_sim_param_info {
  size_t offset;
  size_t size;
};
struct xg_sim_kernel_desc {
  uint32_t abi_version;  // XG_SIM_ABI_VERSION
  uint32_t num_params;
  const char* name;
  xg_sim_thunk thunk;
  const xg_sim_param_info* params;  // num_params entries
};
struct xg_sim_global_desc {
  uint32_t abi_version;
  size_t size;
  void* address;
};
}  // extern "C"

#ifndef XG_SIM_DRIVER_SIDE  // everything below is for kernel modules only

#include <array>
#include <atomic>
#include <cstring>
#include <tuple>
#include <type_traits>
#include <utility>

struct dim3 {
  unsigned int x = 1, y = 1, z = 1;
};
using uint3 = dim3;

// Per-module, per-OS-thread launch coordinates. Hidden: each module has its own; no symbol is shared between
// modules (and no STB_GNU_UNIQUE symbol keeps a module from unloading).
inline thread_local dim3 threadIdx __attribute__((visibility("hidden")));
inline thread_local dim3 blockIdx __attribute__((visibility("hidden")));
inline thread_local dim3 blockDim __attribute__((visibility("hidden")));
inline thread_local dim3 gridDim __attribute__((visibility("hidden")));
inline thread_local void* xg_sim_dynamic_shared_ptr __attribute__((visibility("hidden")));

inline void* xg_sim_dynamic_shared() { return xg_sim_dynamic_shared_ptr; }

// atomicAdd stand-in; returns the old value.
template <class T>
inline T xg_atomic_add(T* address, T value) {
  return std::atomic_ref<T>(*address).fetch_add(value, std::memory_order_relaxed);
}

namespace xg_sim_detail {

// Packed layout of a parameter list: each parameter at the next offset aligned to its alignment.
template <class... A>
constexpr std::array<xg_sim_param_info, sizeof...(A)> layout() {
  std::array<xg_sim_param_info, sizeof...(A)> table{};
  size_t offset = 0, i = 0;
  ((offset = (offset + alignof(A) - 1) / alignof(A) * alignof(A), table[i++] = {offset, sizeof(A)},
    offset += sizeof(A)),
   ...);
  return table;
}

template <class T>
T load_param(void* p) {
  T value;
  std::memcpy(static_cast<void*>(&value), p, sizeof(T));
  return value;
}

template <class Body>
void run_grid(const xg_sim_launch* l, Body&& body) {
  gridDim = {l->grid.x, l->grid.y, l->grid.z};
  blockDim = {l->block.x, l->block.y, l->block.z};
  xg_sim_dynamic_shared_ptr = l->dynamic_shared;
  for (unsigned bz = 0; bz < l->grid.z; ++bz)
    for (unsigned by = 0; by < l->grid.y; ++by)
      for (unsigned bx = 0; bx < l->grid.x; ++bx) {
        blockIdx = {bx, by, bz};
        for (unsigned tz = 0; tz < l->block.z; ++tz)
          for (unsigned ty = 0; ty < l->block.y; ++ty)
            for (unsigned tx = 0; tx < l->block.x; ++tx) {
              threadIdx = {tx, ty, tz};
              body();
            }
      }
}

template <class F>
struct kernel;
template <class... A>
struct kernel<void(A...)> {
  static_assert((std::is_trivially_copyable_v<A> && ...), "kernel parameters must be trivially copyable");
  static constexpr uint32_t count = sizeof...(A);
  static constexpr std::array<xg_sim_param_info, sizeof...(A)> params = layout<A...>();
  template <void (*Fn)(A...)>
  static void thunk(const xg_sim_launch* l, void** p) {
    [&]<size_t... I>(std::index_sequence<I...>) {
      std::tuple<std::remove_cv_t<A>...> args{load_param<std::remove_cv_t<A>>(p[I])...};
      run_grid(l, [&] { std::apply(Fn, args); });
    }(std::index_sequence_for<A...>{});
  }
};

}  // namespace xg_sim_detail

#define XG_SIM_EXPORT __attribute__((visibility("default")))

#define XG_SIM_KERNEL(name, param_list)                                                                       \
  extern "C" XG_SIM_EXPORT void name param_list;                                                              \
  extern "C" XG_SIM_EXPORT const xg_sim_kernel_desc xg_sim_kernel__##name;                                \
  const xg_sim_kernel_desc xg_sim_kernel__##name = {                                                      \
      XG_SIM_ABI_VERSION, xg_sim_detail::kernel<decltype(name)>::count, #name,                            \
      &xg_sim_detail::kernel<decltype(name)>::template thunk<&name>,                                      \
      xg_sim_detail::kernel<decltype(name)>::params.data()};                                              \
  void name param_list

// A module-scope variable the host can reach with cuModuleGetGlobal. Append `= initializer;` or just `;`.
#define XG_SIM_GLOBAL(type, name)                                                                         \
  extern "C" XG_SIM_EXPORT type name;                                                                     \
  extern "C" XG_SIM_EXPORT const xg_sim_global_desc xg_sim_global__##name;                                \
  const xg_sim_global_desc xg_sim_global__##name = {XG_SIM_ABI_VERSION, sizeof(type), &name};             \
  type name

#endif  // XG_SIM_DRIVER_SIDE
