#include "libvgpu/image.h"

#include <elf.h>

#include <algorithm>
#include <cstring>

namespace xg::vgpu {
namespace {

constexpr uint32_t kFatbinMagic = 0xBA55ED50u;
constexpr uint32_t kFatbinWrapperMagic = 0x466243B1u;

struct FatbinHeader {
  uint32_t magic;
  uint16_t version;
  uint16_t header_size;
  uint64_t fat_size;
};
static_assert(sizeof(FatbinHeader) == 16);

struct FatbinWrapper {
  int32_t magic;
  int32_t version;
  const void* data;
  const void* filename_or_fatbins;
};
static_assert(sizeof(FatbinWrapper) == 24);

// a + b, false on overflow.
bool add(uint64_t a, uint64_t b, uint64_t* out) { return !__builtin_add_overflow(a, b, out); }
// base + count * entry, false on overflow.
bool table_end(uint64_t base, uint64_t count, uint64_t entry, uint64_t* out) {
  uint64_t bytes;
  return !__builtin_mul_overflow(count, entry, &bytes) && add(base, bytes, out);
}

bool elf_extent(const std::byte* p, uint64_t available, uint64_t* size) {
  Elf64_Ehdr eh;
  if (available < sizeof eh) return false;
  std::memcpy(&eh, p, sizeof eh);
  if (eh.e_ident[EI_CLASS] != ELFCLASS64) return false;
  uint64_t end = sizeof eh;
  if (eh.e_shoff != 0) {
    if (eh.e_shentsize != sizeof(Elf64_Shdr)) return false;
    uint64_t count = eh.e_shnum;
    if (count == 0) {  // extended numbering: section 0's sh_size holds the count
      Elf64_Shdr sh0;
      uint64_t first;
      if (!add(eh.e_shoff, sizeof sh0, &first) || first > available) return false;
      std::memcpy(&sh0, p + eh.e_shoff, sizeof sh0);
      count = sh0.sh_size;
    }
    uint64_t tend;
    if (!table_end(eh.e_shoff, count, sizeof(Elf64_Shdr), &tend) || tend > available) return false;
    end = std::max(end, tend);
    for (uint64_t i = 0; i < count; ++i) {
      Elf64_Shdr sh;
      std::memcpy(&sh, p + eh.e_shoff + i * sizeof sh, sizeof sh);
      if (sh.sh_type == SHT_NOBITS) continue;
      uint64_t send;
      if (!add(sh.sh_offset, sh.sh_size, &send)) return false;
      end = std::max(end, send);
    }
  }
  if (eh.e_phoff != 0 && eh.e_phnum != 0) {
    if (eh.e_phentsize != sizeof(Elf64_Phdr)) return false;
    uint64_t tend;
    if (!table_end(eh.e_phoff, eh.e_phnum, sizeof(Elf64_Phdr), &tend) || tend > available) return false;
    end = std::max(end, tend);
    for (uint64_t i = 0; i < eh.e_phnum; ++i) {
      Elf64_Phdr ph;
      std::memcpy(&ph, p + eh.e_phoff + i * sizeof ph, sizeof ph);
      uint64_t pend;
      if (!add(ph.p_offset, ph.p_filesz, &pend)) return false;
      end = std::max(end, pend);
    }
  }
  if (end > available) return false;  // truncated (or lying) image
  *size = end;
  return true;
}

bool fatbin_extent(const std::byte* p, uint64_t available, uint64_t* size) {
  FatbinHeader h;
  if (available < sizeof h) return false;
  std::memcpy(&h, p, sizeof h);
  if (h.magic != kFatbinMagic || h.header_size < sizeof h) return false;
  uint64_t total;
  if (!add(h.header_size, h.fat_size, &total) || total > available) return false;
  *size = total;
  return true;
}

}  // namespace

bool find_image_extent(const void* image, uint64_t available, ImageExtent* out, uint64_t wrapped_available) noexcept {
  if (image == nullptr) return false;
  available = std::min(available, kMaxImageBytes);
  const auto* p = static_cast<const std::byte*>(image);
  const auto* text = static_cast<const char*>(image);
  // No magic contains a NUL byte: a string shorter than 4 is text, and reading it stops at its NUL.
  if (strnlen(text, std::min<uint64_t>(available, 4)) >= 4) {
    uint32_t magic;
    std::memcpy(&magic, p, sizeof magic);
    if (magic == kFatbinMagic) {
      out->format = ImageFormat::kFatbin;
      out->data = p;
      return fatbin_extent(p, available, &out->size);
    }
    if (magic == kFatbinWrapperMagic) {
      FatbinWrapper w;
      if (available < sizeof w) return false;
      std::memcpy(&w, p, sizeof w);
      if (w.data == nullptr) return false;
      const auto* target = static_cast<const std::byte*>(w.data);
      uint32_t inner;
      if (wrapped_available < sizeof inner) return false;
      std::memcpy(&inner, target, sizeof inner);
      if (inner != kFatbinMagic) return false;
      out->format = ImageFormat::kFatbin;
      out->data = target;
      return fatbin_extent(target, std::min(wrapped_available, kMaxImageBytes), &out->size);
    }
    if (std::memcmp(p, ELFMAG, SELFMAG) == 0) {
      out->format = ImageFormat::kElf;
      out->data = p;
      return elf_extent(p, available, &out->size);
    }
  }
  const uint64_t n = strnlen(text, available);
  if (n == 0 || n == available) return false;  // empty, or no NUL within bounds
  out->format = ImageFormat::kText;
  out->data = p;
  out->size = n + 1;
  return true;
}

}  // namespace xg::vgpu
