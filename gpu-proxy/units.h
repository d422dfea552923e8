// Numbers on command lines, in config files and on the admin socket, parsed in one place: sizes ("512MiB",
// "2GiB", "1G", "4096"), counts within a range, weights; sizes and durations formatted for people.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace xg::proxy {

[[nodiscard]] std::optional<uint64_t> parse_size(std::string_view s) noexcept;
[[nodiscard]] std::string format_size(uint64_t bytes);
// A duration for people, at most 3 significant figures: "0s", "850us", "12ms", "4.20s", "7m05s", "2h03m", "3d04h".
[[nodiscard]] std::string format_duration(double seconds);
// A plain decimal number (digits only, no sign or spaces) within [min, max], or nullopt.
[[nodiscard]] std::optional<uint64_t> parse_count(std::string_view s, uint64_t min, uint64_t max) noexcept;
// A zone's weight: its share of GPU time relative to other zones.
inline constexpr uint32_t kMaxWeight = 10000;
[[nodiscard]] std::optional<uint32_t> parse_weight(std::string_view s) noexcept;

}  // namespace xg::proxy
