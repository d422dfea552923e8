// Structural validators for the CUDA messages: what can be checked from the message alone. Ranges against the
// zone's allocations and handles against its table are the worker's job (it has the state).
#include "idm/messages_cuda.h"

#include <algorithm>

#include "idm/messages.h"

namespace xg::idm {
namespace {

bool host_kind_ok(uint32_t kind) { return kind <= static_cast<uint32_t>(HostBuf::kPinned); }

// A symbol name: printable, no NUL, non-empty (the bound is the table's tail bound).
bool symbol_ok(std::span<const std::byte> name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](std::byte b) {
    const auto c = static_cast<unsigned char>(b);
    return c > 0x20 && c < 0x7f;
  });
}

}  // namespace

bool MemHostAllocReq::valid(std::span<const std::byte> tail) const noexcept {
  if (pages_from == static_cast<uint32_t>(HostPages::kProxy)) return tail.empty();
  if (pages_from != static_cast<uint32_t>(HostPages::kLent)) return false;
  if (bytes == 0 || bytes % 4096 != 0 || bytes / 4096 > kMaxLendPages) return false;
  return tail.size() == size_t{lend_dir_pages(bytes / 4096)} * sizeof(uint32_t);
}

bool MemcpyHtoDReq::valid(std::span<const std::byte> tail) const noexcept {
  if (!host_kind_ok(src_kind) || reserved != 0) return false;
  // Inline copies carry exactly their bytes; others carry none.
  if (src_kind == static_cast<uint32_t>(HostBuf::kTail)) return tail.size() == bytes;
  return tail.empty();
}

bool MemcpyDtoHReq::valid(std::span<const std::byte> tail) const noexcept {
  if (!host_kind_ok(dst_kind) || reserved != 0 || !tail.empty()) return false;
  return dst_kind != static_cast<uint32_t>(HostBuf::kTail) || bytes <= IDM_INLINE_COPY;
}

bool Memcpy2DReq::valid(std::span<const std::byte>) const noexcept {
  if (src_is_host > 1 || dst_is_host > 1 || reserved != 0) return false;
  if (src_is_host && dst_is_host) return false;  // host-to-host is the zone's own business
  if ((src_is_host || dst_is_host) && host_kind != static_cast<uint32_t>(HostBuf::kDataArea) &&
      host_kind != static_cast<uint32_t>(HostBuf::kPinned))
    return false;
  return true;
}

bool MemsetReq::valid(std::span<const std::byte>) const noexcept {
  if (element_bytes != 1 && element_bytes != 2 && element_bytes != 4) return false;
  if (element_bytes == 1 && value > 0xff) return false;
  if (element_bytes == 2 && value > 0xffff) return false;
  return true;
}

bool NamedReq::valid(std::span<const std::byte> tail) const noexcept { return symbol_ok(tail); }

bool LaunchReq::valid(std::span<const std::byte> tail) const noexcept {
  if (reserved != 0 || attr_count > kMaxLaunchAttrs || param_bytes > kMaxParamBytes) return false;
  if (tail.size() != size_t{attr_count} * kLaunchAttrBytes + param_bytes) return false;
  for (uint32_t g : grid)
    if (g == 0) return false;
  for (uint32_t b : block)
    if (b == 0) return false;
  return true;
}

}  // namespace xg::idm
