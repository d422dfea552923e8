#include "cri-shim/zone_stats.h"

namespace xg::shim {

namespace m2 = io::containerd::cgroups::v2;

m2::Metrics metrics_from_zone(const idm::CtlStatsRsp& s) {
  m2::Metrics out;
  if (s.present & idm::kCtlStatsCpu) {
    auto* c = out.mutable_cpu();
    c->set_usage_usec(s.cpu_usage_usec);
    c->set_user_usec(s.cpu_user_usec);
    c->set_system_usec(s.cpu_system_usec);
    if (s.present & idm::kCtlStatsCpuThrottle) {
      c->set_nr_periods(s.cpu_nr_periods);
      c->set_nr_throttled(s.cpu_nr_throttled);
      c->set_throttled_usec(s.cpu_throttled_usec);
    }
  }
  if (s.present & idm::kCtlStatsMemory) {
    auto* mem = out.mutable_memory();
    mem->set_usage(s.memory_current);
    mem->set_usage_limit(s.memory_max);  // kCtlUnlimited is containerd's own "max" (math.MaxUint64)
    // memory.stat's keys are the message's field names (the table in messages_zonectl.h).
    const auto* desc = mem->GetDescriptor();
    const auto* refl = mem->GetReflection();
    for (uint32_t i = 0; i < idm::kCtlMemoryStatCount; ++i)
      if (const auto* f = desc->FindFieldByName(idm::kCtlMemoryStatKeys[i]))
        refl->SetUInt64(mem, f, s.memory_stat[i]);
    auto* ev = out.mutable_memory_events();
    const auto* edesc = ev->GetDescriptor();
    const auto* erefl = ev->GetReflection();
    for (uint32_t i = 0; i < idm::kCtlMemoryEventCount; ++i)
      if (const auto* f = edesc->FindFieldByName(idm::kCtlMemoryEventKeys[i]))
        erefl->SetUInt64(ev, f, s.memory_events[i]);
  }
  if (s.present & idm::kCtlStatsPids) {
    out.mutable_pids()->set_current(s.pids_current);
    out.mutable_pids()->set_limit(s.pids_max);
  }
  if (s.present & idm::kCtlStatsIo) {
    auto* e = out.mutable_io()->add_usage();
    e->set_rbytes(s.io_rbytes);
    e->set_wbytes(s.io_wbytes);
    e->set_rios(s.io_rios);
    e->set_wios(s.io_wios);
  }
  return out;
}

}  // namespace xg::shim
