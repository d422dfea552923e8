// Device memory, pinned and registered host memory, pointer attributes, copies and memsets.
//
// Pinned host memory (cuMemAllocHost / cuMemHostAlloc) is shared with the worker, in the transport's own way
// (idm/host_pages.h: a memfd the worker makes and sends over shm, pages we lend by grant over Xen): the transport
// offers pages, MemHostAlloc makes the worker map and register them, the transport hands us our mapping.
// Copies from/to it name the allocation (HostBuf::kPinned): no staging copy, and the async forms are truly
// asynchronous. cuMemFreeHost has the worker unmap first, then drops our mapping.
// cuMemHostRegister only records the range (flags 0 / PORTABLE; others are CUDA_ERROR_NOT_SUPPORTED): the worker
// cannot reach the zone's own pages, so copies from/to a registered range are staged like pageable memory.
// Pointer attributes of zone host memory are answered locally; device pointers are asked of the worker.
#include <cstring>

#include "libvgpu/copy.h"
#include "libvgpu/state.h"

using namespace xg::vgpu;
using xg::idm::Op;
namespace idm = xg::idm;

namespace {

// The transport offers pages, the worker maps them (MemHostAlloc), the transport gives us our mapping.
CUresult pin_pages(Connection& c, uint64_t ctx, size_t bytes, unsigned flags, HostRange* range, void** out) {
  idm::ZoneHostPages* pages = c.host_pages();
  if (pages == nullptr) return CUDA_ERROR_NOT_SUPPORTED;  // a transport without shared host pages
  auto offer = pages->offer(bytes);
  if (!offer) return CUDA_ERROR_OUT_OF_MEMORY;
  Reply rep;
  const idm::MemHostAllocReq req{ctx, offer->bytes, flags, static_cast<uint32_t>(offer->from)};
  if (CUresult r = c.call<Op::MemHostAlloc>(req, offer->tail, &rep); r != CUDA_SUCCESS) return r;  // pages taken back
  const auto a = rep.fixed<idm::MemHostAllocRsp>();
  auto give_back = [&](CUresult why) {
    (void)c.call<Op::MemFreeHost>(idm::HandleReq{a.handle});
    return why;
  };
  auto mapped = pages->accept(std::move(offer.value()), a.handle, a.bytes);
  if (!mapped) {
    switch (mapped.error()) {
      case idm::Error::kPeerGone: return c.transport_error(idm::Error::kPeerGone);
      case idm::Error::kPeerImpossible:
        (void)give_back(CUDA_ERROR_UNKNOWN);
        return c.transport_error(idm::Error::kPeerImpossible);
      case idm::Error::kBadLength:
      case idm::Error::kNoMemory: return give_back(CUDA_ERROR_OUT_OF_MEMORY);
      default: return give_back(CUDA_ERROR_OPERATING_SYSTEM);
    }
  }
  range->bytes = a.bytes;
  range->handle = a.handle;
  range->device_ptr = a.device_ptr;
  range->pages = std::move(mapped.value());
  *out = range->pages->bytes().data();
  return CUDA_SUCCESS;
}

CUresult host_alloc(void** pp, size_t bytes, unsigned flags) {
  VGPU_SESSION_WITH_CONTEXT(s);
  if (pp == nullptr || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  constexpr unsigned kKnown = CU_MEMHOSTALLOC_PORTABLE | CU_MEMHOSTALLOC_DEVICEMAP | CU_MEMHOSTALLOC_WRITECOMBINED;
  if ((flags & ~kKnown) != 0) return CUDA_ERROR_INVALID_VALUE;
  Connection& c = s.conn();
  HostRange range;
  void* p = nullptr;
  if (CUresult r = pin_pages(c, s.ctx(), bytes, flags, &range, &p); r != CUDA_SUCCESS) return r;
  if (!(flags & CU_MEMHOSTALLOC_DEVICEMAP)) range.device_ptr = 0;
  range.ctx = s.ctx();
  range.buffer_id = s.st().next_buffer_id++;
  range.flags = flags;
  range.pinned = true;
  s.st().host[reinterpret_cast<uintptr_t>(p)] = std::move(range);
  *pp = p;
  return CUDA_SUCCESS;
}

// Size in bytes of an attribute's value; 0 = not one libvgpu answers.
size_t attribute_size(int attr) {
  switch (attr) {
    case CU_POINTER_ATTRIBUTE_CONTEXT:
    case CU_POINTER_ATTRIBUTE_HOST_POINTER:
    case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR: return sizeof(void*);
    case CU_POINTER_ATTRIBUTE_DEVICE_POINTER: return sizeof(CUdeviceptr);
    case CU_POINTER_ATTRIBUTE_BUFFER_ID: return sizeof(unsigned long long);
    case CU_POINTER_ATTRIBUTE_RANGE_SIZE: return sizeof(size_t);
    case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL: return sizeof(int);
    case CU_POINTER_ATTRIBUTE_MEMORY_TYPE:
    case CU_POINTER_ATTRIBUTE_SYNC_MEMOPS:
    case CU_POINTER_ATTRIBUTE_IS_MANAGED:
    case CU_POINTER_ATTRIBUTE_IS_LEGACY_CUDA_IPC_CAPABLE:
    case CU_POINTER_ATTRIBUTE_MAPPED: return sizeof(unsigned int);
    default: return 0;
  }
}

// The value of `attr` for zone host memory, widened.
CUresult host_attribute(uintptr_t base, const HostRange& r, uintptr_t ptr, int attr, uint64_t* v) {
  switch (attr) {
    case CU_POINTER_ATTRIBUTE_CONTEXT: *v = r.ctx; break;
    case CU_POINTER_ATTRIBUTE_MEMORY_TYPE: *v = CU_MEMORYTYPE_HOST; break;
    case CU_POINTER_ATTRIBUTE_DEVICE_POINTER:
      if (r.device_ptr == 0) return CUDA_ERROR_INVALID_VALUE;  // not mapped into the device's address space
      *v = r.device_ptr + (ptr - base);
      break;
    case CU_POINTER_ATTRIBUTE_HOST_POINTER: *v = ptr; break;
    case CU_POINTER_ATTRIBUTE_BUFFER_ID: *v = r.buffer_id; break;
    case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL: *v = 0; break;
    case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR: *v = base; break;
    case CU_POINTER_ATTRIBUTE_RANGE_SIZE: *v = r.bytes; break;
    case CU_POINTER_ATTRIBUTE_SYNC_MEMOPS:
    case CU_POINTER_ATTRIBUTE_IS_MANAGED:
    case CU_POINTER_ATTRIBUTE_IS_LEGACY_CUDA_IPC_CAPABLE: *v = 0; break;
    case CU_POINTER_ATTRIBUTE_MAPPED: *v = r.pinned ? 1 : 0; break;
    default: return CUDA_ERROR_INVALID_VALUE;
  }
  return CUDA_SUCCESS;
}

CUresult pointer_attribute(Session& s, int attr, CUdeviceptr ptr, void* data) {
  const size_t size = attribute_size(attr);
  if (data == nullptr || size == 0) return CUDA_ERROR_INVALID_VALUE;
  uint64_t v = 0;
  if (auto [base, r] = s.st().find_host(ptr); r != nullptr) {
    if (CUresult e = host_attribute(base, *r, ptr, attr, &v); e != CUDA_SUCCESS) return e;
  } else {
    Reply rep;
    idm::PointerAttrReq req{s.ctx(), ptr, attr, 0};
    if (CUresult e = s.conn().call<Op::PointerGetAttribute>(req, {}, &rep); e != CUDA_SUCCESS) return e;
    v = rep.fixed<idm::PointerAttrRsp>().value;
  }
  if (size == sizeof(uint64_t)) {
    std::memcpy(data, &v, sizeof v);
  } else {
    const uint32_t narrow = static_cast<uint32_t>(v);
    std::memcpy(data, &narrow, sizeof narrow);
  }
  return CUDA_SUCCESS;
}

CUresult memset_impl(CUdeviceptr dst, uint32_t value, uint32_t element, size_t count, CUstream stream, bool async) {
  VGPU_SESSION_WITH_CONTEXT(s);
  if (async && !s.st().live_stream(wire_stream(stream))) return CUDA_ERROR_INVALID_HANDLE;
  if (count == 0) return CUDA_SUCCESS;
  const idm::MemsetReq req{s.ctx(), async ? wire_stream(stream) : 0, dst, count, value, element};
  return async ? s.conn().post<Op::MemsetAsync>(req) : s.conn().call<Op::Memset>(req);
}

}  // namespace

extern "C" {

// --- device memory ----------------------------------------------------------------------------------------------

CUresult cuMemAlloc_v2(CUdeviceptr* dptr, size_t bytesize) {
  return guard([&]() -> CUresult {
    VGPU_SESSION_WITH_CONTEXT(s);
    if (dptr == nullptr || bytesize == 0) return CUDA_ERROR_INVALID_VALUE;
    Reply rep;
    if (CUresult r = s.conn().call<Op::MemAlloc>(idm::MemAllocReq{s.ctx(), bytesize}, {}, &rep); r != CUDA_SUCCESS)
      return r;
    *dptr = rep.fixed<idm::U64Rsp>().value;
    return CUDA_SUCCESS;
  });
}

CUresult cuMemAllocPitch_v2(CUdeviceptr* dptr, size_t* pPitch, size_t WidthInBytes, size_t Height,
                            unsigned int ElementSizeBytes) {
  return guard([&]() -> CUresult {
    VGPU_SESSION_WITH_CONTEXT(s);
    if (dptr == nullptr || pPitch == nullptr || WidthInBytes == 0 || Height == 0) return CUDA_ERROR_INVALID_VALUE;
    if (ElementSizeBytes != 4 && ElementSizeBytes != 8 && ElementSizeBytes != 16) return CUDA_ERROR_INVALID_VALUE;
    Reply rep;
    const idm::MemAllocPitchReq req{s.ctx(), WidthInBytes, Height, ElementSizeBytes, 0};
    if (CUresult r = s.conn().call<Op::MemAllocPitch>(req, {}, &rep); r != CUDA_SUCCESS) return r;
    const auto p = rep.fixed<idm::MemPitchRsp>();
    *dptr = p.dptr;
    *pPitch = p.pitch;
    return CUDA_SUCCESS;
  });
}

CUresult cuMemFree_v2(CUdeviceptr dptr) {
  return guard([&]() -> CUresult {
    VGPU_SESSION_WITH_CONTEXT(s);
    return s.conn().call<Op::MemFree>(idm::PtrReq{s.ctx(), dptr});
  });
}

CUresult cuMemGetInfo_v2(size_t* free, size_t* total) {
  return guard([&]() -> CUresult {
    VGPU_SESSION_WITH_CONTEXT(s);
    if (free == nullptr || total == nullptr) return CUDA_ERROR_INVALID_VALUE;
    Reply rep;
    if (CUresult r = s.conn().call<Op::MemGetInfo>(idm::CtxReq{s.ctx()}, {}, &rep); r != CUDA_SUCCESS) return r;
    const auto m = rep.fixed<idm::MemInfoRsp>();
    *free = m.free;
    *total = m.total;
    return CUDA_SUCCESS;
  });
}

CUresult cuMemGetAddressRange_v2(CUdeviceptr* pbase, size_t* psize, CUdeviceptr dptr) {
  return guard([&]() -> CUresult {
    VGPU_SESSION_WITH_CONTEXT(s);
    Reply rep;
    if (CUresult r = s.conn().call<Op::MemGetAddressRange>(idm::PtrReq{s.ctx(), dptr}, {}, &rep); r != CUDA_SUCCESS)
      return r;
    const auto range = rep.fixed<idm::RangeRsp>();
    if (pbase != nullptr) *pbase = range.base;
    if (psize != nullptr) *psize = range.size;
    return CUDA_SUCCESS;
  });
}

// --- host memory ------------------------------------------------------------------------------------------------

CUresult cuMemHostAlloc(void** pp, size_t bytesize, unsigned int Flags) {
  return guard([&] { return host_alloc(pp, bytesize, Flags); });
}

CUresult cuMemAllocHost_v2(void** pp, size_t bytesize) {
  return guard([&] { return host_alloc(pp, bytesize, 0); });
}

CUresult cuMemFreeHost(void* p) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    auto it = s.st().host.find(reinterpret_cast<uintptr_t>(p));
    if (p == nullptr || it == s.st().host.end() || !it->second.pinned) return CUDA_ERROR_INVALID_VALUE;
    const HostRange r = std::move(it->second);
    s.st().host.erase(it);
    // The worker unmaps first; then `r` drops our mapping (lent pages could go back at any time anyway: the
    // transport defers freeing them until the worker has unmapped them).
    return s.conn().call<Op::MemFreeHost>(idm::HandleReq{r.handle});
  });
}

