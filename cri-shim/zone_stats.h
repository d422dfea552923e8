// A zone's CtlStats answer (idm/messages_zonectl.h: CtlStatsRsp, already decoded by the codec and checked by
// idm::check_ctl_stats in ZoneControl::stats) made into containerd's cgroup v2 metrics
// (`io.containerd.cgroups.v2.Metrics`, proto/cgroups2_metrics.proto), the Any a Xen-mode Stats answers with.
#pragma once

#include <string>

#include "cri-shim/proto/cgroups2_metrics.pb.h"
#include "idm/messages_zonectl.h"

namespace xg::shim {

inline constexpr const char* kCgroupsV2MetricsType = "io.containerd.cgroups.v2.Metrics";

// Groups absent from the answer are absent from the message (containerd reads an unset group as zeros).
// io.stat arrives summed over the zone's devices: one IOEntry with major and minor 0.
[[nodiscard]] io::containerd::cgroups::v2::Metrics metrics_from_zone(const idm::CtlStatsRsp& s);

}  // namespace xg::shim
