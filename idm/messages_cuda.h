// Payloads of the CUDA Driver API messages (zone <-> proxy worker). Wire rules: see protocol.h.
//
// Conventions:
//  - Driver objects travel as opaque 64-bit handles from the zone's handle table (never real pointers).
//  - `ctx` is the calling thread's current context handle (libvgpu keeps the per-thread context stack); the worker
//    makes it current before the call. 0 = "no current context" (the worker answers CUDA_ERROR_INVALID_CONTEXT
//    where the driver would).
//  - Device addresses are real addresses in the zone's own GPU address space; every range is checked against the
//    zone's allocation table before it reaches the driver.
//  - Bulk bytes travel through the channel's data area (offset + length, bounds-checked), small ones in tails.
//  - Calls marked kPost in the table are fire-and-forget: their errors surface at the next synchronising call.
#pragma once

#include <cstdint>
#include <span>

namespace xg::idm {

// --- initialisation and devices -------------------------------------------------------------------------------
struct InitReq {
  uint32_t flags;
  uint32_t reserved;
};
struct InitRsp {
  int32_t driver_version;  // what the proxy's driver reports (libvgpu reports min(this, what it implements))
  int32_t device_count;
  uint32_t zone_id;
  uint32_t reserved;
};

inline constexpr uint32_t kMaxDeviceAttribute = 160;  // attributes 1..159 are fetched in one call and cached
struct DeviceInfoReq {
  int32_t ordinal;
  uint32_t reserved;
};
struct DeviceInfoRsp {
  char name[256];
  uint8_t uuid[16];
  uint64_t total_mem;  // the zone's view: its quota, not the physical GPU
  int32_t cc_major;
  int32_t cc_minor;
  // attribute values 0..kMaxDeviceAttribute-1 (0 where the driver answers an error) follow as an int32 tail
};

// --- contexts ---------------------------------------------------------------------------------------------------
struct DeviceOnlyReq {  // primary-context calls name only a device
  int32_t dev;
  uint32_t flags;  // SetFlags: the flags; otherwise 0
};
struct CtxRsp {
  uint64_t ctx;
};
struct PrimaryCtxStateRsp {
  uint32_t flags;
  int32_t active;
};
struct CtxCreateReq {
  uint32_t flags;
  int32_t dev;
};
struct CtxReq {  // calls that name only a context
  uint64_t ctx;
};
struct CtxLimitReq {
  uint64_t ctx;
  uint32_t limit;
  uint32_t reserved;
  uint64_t value;  // SetLimit only
};
struct U64Rsp {
  uint64_t value;
};
struct U32Rsp {
  uint32_t value;
  uint32_t reserved;
};

// --- device memory ----------------------------------------------------------------------------------------------
struct MemAllocReq {
  uint64_t ctx;
  uint64_t bytes;
};
struct MemAllocPitchReq {
  uint64_t ctx;
  uint64_t width_bytes;
  uint64_t height;
  uint32_t element_bytes;
  uint32_t reserved;
};
struct MemPitchRsp {
  uint64_t dptr;
  uint64_t pitch;
};
struct PtrReq {  // MemFree, MemGetAddressRange
  uint64_t ctx;
  uint64_t dptr;
};
struct MemInfoRsp {
  uint64_t free;
  uint64_t total;
};
struct RangeRsp {
  uint64_t base;
  uint64_t size;
};

// Pinned host memory: shared pages the worker maps and registers with the driver. Who provides them:
//   kProxy: the worker allocates them; their memfd follows the response on the zone's socket (shm transport).
//   kLent:  the zone lends its own pages (Xen: granted, as Xen frontends do); the request tail holds the refs of
//           the directory pages that list the pages' refs, kLendRefsPerDirPage per directory page.
enum class HostPages : uint32_t { kProxy = 0, kLent = 1 };
inline constexpr uint32_t kLendRefsPerDirPage = 1024;  // 32-bit refs in a 4 KiB page
inline constexpr uint32_t kMaxLendDirPages = 64;       // 256 MiB: gntdev maps at most 65536 grants at once
inline constexpr uint32_t kMaxLendPages = kMaxLendDirPages * kLendRefsPerDirPage;
[[nodiscard]] constexpr uint32_t lend_dir_pages(uint64_t pages) noexcept {
  return static_cast<uint32_t>((pages + kLendRefsPerDirPage - 1) / kLendRefsPerDirPage);
}
struct MemHostAllocReq {
  uint64_t ctx;
  uint64_t bytes;  // kLent: a whole number of 4 KiB pages, at most kMaxLendPages of them
  uint32_t flags;  // CU_MEMHOSTALLOC_*
  uint32_t pages_from;  // HostPages
  [[nodiscard]] bool valid(std::span<const std::byte> tail) const noexcept;
};
struct MemHostAllocRsp {
  uint64_t handle;
  uint64_t bytes;         // rounded to pages
  uint64_t device_ptr;    // for CU_MEMHOSTALLOC_DEVICEMAP (0 otherwise)
};
struct HandleReq {  // calls that name one object: MemFreeHost, ModuleUnload, StreamDestroy, ...
  uint64_t handle;
};
struct CtxHandleReq {  // calls that name an object and the context they act in: KernelGetFunction, ...
  uint64_t ctx;
  uint64_t handle;
};

// Where the host side of a copy lives.
enum class HostBuf : uint32_t {
  kTail = 0,       // in the message tail (HtoD) / the response tail (DtoH); small copies
  kDataArea = 1,   // at `offset` in the channel's data area
  kPinned = 2,     // at `offset` in the pinned host allocation `handle`
};
struct MemcpyHtoDReq {
  uint64_t ctx;
  uint64_t stream;  // 0 = legacy default stream; async forms only
  uint64_t dst;
  uint64_t bytes;
  uint32_t src_kind;  // HostBuf
  uint32_t reserved;
  uint64_t src_handle;
  uint64_t src_offset;
  [[nodiscard]] bool valid(std::span<const std::byte> tail) const noexcept;
};
struct MemcpyDtoHReq {
  uint64_t ctx;
  uint64_t stream;
  uint64_t src;
  uint64_t bytes;
  uint32_t dst_kind;  // HostBuf
  uint32_t reserved;
  uint64_t dst_handle;
  uint64_t dst_offset;
  [[nodiscard]] bool valid(std::span<const std::byte> tail) const noexcept;
};
struct MemcpyDtoDReq {
  uint64_t ctx;
  uint64_t stream;
  uint64_t dst;
  uint64_t src;
  uint64_t bytes;
};
// cuMemcpy2D between device memory and device memory, the data area (rows packed at `host_offset` with pitch
// = width_bytes) or a pinned allocation. The host side's layout is described by host_kind/host_handle/offset.
struct Memcpy2DReq {
  uint64_t ctx;
  uint64_t stream;
  uint64_t src_x_bytes, src_y;
  uint64_t src_device;  // when the source is device memory
  uint64_t src_pitch;
  uint64_t dst_x_bytes, dst_y;
  uint64_t dst_device;
  uint64_t dst_pitch;
  uint64_t width_bytes;
  uint64_t height;
  uint32_t src_is_host;  // 0/1
  uint32_t dst_is_host;  // 0/1
  uint32_t host_kind;    // HostBuf (kDataArea or kPinned) for the host side
  uint32_t reserved;
  uint64_t host_handle;
  uint64_t host_offset;
  [[nodiscard]] bool valid(std::span<const std::byte> tail) const noexcept;
};
struct MemsetReq {
  uint64_t ctx;
  uint64_t stream;
  uint64_t dst;
  uint64_t count;         // elements
  uint32_t value;
  uint32_t element_bytes;  // 1, 2 or 4
  [[nodiscard]] bool valid(std::span<const std::byte> tail) const noexcept;
};

// --- modules, libraries, functions ------------------------------------------------------------------------------
// Images are staged first: BlobPut appends data-area bytes to the worker's staging blob (bounded), then a load
// call consumes the blob.
inline constexpr uint64_t kMaxBlobBytes = 512ull << 20;
struct BlobPutReq {
  uint64_t blob_offset;  // must equal the bytes staged so far (appends only); 0 starts a new blob
  uint64_t data_offset;  // in the data area
  uint64_t bytes;
};
struct ModuleLoadReq {
  uint64_t ctx;
  uint64_t blob_bytes;
  uint32_t kind;  // 0 = module, 1 = library (CUDA 12 library API)
  uint32_t reserved;
};
inline constexpr uint32_t kMaxSymbolName = 1024;
// name follows as a tail (no NUL); for ModuleGetFunction, ModuleGetGlobal, LibraryGetKernel
struct NamedReq {
  uint64_t handle;
  [[nodiscard]] bool valid(std::span<const std::byte> tail) const noexcept;
};
inline constexpr uint32_t kMaxKernelParams = 512;
// param_count when the driver cannot report parameter layouts (cuFuncGetParamInfo is CUDA 12.4+): only
// `extra`-style launches (a caller-packed buffer) are possible then.
inline constexpr uint32_t kParamLayoutUnknown = 0xFFFFFFFFu;
struct FunctionRsp {
  uint64_t function;
  uint32_t param_count;   // the layout follows as a tail of {offset, size} uint32 pairs (or kParamLayoutUnknown)
  uint32_t param_bytes;   // total packed size
};
struct GlobalRsp {
  uint64_t dptr;
  uint64_t bytes;
};
struct FuncAttrReq {
  uint64_t function;
  int32_t attrib;
  int32_t value;  // SetAttribute only
};
struct PriorityRangeRsp {
  int32_t least;
  int32_t greatest;
};
struct I32Rsp {
  int32_t value;
  uint32_t reserved;
};

// cuLaunchKernel / cuLaunchKernelEx. The tail is `attr_count` launch attributes (72 bytes each, the driver's
// CUlaunchAttribute layout) followed by `param_bytes` of packed parameters (the function's layout).
inline constexpr uint32_t kLaunchAttrBytes = 72;
inline constexpr uint32_t kMaxLaunchAttrs = 8;
inline constexpr uint32_t kMaxParamBytes = 32764;  // the driver's limit for kernel parameters (CUDA 12.1+)
struct LaunchReq {
  uint64_t ctx;
  uint64_t function;
  uint64_t stream;
  uint32_t grid[3];
  uint32_t block[3];
  uint32_t shared_bytes;
  uint32_t attr_count;
  uint32_t param_bytes;
  uint32_t reserved;
  [[nodiscard]] bool valid(std::span<const std::byte> tail) const noexcept;
};

struct OccupancyReq {
  uint64_t function;
  int32_t block_size;
  uint32_t flags;
  uint64_t dynamic_smem;
  int32_t block_size_limit;
  uint32_t reserved;
};
struct OccupancyRsp {
  int32_t a;  // MaxActiveBlocks: blocks; MaxPotentialBlockSize: min grid size
  int32_t b;  // MaxPotentialBlockSize: block size
};

// --- streams and events -----------------------------------------------------------------------------------------
// Stream-scoped calls carry the context too: stream 0 is the legacy default stream *of the calling thread's
// current context*.
struct StreamReq {
  uint64_t ctx;
  uint64_t stream;
};
struct StreamCreateReq {
  uint64_t ctx;
  uint32_t flags;
  int32_t priority;
};
struct StreamWaitEventReq {
  uint64_t stream;
  uint64_t event;
  uint32_t flags;
  uint32_t reserved;
};
struct EventCreateReq {
  uint64_t ctx;
  uint32_t flags;
  uint32_t reserved;
};
struct EventRecordReq {
  uint64_t event;
  uint64_t stream;  // 0 = the legacy stream of the event's context
};
struct EventPairReq {
  uint64_t start;
  uint64_t end;
};
struct FloatRsp {
  uint32_t bits;  // the float's bit pattern (floats have no unique object representation)
  uint32_t reserved;
};

// --- pointers ---------------------------------------------------------------------------------------------------
struct PointerAttrReq {
  uint64_t ctx;
  uint64_t ptr;
  int32_t attrib;
  uint32_t reserved;
};
struct PointerAttrRsp {
  uint64_t value;  // widened; libvgpu narrows to the attribute's type
};

}  // namespace xg::idm