CUresult cuMemHostRegister_v2(void* p, size_t bytesize, unsigned int Flags) {
  return guard([&]() -> CUresult {
    VGPU_SESSION_WITH_CONTEXT(s);
    if (p == nullptr || bytesize == 0) return CUDA_ERROR_INVALID_VALUE;
    if ((Flags & ~unsigned(CU_MEMHOSTREGISTER_PORTABLE)) != 0) return CUDA_ERROR_NOT_SUPPORTED;
    const auto base = reinterpret_cast<uintptr_t>(p);
    if (base + bytesize < base) return CUDA_ERROR_INVALID_VALUE;
    // Overlap with any known range: the one starting at or before `base`, or one starting inside the new range.
    auto next = s.st().host.lower_bound(base);
    if (next != s.st().host.end() && next->first < base + bytesize) return CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED;
    if (s.st().find_host(base).second != nullptr) return CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED;
    HostRange range;
    range.bytes = bytesize;
    range.ctx = s.ctx();
    range.buffer_id = s.st().next_buffer_id++;
    range.flags = Flags;
    s.st().host[base] = range;
    return CUDA_SUCCESS;
  });
}

CUresult cuMemHostUnregister(void* p) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    auto it = s.st().host.find(reinterpret_cast<uintptr_t>(p));
    if (p == nullptr || it == s.st().host.end() || it->second.pinned) return CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED;
    s.st().host.erase(it);
    return CUDA_SUCCESS;
  });
}

