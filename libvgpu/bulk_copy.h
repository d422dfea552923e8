// Copies between the application's memory and the channel's data area, the one copy a pageable transfer costs
// in a zone. Device-to-host pieces of a large copy go into the application's buffer with non-temporal stores: a
// copy of many megabytes does not fit the cache anyway, so write-allocating its bytes through it only costs
// bandwidth (glibc's memcpy makes the same choice by size, but sees only our 2 MiB pieces). Measured on the 2-core
// development VM, 2 MiB pieces from a cache-warm area into a 1 GiB buffer: 10 GB/s with memcpy, 21 GB/s with
// streaming stores. Host-to-device pieces keep memcpy: the data area is read next (by the DMA engine, or by the
// simulated driver's CPU copy), so the cache is where those bytes are wanted. Small copies keep memcpy.
#pragma once

#include <cstddef>

namespace xg::vgpu {

// Copies of at least this many bytes in all stream their pieces.
inline constexpr size_t kStreamCopyMin = 8u << 20;

// `stream`: the whole copy is at least kStreamCopyMin (pieces under 4 KiB still use memcpy).
void bulk_copy(void* dst, const void* src, size_t bytes, bool stream) noexcept;

}  // namespace xg::vgpu
