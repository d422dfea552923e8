// Device and pinned-host memory: allocation, the allocation table, pointer queries.
//
// Device memory is host memory carved from the arena (see alloc_table.h): a CUdeviceptr is a plain address that
// CPU kernels dereference. Every allocation is 4 KiB aligned (the driver promises 256) and accounted in 4 KiB
// granules in cuMemGetInfo. Frees wait for the context's outstanding work, so no queued copy or kernel can touch
// freed memory.
#include <sys/mman.h>

#include <cstring>

#include "sim_internal.h"

namespace xg::sim {

void free_context_memory_locked(Driver& d, uint64_t context) {
  std::vector<Allocation> mine;
  d.table.for_each([&](const Allocation& a) {
    if (a.context == context && a.kind != MemKind::module_global) mine.push_back(a);
  });
  for (const Allocation& a : mine) {
    d.table.erase(a.base);
    if (a.kind == MemKind::device) d.arena.release(a.base, a.size);
    if (a.kind == MemKind::host_alloc) munmap(reinterpret_cast<void*>(a.base), Arena::round_up(a.size));
  }
}

}  // namespace xg::sim

using namespace xg::sim;

namespace {

CUresult alloc_device(CUdeviceptr* dptr, size_t bytes) {
  Driver& d = driver();
  std::lock_guard lk(d.mu);
  std::shared_ptr<Context> c;
  if (CUresult r = current_context_locked(d, &c); r != CUDA_SUCCESS) return r;
  if (dptr == nullptr || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  auto base = d.arena.allocate(bytes);
  if (!base) return CUDA_ERROR_OUT_OF_MEMORY;
  Allocation a{*base, bytes, MemKind::device, c->handle, 0, d.next_buffer_id++, 0, false};
  d.table.insert(a);
  *dptr = *base;
  return CUDA_SUCCESS;
}

// Removes a table entry of one of `kinds` that starts exactly at `base`, after the context's work drains.
CUresult free_entry(uintptr_t base, MemKind kind, CUresult not_found) {
  Driver& d = driver();
  std::unique_lock lk(d.mu);
  std::shared_ptr<Context> c;
  if (CUresult r = current_context_locked(d, &c); r != CUDA_SUCCESS) return r;
  const Allocation* a = d.table.find(base);
  if (a == nullptr || a->base != base || a->kind != kind) return not_found;
  synchronize_context(lk, *c);
  a = d.table.find(base);  // re-check: another thread may have freed it while we waited
  if (a == nullptr || a->base != base || a->kind != kind) return not_found;
  const Allocation copy = *a;
  d.table.erase(base);
  if (kind == MemKind::device) d.arena.release(copy.base, copy.size);
  if (kind == MemKind::host_alloc) munmap(reinterpret_cast<void*>(copy.base), Arena::round_up(copy.size));
  return CUDA_SUCCESS;
}

}  // namespace

XG_SIM_EXPORT_C CUresult cuMemAlloc_v2(CUdeviceptr* dptr, size_t bytesize) { return alloc_device(dptr, bytesize); }

XG_SIM_EXPORT_C CUresult cuMemAllocPitch_v2(CUdeviceptr* dptr, size_t* pPitch, size_t width, size_t height,
                                            unsigned int elementSize) {
  XG_SIM_REQUIRE_INIT(driver());
  if (dptr == nullptr || pPitch == nullptr || width == 0 || height == 0) return CUDA_ERROR_INVALID_VALUE;
  if (elementSize != 4 && elementSize != 8 && elementSize != 16) return CUDA_ERROR_INVALID_VALUE;
  constexpr size_t kPitchAlign = 512;
  const size_t pitch = (width + kPitchAlign - 1) / kPitchAlign * kPitchAlign;
  size_t bytes = 0;
  if (pitch < width || __builtin_mul_overflow(pitch, height, &bytes)) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = alloc_device(dptr, bytes); r != CUDA_SUCCESS) return r;
  *pPitch = pitch;
  return CUDA_SUCCESS;
}

XG_SIM_EXPORT_C CUresult cuMemFree_v2(CUdeviceptr dptr) {
  XG_SIM_REQUIRE_INIT(driver());
  if (dptr == 0) return CUDA_SUCCESS;
  return free_entry(dptr, MemKind::device, CUDA_ERROR_INVALID_VALUE);
}

