// Kernel launches, function attributes, parameter layout and occupancy.
//
// A launch copies the kernel's parameters at call time (from kernelParams, or the packed `extra` buffer) into
// one packed buffer, as the driver does, and queues the grid on the stream; the stream's worker runs every
// thread of the grid serially through the module's thunk (see sim_kernel.h for what is not modelled).
// cuLaunchKernelEx: COOPERATIVE, CLUSTER_DIMENSION, cluster scheduling, priority, sync domains and
// programmatic-serialization attributes are accepted and have no effect (a serial grid trivially satisfies
// them); cluster dimensions must still divide the grid.
#include <algorithm>
#include <cstring>

#include "cuda/launch_params.h"
#include "sim_internal.h"

using namespace xg::sim;

namespace {

constexpr size_t kMaxParamBytes = 32764;  // the 12.1+ driver's kernel parameter limit

// Everything one launch needs, in one allocation: a launch is the hottest path of the simulated driver, and
// the stream op captures only this record's shared_ptr (small enough for std::function's inline buffer).
struct Packed {
  static constexpr size_t kInlineBytes = 256;
  alignas(max_align_t) std::byte inline_storage[kInlineBytes];
  std::vector<max_align_t> heap;  // parameters larger than kInlineBytes
  std::shared_ptr<Module> module;  // keeps the code mapped until the launch ran
  const xg_sim_kernel_desc* desc = nullptr;
  xg_sim_dim3 grid{}, block{};
  unsigned shared = 0;
  std::byte* data() { return heap.empty() ? inline_storage : reinterpret_cast<std::byte*>(heap.data()); }
};

CUresult pack_params(const Function& f, void** kernelParams, void** extra, Packed* out) {
  const size_t size = f.packed_size();
  if (size > kMaxParamBytes) return CUDA_ERROR_INVALID_VALUE;
  if (size > Packed::kInlineBytes) out->heap.assign((size + sizeof(max_align_t) - 1) / sizeof(max_align_t) + 1, max_align_t{});
  else std::memset(out->inline_storage, 0, size);
  const uint32_t n = f.desc->num_params;
  if (kernelParams != nullptr && extra != nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (kernelParams != nullptr) {
    for (uint32_t i = 0; i < n; ++i) {
      if (kernelParams[i] == nullptr) return CUDA_ERROR_INVALID_VALUE;
      std::memcpy(out->data() + f.desc->params[i].offset, kernelParams[i], f.desc->params[i].size);
    }
    return CUDA_SUCCESS;
  }
  if (extra != nullptr) {
    xg::cuda::ExtraBuffer x;
    if (CUresult e = xg::cuda::parse_extra(extra, &x); e != CUDA_SUCCESS) return e;
    const void* buffer = x.buffer;
    const size_t* buffer_size = x.buffer_size;
    if (n == 0) return CUDA_SUCCESS;
    if (buffer == nullptr || buffer_size == nullptr || *buffer_size < size) return CUDA_ERROR_INVALID_VALUE;
    std::memcpy(out->data(), buffer, size);
    return CUDA_SUCCESS;
  }
  return n == 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult check_dims(const Function& f, xg_sim_dim3 grid, xg_sim_dim3 block, unsigned shared) {
  if (grid.x == 0 || grid.y == 0 || grid.z == 0 || block.x == 0 || block.y == 0 || block.z == 0)
    return CUDA_ERROR_INVALID_VALUE;
  if (grid.x > 2147483647u || grid.y > 65535 || grid.z > 65535) return CUDA_ERROR_INVALID_VALUE;
  if (block.x > 1024 || block.y > 1024 || block.z > 64) return CUDA_ERROR_INVALID_VALUE;
  if (uint64_t(block.x) * block.y * block.z > kMaxThreadsPerBlock) return CUDA_ERROR_INVALID_VALUE;
  if (shared > unsigned(f.max_dynamic_shared)) return CUDA_ERROR_INVALID_VALUE;
  return CUDA_SUCCESS;
}

std::shared_ptr<Function> lookup_function(Driver& d, CUfunction hf) {
  if ((id_of(hf) >> 48) != uint64_t(Tag::function)) return nullptr;
  return d.functions.get(id_of(hf));
}

CUresult launch(CUfunction hf, xg_sim_dim3 grid, xg_sim_dim3 block, unsigned shared, CUstream hs, void** params,
                void** extra) {
  Driver& d = driver();
  std::lock_guard lk(d.mu);
  std::shared_ptr<Context> c;
  if (CUresult r = current_context_locked(d, &c); r != CUDA_SUCCESS) return r;
  auto f = lookup_function(d, hf);
  if (!f) return CUDA_ERROR_INVALID_HANDLE;
  if (CUresult r = check_dims(*f, grid, block, shared); r != CUDA_SUCCESS) return r;
  std::shared_ptr<Stream> s;
  if (CUresult r = resolve_stream_locked(d, *c, hs, &s); r != CUDA_SUCCESS) return r;
  auto packed = std::make_shared<Packed>();
  if (CUresult r = pack_params(*f, params, extra, packed.get()); r != CUDA_SUCCESS) return r;
  packed->module = f->module;
  packed->desc = f->desc;
  packed->grid = grid;
  packed->block = block;
  packed->shared = shared;
  submit_locked(d, *c, s, [packed] {
    const xg_sim_kernel_desc* desc = packed->desc;
    void* inline_args[32];
    std::vector<void*> many(desc->num_params > 32 ? desc->num_params : 0);
    void** args = many.empty() ? inline_args : many.data();
    for (uint32_t i = 0; i < desc->num_params; ++i) args[i] = packed->data() + desc->params[i].offset;
    std::vector<max_align_t> smem((packed->shared + sizeof(max_align_t) - 1) / sizeof(max_align_t));
    const xg_sim_launch l{packed->grid, packed->block, packed->shared ? smem.data() : nullptr, packed->shared};
    desc->thunk(&l, args);
  });
  return CUDA_SUCCESS;
}

// Resident blocks per SM for a block size, from the thread, block and shared-memory limits.
int blocks_per_sm(int block_size, size_t dynamic_smem) {
  const int warps = (block_size + 31) / 32;
  int blocks = std::min(kMaxBlocksPerSm, kMaxThreadsPerSm / (warps * 32));
  const size_t per_block = dynamic_smem + 1024;  // 1 KiB reserved per block
  blocks = std::min<int>(blocks, int(kSharedPerSm / per_block));
  return std::max(blocks, 0);
}

}  // namespace

XG_SIM_EXPORT_C CUresult cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                                        unsigned int gridDimZ, unsigned int blockDimX, unsigned int blockDimY,
                                        unsigned int blockDimZ, unsigned int sharedMemBytes, CUstream hStream,
                                        void** kernelParams, void** extra) {
  return launch(f, {gridDimX, gridDimY, gridDimZ}, {blockDimX, blockDimY, blockDimZ}, sharedMemBytes, hStream,
                kernelParams, extra);
}

XG_SIM_EXPORT_C CUresult cuLaunchKernelEx(const CUlaunchConfig* config, CUfunction f, void** kernelParams,
                                          void** extra) {
  XG_SIM_REQUIRE_INIT(driver());
  if (config == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const CUlaunchConfig cfg = *config;
  if (cfg.numAttrs != 0 && cfg.attrs == nullptr) return CUDA_ERROR_INVALID_VALUE;
  for (unsigned i = 0; i < cfg.numAttrs; ++i) {
    const CUlaunchAttribute& a = cfg.attrs[i];
    switch (raw(a.id)) {
      case CU_LAUNCH_ATTRIBUTE_IGNORE:
      case CU_LAUNCH_ATTRIBUTE_COOPERATIVE:
      case CU_LAUNCH_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE:
      case CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION:
      case CU_LAUNCH_ATTRIBUTE_PRIORITY:
      case CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN_MAP:
      case CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN:
      case CU_LAUNCH_ATTRIBUTE_ACCESS_POLICY_WINDOW:
        break;
      case CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION: {
        const auto& cd = a.value.clusterDim;
        if (cd.x == 0 || cd.y == 0 || cd.z == 0 || cfg.gridDimX % cd.x || cfg.gridDimY % cd.y ||
            cfg.gridDimZ % cd.z || cd.x * cd.y * cd.z > 8)
          return CUDA_ERROR_INVALID_CLUSTER_SIZE;
        break;
      }
      default:
        return CUDA_ERROR_NOT_SUPPORTED;  // events triggered by launches, graph-only attributes
    }
  }
  return launch(f, {cfg.gridDimX, cfg.gridDimY, cfg.gridDimZ}, {cfg.blockDimX, cfg.blockDimY, cfg.blockDimZ},
                cfg.sharedMemBytes, cfg.hStream, kernelParams, extra);
}

XG_SIM_EXPORT_C CUresult cuFuncGetParamInfo(CUfunction func, size_t paramIndex, size_t* paramOffset,
                                            size_t* paramSize) {
  Driver& d = driver();
  std::lock_guard lk(d.mu);
  XG_SIM_REQUIRE_INIT(d);
  auto f = lookup_function(d, func);
  if (!f) return CUDA_ERROR_INVALID_HANDLE;
  if (paramIndex >= f->desc->num_params) return CUDA_ERROR_INVALID_VALUE;
  if (paramOffset != nullptr) *paramOffset = f->desc->params[paramIndex].offset;
  if (paramSize != nullptr) *paramSize = f->desc->params[paramIndex].size;
  return CUDA_SUCCESS;
}

XG_SIM_EXPORT_C CUresult cuFuncGetAttribute(int* pi, CUfunction_attribute attrib, CUfunction hfunc) {
  Driver& d = driver();
  std::lock_guard lk(d.mu);
  XG_SIM_REQUIRE_INIT(d);
  if (pi == nullptr) return CUDA_ERROR_INVALID_VALUE;
  auto f = lookup_function(d, hfunc);
  if (!f) return CUDA_ERROR_INVALID_HANDLE;
  switch (raw(attrib)) {
    case CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *pi = kMaxThreadsPerBlock; break;
    case CU_FUNC_ATTRIBUTE_NUM_REGS: *pi = 32; break;
    case CU_FUNC_ATTRIBUTE_PTX_VERSION:
    case CU_FUNC_ATTRIBUTE_BINARY_VERSION: *pi = 90; break;
    case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: *pi = f->max_dynamic_shared; break;
    case CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT: *pi = f->carveout; break;
    case CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES:
    case CU_FUNC_ATTRIBUTE_CONST_SIZE_BYTES:
    case CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES:
    case CU_FUNC_ATTRIBUTE_CACHE_MODE_CA:
    case CU_FUNC_ATTRIBUTE_CLUSTER_SIZE_MUST_BE_SET:
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH:
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_HEIGHT:
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_DEPTH:
    case CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED:
    case CU_FUNC_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE: *pi = 0; break;
    default: return CUDA_ERROR_INVALID_VALUE;
  }
  return CUDA_SUCCESS;
}

XG_SIM_EXPORT_C CUresult cuFuncSetAttribute(CUfunction hfunc, CUfunction_attribute attrib, int value) {
  Driver& d = driver();
  std::lock_guard lk(d.mu);
  XG_SIM_REQUIRE_INIT(d);
  auto f = lookup_function(d, hfunc);
  if (!f) return CUDA_ERROR_INVALID_HANDLE;
  switch (raw(attrib)) {
    case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES:
      if (value < 0 || value > kSharedPerBlockOptin) return CUDA_ERROR_INVALID_VALUE;
      f->max_dynamic_shared = value;
      return CUDA_SUCCESS;
    case CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT:
      if (value < -1 || value > 100) return CUDA_ERROR_INVALID_VALUE;
      f->carveout = value;
      return CUDA_SUCCESS;
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH:
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_HEIGHT:
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_DEPTH:
    case CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED:
    case CU_FUNC_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE:
      return CUDA_SUCCESS;  // accepted, no effect on a serial grid
    default:
      return CUDA_ERROR_INVALID_VALUE;  // read-only or unknown
  }
}

XG_SIM_EXPORT_C CUresult cuOccupancyMaxActiveBlocksPerMultiprocessor(int* numBlocks, CUfunction func, int blockSize,
                                                                     size_t dynamicSMemSize) {
  Driver& d = driver();
  std::lock_guard lk(d.mu);
  XG_SIM_REQUIRE_INIT(d);
  if (numBlocks == nullptr || blockSize <= 0 || blockSize > kMaxThreadsPerBlock) return CUDA_ERROR_INVALID_VALUE;
  if (!lookup_function(d, func)) return CUDA_ERROR_INVALID_HANDLE;
  *numBlocks = blocks_per_sm(blockSize, dynamicSMemSize);
  return CUDA_SUCCESS;
}

XG_SIM_EXPORT_C CUresult cuOccupancyMaxPotentialBlockSize(int* minGridSize, int* blockSize, CUfunction func,
                                                          CUoccupancyB2DSize blockSizeToDynamicSMemSize,
                                                          size_t dynamicSMemSize, int blockSizeLimit) {
  {
    Driver& d = driver();
    std::lock_guard lk(d.mu);
    XG_SIM_REQUIRE_INIT(d);
    if (minGridSize == nullptr || blockSize == nullptr || blockSizeLimit < 0) return CUDA_ERROR_INVALID_VALUE;
    if (!lookup_function(d, func)) return CUDA_ERROR_INVALID_HANDLE;
  }
  // The callback is user code: call it without the driver lock.
  const int limit = blockSizeLimit == 0 ? kMaxThreadsPerBlock : std::min(blockSizeLimit, kMaxThreadsPerBlock);
  int best_size = 0, best_threads = -1, best_blocks = 0;
  for (int bs = (limit + 31) / 32 * 32; bs > 0; bs -= 32) {
    const int size = std::min(bs, limit);
    const size_t smem = blockSizeToDynamicSMemSize ? blockSizeToDynamicSMemSize(size) : dynamicSMemSize;
    const int blocks = blocks_per_sm(size, smem);
    if (blocks * size > best_threads) {
      best_threads = blocks * size;
      best_size = size;
      best_blocks = blocks;
    }
  }
  *blockSize = best_size;
  *minGridSize = best_blocks * kSmCount;
  return CUDA_SUCCESS;
}
