// MD2 (RFC 1319) and HMAC-MD2 (RFC 2104 over MD2's 16-byte block). The CUDA runtime checks the driver it talks to
// with a keyed MD2 digest of the process, thread, table addresses and devices (export_tables.cc, the integrity
// table); nothing else in xen-gpu uses MD2, and it is no security boundary for us.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace xg::vgpu {

using Md2Digest = std::array<uint8_t, 16>;

[[nodiscard]] Md2Digest md2(std::span<const uint8_t> message);
[[nodiscard]] Md2Digest hmac_md2(std::span<const uint8_t, 16> key, std::span<const uint8_t> message);

}  // namespace xg::vgpu