CUresult cuMemHostGetDevicePointer_v2(CUdeviceptr* pdptr, void* p, unsigned int Flags) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    if (pdptr == nullptr || p == nullptr || Flags != 0) return CUDA_ERROR_INVALID_VALUE;
    auto [base, r] = s.st().find_host(reinterpret_cast<uintptr_t>(p));
    if (r == nullptr || r->device_ptr == 0) return CUDA_ERROR_INVALID_VALUE;
    *pdptr = r->device_ptr + (reinterpret_cast<uintptr_t>(p) - base);
    return CUDA_SUCCESS;
  });
}

CUresult cuPointerGetAttribute(void* data, CUpointer_attribute attribute, CUdeviceptr ptr) {
  return guard([&]() -> CUresult {
    VGPU_SESSION_WITH_CONTEXT(s);
    return pointer_attribute(s, raw(attribute), ptr, data);
  });
}

// Unlike cuPointerGetAttribute, a pointer the driver does not know is not an error: every attribute reads as zero.
CUresult cuPointerGetAttributes(unsigned int numAttributes, CUpointer_attribute* attributes, void** data,
                                CUdeviceptr ptr) {
  return guard([&]() -> CUresult {
    VGPU_SESSION_WITH_CONTEXT(s);
    if (numAttributes == 0 || attributes == nullptr || data == nullptr) return CUDA_ERROR_INVALID_VALUE;
    for (unsigned i = 0; i < numAttributes; ++i) {
      const int attr = raw(attributes[i]);
      const size_t size = attribute_size(attr);
      if (size == 0 || data[i] == nullptr) return CUDA_ERROR_INVALID_VALUE;
      CUresult r = pointer_attribute(s, attr, ptr, data[i]);
      if (r == CUDA_ERROR_INVALID_VALUE) {
        std::memset(data[i], 0, size);
      } else if (r != CUDA_SUCCESS) {
        return r;
      }
    }
    return CUDA_SUCCESS;
  });
}

