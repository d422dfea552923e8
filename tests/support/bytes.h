// A string's bytes as the span that the transports and frame readers take (tests feed them text).
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

namespace xg::test {

inline std::span<const std::byte> bytes(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }

}  // namespace xg::test
