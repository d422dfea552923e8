// Module images handed to cuModuleLoadData & co. come without a length: the driver finds it from the format.
// We must know it to stage the image to the worker (BlobPut through the data area).
//
//   ELF (cubin, or the simulated driver's CPU module): the furthest byte named by the ELF header, the section and
//     program header tables, and every section (not NOBITS) and segment. ELF64 only.
//   fatbinary (magic 0xBA55ED50): a 16-byte header {magic, version u16, headerSize u16, fatSize u64};
//     the image is headerSize + fatSize bytes.
//   fatbin wrapper (magic 0x466243B1, nvcc's __fatBinC_Wrapper_t {magic, version, data*, filename*}): the image is
//     the fatbinary its `data` pointer names.
//   anything else: NUL-terminated (PTX) text, the NUL included.
//
// Hostile or truncated headers never make us read past `available` bytes from the start of the image (callers
// that do not know pass kMaxImageBytes) nor produce a size over it; overflow-safe throughout.
#pragma once

#include <cstddef>
#include <cstdint>

#include "idm/messages_cuda.h"

namespace xg::vgpu {

inline constexpr uint64_t kMaxImageBytes = idm::kMaxBlobBytes;

enum class ImageFormat : uint8_t { kElf, kFatbin, kText };

struct ImageExtent {
  ImageFormat format = ImageFormat::kText;
  const std::byte* data = nullptr;  // where the bytes to stage start (a wrapper's fatbinary, not the wrapper)
  uint64_t size = 0;
};

// false: not a well-formed image of any format (CUDA_ERROR_INVALID_IMAGE).
// `available`: how many bytes from `image` may be read; `wrapped_available`: the same for a wrapper's target.
[[nodiscard]] bool find_image_extent(const void* image, uint64_t available, ImageExtent* out,
                                     uint64_t wrapped_available = kMaxImageBytes) noexcept;

}  // namespace xg::vgpu