// --- copies -----------------------------------------------------------------------------------------------------

CUresult cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount) {
  return guard([&]() -> CUresult {
    VGPU_SESSION_WITH_CONTEXT(s);
    return copy_unified(s, dst, src, ByteCount, 0, false);
  });
}

CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount, CUstream hStream) {
  return guard([&]() -> CUresult {
    VGPU_SESSION_WITH_CONTEXT(s);
    if (!s.st().live_stream(wire_stream(hStream))) return CUDA_ERROR_INVALID_HANDLE;
    return copy_unified(s, dst, src, ByteCount, wire_stream(hStream), true);
  });
}

CUresult cuMemcpyHtoD_v2(CUdeviceptr dstDevice, const void* srcHost, size_t ByteCount) {
  return guard([&]() -> CUresult {
    VGPU_SESSION_WITH_CONTEXT(s);
    return copy_htod(s, dstDevice, srcHost, ByteCount, 0, false);
  });
}

CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dstDevice, const void* srcHost, size_t ByteCount, CUstream hStream) {
  return guard([&]() -> CUresult {
    VGPU_SESSION_WITH_CONTEXT(s);
    if (!s.st().live_stream(wire_stream(hStream))) return CUDA_ERROR_INVALID_HANDLE;
    return copy_htod(s, dstDevice, srcHost, ByteCount, wire_stream(hStream), true);
  });
}

