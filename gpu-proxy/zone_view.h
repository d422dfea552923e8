// The operator's views of the daemon's zones, rendered by xen-gpu from the `zones-json` answer (zone_snapshot.h):
// `xen-gpu zones` (a table for people: sizes and durations in human units) and one frame of `xen-gpu top`. Pure
// functions of a snapshot, so the tests render synthetic ones; the daemon's fixed-column table for scripts stays
// the daemon's (`zones` verb, `xen-gpu zones --table`).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "gpu-proxy/zone_snapshot.h"

namespace xg::proxy {

// One line per zone, in the daemon's order (by name): ZONE STATE POD PROGRAMS WEIGHT MEMORY (used/quota)
// OVERHEAD GPU% (share of GPU time over the last interval) CALLS/S GPU_TIME (since the zone was created).
[[nodiscard]] std::string render_zones(const ProxySnapshot& s);

// One frame of `xen-gpu top`: a line about the GPU (what is known of it; absent values are left out, not shown as
// zero), a line of totals, then the zones' table sorted by GPU share (then calls/s, then name). Lines are cut at
// `width` columns (0: not cut), so a narrow terminal does not wrap them. No blank line inside a frame: over a pipe
// `top` separates frames with one.
[[nodiscard]] std::string render_top(const ProxySnapshot& s, size_t width = 0);

// The daemon's `profile` table (op_profile.h: ZONE OPCODE CALLS MEAN_US P50_US<= P99_US<= TOTAL_MS) as a JSON
// array of objects, for `xen-gpu profile --json`; nullopt if a line does not have the table's shape.
[[nodiscard]] std::optional<std::string> profile_table_to_json(std::string_view table);

}  // namespace xg::proxy
