// Sizes on command lines and in config files: "512MiB", "2GiB", "1G", "4096".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace xg::proxy {

[[nodiscard]] std::optional<uint64_t> parse_size(std::string_view s) noexcept;
[[nodiscard]] std::string format_size(uint64_t bytes);

}  // namespace xg::proxy