CUresult cuMemcpyDtoH_v2(void* dstHost, CUdeviceptr srcDevice, size_t ByteCount) {
  return guard([&]() -> CUresult {
    VGPU_SESSION_WITH_CONTEXT(s);
    return copy_dtoh(s, dstHost, srcDevice, ByteCount, 0, false);
  });
}

CUresult cuMemcpyDtoHAsync_v2(void* dstHost, CUdeviceptr srcDevice, size_t ByteCount, CUstream hStream) {
  return guard([&]() -> CUresult {
    VGPU_SESSION_WITH_CONTEXT(s);
    if (!s.st().live_stream(wire_stream(hStream))) return CUDA_ERROR_INVALID_HANDLE;
    return copy_dtoh(s, dstHost, srcDevice, ByteCount, wire_stream(hStream), true);
  });
}

CUresult cuMemcpyDtoD_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount) {
  return guard([&]() -> CUresult {
    VGPU_SESSION_WITH_CONTEXT(s);
    return copy_dtod(s, dstDevice, srcDevice, ByteCount, 0, false);
  });
}

CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount, CUstream hStream) {
  return guard([&]() -> CUresult {
    VGPU_SESSION_WITH_CONTEXT(s);
    if (!s.st().live_stream(wire_stream(hStream))) return CUDA_ERROR_INVALID_HANDLE;
    return copy_dtod(s, dstDevice, srcDevice, ByteCount, wire_stream(hStream), true);
  });
}

CUresult cuMemcpy2D_v2(const CUDA_MEMCPY2D* pCopy) {
  return guard([&]() -> CUresult {
    VGPU_SESSION_WITH_CONTEXT(s);
    if (pCopy == nullptr) return CUDA_ERROR_INVALID_VALUE;
    return copy_2d(s, *pCopy, 0, false);
  });
}

CUresult cuMemcpy2DAsync_v2(const CUDA_MEMCPY2D* pCopy, CUstream hStream) {
  return guard([&]() -> CUresult {
    VGPU_SESSION_WITH_CONTEXT(s);
    if (pCopy == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (!s.st().live_stream(wire_stream(hStream))) return CUDA_ERROR_INVALID_HANDLE;
    return copy_2d(s, *pCopy, wire_stream(hStream), true);
  });
}

// --- memsets ----------------------------------------------------------------------------------------------------

CUresult cuMemsetD8_v2(CUdeviceptr dstDevice, unsigned char uc, size_t N) {
  return guard([&] { return memset_impl(dstDevice, uc, 1, N, nullptr, false); });
}
CUresult cuMemsetD16_v2(CUdeviceptr dstDevice, unsigned short us, size_t N) {
  return guard([&] { return memset_impl(dstDevice, us, 2, N, nullptr, false); });
}
CUresult cuMemsetD32_v2(CUdeviceptr dstDevice, unsigned int ui, size_t N) {
  return guard([&] { return memset_impl(dstDevice, ui, 4, N, nullptr, false); });
}
CUresult cuMemsetD8Async(CUdeviceptr dstDevice, unsigned char uc, size_t N, CUstream hStream) {
  return guard([&] { return memset_impl(dstDevice, uc, 1, N, hStream, true); });
}
CUresult cuMemsetD16Async(CUdeviceptr dstDevice, unsigned short us, size_t N, CUstream hStream) {
  return guard([&] { return memset_impl(dstDevice, us, 2, N, hStream, true); });
}
CUresult cuMemsetD32Async(CUdeviceptr dstDevice, unsigned int ui, size_t N, CUstream hStream) {
  return guard([&] { return memset_impl(dstDevice, ui, 4, N, hStream, true); });
}

}  // extern "C"