XG_SIM_EXPORT_C CUresult cuMemGetInfo_v2(size_t* free, size_t* total) {
  Driver& d = driver();
  std::lock_guard lk(d.mu);
  std::shared_ptr<Context> c;
  if (CUresult r = current_context_locked(d, &c); r != CUDA_SUCCESS) return r;
  if (free == nullptr || total == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *total = d.total_mem;
  *free = d.arena.capacity() - d.arena.used();
  return CUDA_SUCCESS;
}

XG_SIM_EXPORT_C CUresult cuMemGetAddressRange_v2(CUdeviceptr* pbase, size_t* psize, CUdeviceptr dptr) {
  Driver& d = driver();
  std::lock_guard lk(d.mu);
  std::shared_ptr<Context> c;
  if (CUresult r = current_context_locked(d, &c); r != CUDA_SUCCESS) return r;
  const Allocation* a = d.table.find(dptr);
  if (a == nullptr) return CUDA_ERROR_NOT_FOUND;
  if (pbase != nullptr) *pbase = a->base;
  if (psize != nullptr) *psize = a->size;
  return CUDA_SUCCESS;
}

// --- pinned host memory ----------------------------------------------------------------------------------------

XG_SIM_EXPORT_C CUresult cuMemHostAlloc(void** pp, size_t bytesize, unsigned int flags) {
  Driver& d = driver();
  std::lock_guard lk(d.mu);
  std::shared_ptr<Context> c;
  if (CUresult r = current_context_locked(d, &c); r != CUDA_SUCCESS) return r;
  constexpr unsigned kKnown = CU_MEMHOSTALLOC_PORTABLE | CU_MEMHOSTALLOC_DEVICEMAP | CU_MEMHOSTALLOC_WRITECOMBINED;
  if (pp == nullptr || bytesize == 0 || (flags & ~kKnown) != 0) return CUDA_ERROR_INVALID_VALUE;
  void* p = mmap(nullptr, Arena::round_up(bytesize), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return CUDA_ERROR_OUT_OF_MEMORY;
  Allocation a{addr_of(p), bytesize, MemKind::host_alloc, c->handle, 0, d.next_buffer_id++, flags, false};
  d.table.insert(a);
  *pp = p;
  return CUDA_SUCCESS;
}

XG_SIM_EXPORT_C CUresult cuMemAllocHost_v2(void** pp, size_t bytesize) { return cuMemHostAlloc(pp, bytesize, 0); }

XG_SIM_EXPORT_C CUresult cuMemFreeHost(void* p) {
  XG_SIM_REQUIRE_INIT(driver());
  return free_entry(addr_of(p), MemKind::host_alloc, CUDA_ERROR_INVALID_VALUE);
}

XG_SIM_EXPORT_C CUresult cuMemHostRegister_v2(void* p, size_t bytesize, unsigned int flags) {
  Driver& d = driver();
  std::lock_guard lk(d.mu);
  std::shared_ptr<Context> c;
  if (CUresult r = current_context_locked(d, &c); r != CUDA_SUCCESS) return r;
  constexpr unsigned kKnown = CU_MEMHOSTREGISTER_PORTABLE | CU_MEMHOSTREGISTER_DEVICEMAP |
                              CU_MEMHOSTREGISTER_IOMEMORY | CU_MEMHOSTREGISTER_READ_ONLY;
  if (p == nullptr || bytesize == 0 || (flags & ~kKnown) != 0) return CUDA_ERROR_INVALID_VALUE;
  if (flags & CU_MEMHOSTREGISTER_IOMEMORY) return CUDA_ERROR_NOT_SUPPORTED;
  if (addr_of(p) + bytesize < addr_of(p)) return CUDA_ERROR_INVALID_VALUE;
  if (d.table.overlaps(addr_of(p), bytesize)) return CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED;
  Allocation a{addr_of(p), bytesize, MemKind::host_registered, c->handle, 0, d.next_buffer_id++, flags, false};
  d.table.insert(a);
  return CUDA_SUCCESS;
}

XG_SIM_EXPORT_C CUresult cuMemHostUnregister(void* p) {
  XG_SIM_REQUIRE_INIT(driver());
  if (p == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return free_entry(addr_of(p), MemKind::host_registered, CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED);
}

// Pinned host memory is mapped at the same address on the (simulated) device: unified addressing.
XG_SIM_EXPORT_C CUresult cuMemHostGetDevicePointer_v2(CUdeviceptr* pdptr, void* p, unsigned int flags) {
  Driver& d = driver();
  std::lock_guard lk(d.mu);
  std::shared_ptr<Context> c;
  if (CUresult r = current_context_locked(d, &c); r != CUDA_SUCCESS) return r;
  if (pdptr == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;
  const Allocation* a = d.table.find(addr_of(p));
  if (a == nullptr || (a->kind != MemKind::host_alloc && a->kind != MemKind::host_registered))
    return CUDA_ERROR_INVALID_VALUE;
  *pdptr = addr_of(p);
  return CUDA_SUCCESS;
}

// --- pointer attributes ----------------------------------------------------------------------------------------

namespace {

size_t attribute_size(int attr) {
  switch (attr) {
    case CU_POINTER_ATTRIBUTE_CONTEXT: return sizeof(CUcontext);
    case CU_POINTER_ATTRIBUTE_MEMORY_TYPE: return sizeof(unsigned int);
    case CU_POINTER_ATTRIBUTE_DEVICE_POINTER: return sizeof(CUdeviceptr);
    case CU_POINTER_ATTRIBUTE_HOST_POINTER: return sizeof(void*);
    case CU_POINTER_ATTRIBUTE_BUFFER_ID: return sizeof(unsigned long long);
    case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL: return sizeof(int);
    case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR: return sizeof(void*);
    case CU_POINTER_ATTRIBUTE_RANGE_SIZE: return sizeof(size_t);
    case CU_POINTER_ATTRIBUTE_SYNC_MEMOPS:
    case CU_POINTER_ATTRIBUTE_IS_MANAGED:
    case CU_POINTER_ATTRIBUTE_IS_LEGACY_CUDA_IPC_CAPABLE:
    case CU_POINTER_ATTRIBUTE_MAPPED: return sizeof(unsigned int);
    default: return 0;  // not supported by the simulated driver
  }
}

template <class T>
void put(void* data, T value) {
  std::memcpy(data, &value, sizeof(T));
}

CUresult read_attribute(const Allocation& a, uintptr_t ptr, int attr, void* data) {
  const bool host = a.kind == MemKind::host_alloc || a.kind == MemKind::host_registered;
  switch (attr) {
    case CU_POINTER_ATTRIBUTE_CONTEXT: put(data, handle_of<CUcontext>(a.context)); break;
    case CU_POINTER_ATTRIBUTE_MEMORY_TYPE:
      put(data, static_cast<unsigned>(host ? CU_MEMORYTYPE_HOST : CU_MEMORYTYPE_DEVICE));
      break;
    case CU_POINTER_ATTRIBUTE_DEVICE_POINTER: put(data, static_cast<CUdeviceptr>(ptr)); break;
    case CU_POINTER_ATTRIBUTE_HOST_POINTER:
      if (!host) return CUDA_ERROR_INVALID_VALUE;  // device memory has no host mapping
      put(data, reinterpret_cast<void*>(ptr));
      break;
    case CU_POINTER_ATTRIBUTE_BUFFER_ID: put(data, static_cast<unsigned long long>(a.buffer_id)); break;
    case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL: put(data, 0); break;
    case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR: put(data, reinterpret_cast<void*>(a.base)); break;
    case CU_POINTER_ATTRIBUTE_RANGE_SIZE: put(data, a.size); break;
    case CU_POINTER_ATTRIBUTE_SYNC_MEMOPS: put(data, unsigned{a.sync_memops}); break;
    case CU_POINTER_ATTRIBUTE_IS_MANAGED: put(data, 0u); break;
    case CU_POINTER_ATTRIBUTE_IS_LEGACY_CUDA_IPC_CAPABLE: put(data, unsigned{a.kind == MemKind::device}); break;
    case CU_POINTER_ATTRIBUTE_MAPPED: put(data, 1u); break;
    default: return CUDA_ERROR_INVALID_VALUE;
  }
  return CUDA_SUCCESS;
}

}  // namespace

XG_SIM_EXPORT_C CUresult cuPointerGetAttribute(void* data, CUpointer_attribute attribute, CUdeviceptr ptr) {
  Driver& d = driver();
  std::lock_guard lk(d.mu);
  std::shared_ptr<Context> c;
  if (CUresult r = current_context_locked(d, &c); r != CUDA_SUCCESS) return r;
  const int attr = raw(attribute);
  if (data == nullptr || attribute_size(attr) == 0) return CUDA_ERROR_INVALID_VALUE;
  const Allocation* a = d.table.find(ptr);
  if (a == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return read_attribute(*a, ptr, attr, data);
}

// Unlike cuPointerGetAttribute, an unknown pointer is not an error: every attribute reads as zero / NULL.
XG_SIM_EXPORT_C CUresult cuPointerGetAttributes(unsigned int numAttributes, CUpointer_attribute* attributes,
                                                void** data, CUdeviceptr ptr) {
  Driver& d = driver();
  std::lock_guard lk(d.mu);
  std::shared_ptr<Context> c;
  if (CUresult r = current_context_locked(d, &c); r != CUDA_SUCCESS) return r;
  if (numAttributes == 0 || attributes == nullptr || data == nullptr) return CUDA_ERROR_INVALID_VALUE;
  for (unsigned i = 0; i < numAttributes; ++i)
    if (data[i] == nullptr || attribute_size(raw(attributes[i])) == 0) return CUDA_ERROR_INVALID_VALUE;
  const Allocation* a = d.table.find(ptr);
  for (unsigned i = 0; i < numAttributes; ++i) {
    const int attr = raw(attributes[i]);
    if (a == nullptr || read_attribute(*a, ptr, attr, data[i]) != CUDA_SUCCESS)
      std::memset(data[i], 0, attribute_size(attr));
  }
  return CUDA_SUCCESS;
}
