#include "gpu-proxy/object_limits.h"

namespace xg::proxy {

namespace {
struct Row {
  std::string_view name, what;
};
constexpr std::array<Row, kLimitCount> kRows{{
#define XG_LIMIT_ROW(name, def, what) {#name, what},
    XG_OBJECT_LIMITS(XG_LIMIT_ROW)
#undef XG_LIMIT_ROW
}};
}  // namespace

std::optional<Limit> limit_by_name(std::string_view key) noexcept {
  for (size_t i = 0; i < kRows.size(); ++i)
    if (kRows[i].name == key) return static_cast<Limit>(i);
  return std::nullopt;
}

std::string_view limit_name(Limit l) noexcept { return kRows[static_cast<size_t>(l)].name; }
std::string_view limit_what(Limit l) noexcept { return kRows[static_cast<size_t>(l)].what; }

}  // namespace xg::proxy
