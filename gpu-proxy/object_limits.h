// Per-zone limits on the driver objects a zone can make its worker create. Without them one zone could ask for
// contexts, streams, events or modules until the driver domain ran out of memory or threads (each costs driver
// memory and GPU memory outside the zone's quota; on the simulated driver each stream is a thread). Past a limit
// the call gets CUDA_ERROR_OUT_OF_MEMORY, as from a driver out of that resource, and the worker logs the zone and
// the limit; the zone's other work and other zones go on.
//
// One table: (name, default, what it bounds). The name is the policy key (`zone NAME streams=256` in the config
// file) and the order is the control page's slot order. Defaults are sized for real programs (STATUS.md says how):
// well above what PyTorch and CuPy use, far below what hurts the driver domain.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace xg::proxy {

#define XG_OBJECT_LIMITS(X)                                                                              \
  X(contexts, 16, "contexts (cuCtxCreate; a device's primary context counts once)")                     \
  X(streams, 1024, "streams")                                                                           \
  X(events, 16384, "events")                                                                            \
  X(modules, 4096, "modules and libraries loaded")                                                      \
  X(functions, 65536, "functions and kernels looked up")                                                \
  X(host_allocs, 4096, "pinned host allocations (their bytes are bounded separately)")                  \
  X(async_ops, 65536, "asynchronous operations queued since the zone last synchronised (then it waits)")

enum class Limit : uint8_t {
#define XG_LIMIT_ENUM(name, def, what) name,
  XG_OBJECT_LIMITS(XG_LIMIT_ENUM)
#undef XG_LIMIT_ENUM
      count_
};
inline constexpr size_t kLimitCount = static_cast<size_t>(Limit::count_);

struct ObjectLimits {
  std::array<uint32_t, kLimitCount> max{
#define XG_LIMIT_DEFAULT(name, def, what) def,
      XG_OBJECT_LIMITS(XG_LIMIT_DEFAULT)
#undef XG_LIMIT_DEFAULT
  };
  [[nodiscard]] uint32_t operator[](Limit l) const noexcept { return max[static_cast<size_t>(l)]; }
  uint32_t& operator[](Limit l) noexcept { return max[static_cast<size_t>(l)]; }
};

// The limit a policy key names ("streams", ...), or nullopt.
[[nodiscard]] std::optional<Limit> limit_by_name(std::string_view key) noexcept;
[[nodiscard]] std::string_view limit_name(Limit l) noexcept;
[[nodiscard]] std::string_view limit_what(Limit l) noexcept;
// Values a policy may set: 1 .. 1,000,000 (a table of handles is bounded by kMaxHandles anyway).
inline constexpr uint32_t kMaxLimitValue = 1'000'000;

}  // namespace xg::proxy
