#include "gpu-proxy/units.h"

#include <cmath>
#include <cstdio>

namespace xg::proxy {

std::optional<uint64_t> parse_size(std::string_view s) noexcept {
  uint64_t v = 0;
  size_t i = 0;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
    if (v > (UINT64_MAX - 9) / 10) return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(s[i] - '0');
  }
  if (i == 0) return std::nullopt;
  const std::string_view unit = s.substr(i);
  uint64_t mul = 1;
  if (unit.empty() || unit == "B") mul = 1;
  else if (unit == "K" || unit == "KiB" || unit == "k") mul = 1ull << 10;
  else if (unit == "M" || unit == "MiB") mul = 1ull << 20;
  else if (unit == "G" || unit == "GiB") mul = 1ull << 30;
  else if (unit == "T" || unit == "TiB") mul = 1ull << 40;
  else return std::nullopt;
  uint64_t out = 0;
  if (__builtin_mul_overflow(v, mul, &out)) return std::nullopt;
  return out;
}

std::optional<uint64_t> parse_count(std::string_view s, uint64_t min, uint64_t max) noexcept {
  if (s.empty() || s.size() > 20) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9' || v > (UINT64_MAX - 9) / 10) return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v < min || v > max) return std::nullopt;
  return v;
}

std::optional<uint32_t> parse_weight(std::string_view s) noexcept {
  auto v = parse_count(s, 1, kMaxWeight);
  if (!v) return std::nullopt;
  return static_cast<uint32_t>(*v);
}

std::string format_size(uint64_t b) {
  char buf[32];
  if (b >= (1ull << 30) && b % (1ull << 30) == 0) std::snprintf(buf, sizeof buf, "%lluGiB", (unsigned long long)(b >> 30));
  else if (b >= (1ull << 20)) std::snprintf(buf, sizeof buf, "%.1fMiB", double(b) / (1 << 20));
  else if (b >= 1024) std::snprintf(buf, sizeof buf, "%.1fKiB", double(b) / 1024);
  else std::snprintf(buf, sizeof buf, "%lluB", (unsigned long long)b);
  return buf;
}

std::string format_duration(double s) {
  char buf[32];
  if (!(s > 0)) return "0s";  // also NaN: a duration nobody measured reads as none
  // Each bound sits where the finer form would round up to the next unit ("1000ms").
  if (s < 0.9995e-3) std::snprintf(buf, sizeof buf, "%.0fus", s * 1e6);
  else if (s < 0.1) std::snprintf(buf, sizeof buf, "%.3gms", s * 1e3);
  else if (s < 0.9995) std::snprintf(buf, sizeof buf, "%.0fms", s * 1e3);
  else if (s < 9.995) std::snprintf(buf, sizeof buf, "%.2fs", s);
  else if (s < 59.95) std::snprintf(buf, sizeof buf, "%.1fs", s);
  else {
    // Whole seconds, rounded before the units are chosen, so 3599.7 s reads "1h00m", never "59m60s".
    const auto t = static_cast<uint64_t>(std::llround(s < 1e15 ? s : 1e15));
    if (t < 3600) std::snprintf(buf, sizeof buf, "%llum%02llus", (unsigned long long)(t / 60), (unsigned long long)(t % 60));
    else if (t < 86400)
      std::snprintf(buf, sizeof buf, "%lluh%02llum", (unsigned long long)(t / 3600), (unsigned long long)(t % 3600 / 60));
    else std::snprintf(buf, sizeof buf, "%llud%02lluh", (unsigned long long)(t / 86400), (unsigned long long)(t % 86400 / 3600));
  }
  return buf;
}

}  // namespace xg::proxy
