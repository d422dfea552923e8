#include "libvgpu/bulk_copy.h"

#include <emmintrin.h>

#include <cstdint>
#include <cstring>

namespace xg::vgpu {

void bulk_copy(void* dst, const void* src, size_t bytes, bool stream) noexcept {
  auto* d = static_cast<char*>(dst);
  auto* s = static_cast<const char*>(src);
  if (!stream || bytes < 4096) {
    std::memcpy(d, s, bytes);
    return;
  }
  // Align the destination to 16 bytes (streaming stores need it), then 64 bytes per round, then the tail.
  const size_t head = (16 - (reinterpret_cast<uintptr_t>(d) & 15)) & 15;
  std::memcpy(d, s, head);
  d += head;
  s += head;
  bytes -= head;
  for (; bytes >= 64; bytes -= 64, d += 64, s += 64) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 16));
    const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 32));
    const __m128i e = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 48));
    _mm_stream_si128(reinterpret_cast<__m128i*>(d), a);
    _mm_stream_si128(reinterpret_cast<__m128i*>(d + 16), b);
    _mm_stream_si128(reinterpret_cast<__m128i*>(d + 32), c);
    _mm_stream_si128(reinterpret_cast<__m128i*>(d + 48), e);
  }
  // Streaming stores are weakly ordered: fence them before the bytes are published (a message naming the data
  // area goes out after this returns; the application reads its buffer after the call returns).
  _mm_sfence();
  std::memcpy(d, s, bytes);
}

}  // namespace xg::vgpu
