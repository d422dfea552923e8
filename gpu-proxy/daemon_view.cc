// What the daemon shows of its zones: the snapshot (zone_snapshot.h) every view is made from, the plain table of
// the `zones` verb, and the per-interval rates (GPU share, calls/s).
#include <cstdio>
#include <sstream>

#include "gpu-proxy/daemon_internal.h"
#include "gpu-proxy/host_nvml.h"
#include "gpu-proxy/units.h"

namespace xg::proxy {

namespace {

constexpr auto kWindow = std::chrono::seconds(1);

uint64_t calls_of(const ControlPage& cp) { return cp.calls.load() + cp.posts.load(); }

}  // namespace

// Every second: each zone's share of GPU time and its calls per second over the last second, and its peak use.
// The share goes into the zone page too (what the zone's own NVML reports as its utilisation).
void Daemon::update_windows() {
  const auto now = std::chrono::steady_clock::now();
  for (auto& [name, z] : zones_) {
    const uint64_t used = zone_usage(z->page()).total();
    z->peak_bytes = std::max(z->peak_bytes, used);
    if (now - z->window.at < kWindow) continue;
    uint64_t calls = z->ended_calls;
    for (const auto& [pid, p] : programs_)
      if (p->zone == z.get()) calls += calls_of(*p->control_page.page);
    const uint64_t gpu_ns = z->page().gpu_ns.load(std::memory_order_relaxed);
    const double dt = std::chrono::duration<double>(now - z->window.at).count();
    z->gpu_share = gpu_ns >= z->window.gpu_ns ? std::min(1.0, double(gpu_ns - z->window.gpu_ns) / 1e9 / dt) : 0;
    z->calls_per_s = calls >= z->window.calls ? double(calls - z->window.calls) / dt : 0;
    z->window = {now, gpu_ns, calls};
    z->page().gpu_util_permille.store(static_cast<uint32_t>(z->gpu_share * 1000 + 0.5), std::memory_order_relaxed);
  }
}

ProxySnapshot Daemon::snapshot() const {
  ProxySnapshot s;
  s.interval_s = std::chrono::duration<double>(kWindow).count();
  if (facts_) {
    s.gpu.name = facts_->name;
    s.gpu.memory_total_bytes = facts_->total_mem;
    s.gpu.context_overhead_bytes = facts_->context_overhead;
  }
  if (nvml_) nvml_->sample(0, s.gpu);  // utilisation, memory in use, temperature: where NVML answers
  for (const auto& [name, z] : zones_) {
    ZoneSnapshot zs;
    const ZonePage& zp = z->page();
    zs.id = z->id;
    zs.name = name;
    zs.pod = z->pod;
    zs.xen_domid = z->xen_domid;
    zs.weight = zp.weight.load();
    zs.quota_bytes = zp.quota_bytes.load();
    const ZoneUsage u = zone_usage(zp);
    zs.used_bytes = u.total();
    zs.overhead_bytes = u.overhead_bytes;
    zs.peak_bytes = std::max(z->peak_bytes, zs.used_bytes);
    zs.gpu_ns = zp.gpu_ns.load();
    zs.gpu_share = z->gpu_share;
    zs.calls_per_s = z->calls_per_s;
    zs.calls = z->ended_calls;
    zs.rejected = z->ended_rejected;
    zs.oom_refusals = z->ended_oom;
    zs.calls_by_op = z->ended_calls_by_op;
    zs.errors_by_result = z->ended_results;
    for (const auto& [pid, p] : programs_) {
      if (p->zone != z.get()) continue;
      const ControlPage& cp = *p->control_page.page;
      // A Xen zone's worker waiting for the guest's next program is not a program yet.
      if (z->xen_domid && cp.state.load() != static_cast<uint32_t>(WorkerState::kServing)) continue;
      const ProgramSlot& slot = zp.slots[p->slot];
      ProgramSnapshot ps;
      ps.worker_pid = pid;
      ps.zone_pid = slot.zone_pid.load();
      ps.state = worker_state_name(cp.state.load());
      ps.device_bytes = slot.device_bytes.load();
      ps.overhead_bytes = slot.overhead_bytes.load();
      ps.calls = calls_of(cp);
      ps.handles = cp.handles.load();
      zs.calls += ps.calls;
      zs.rejected += cp.rejected.load();
      zs.oom_refusals += cp.oom_refusals.load();
      for (size_t i = 0; i < kProfileOps; ++i) zs.calls_by_op[i] += cp.profile[i].calls.load();
      for (const auto& [code, n] : read_results(cp)) zs.errors_by_result[code] += n;
      zs.programs.push_back(std::move(ps));
    }
    zs.state = z->draining ? "draining" : zs.programs.empty() ? "idle" : "serving";
    s.zones.push_back(std::move(zs));
  }
  // Zones declared by the config or an admin connection that have not had a program yet.
  for (const ZonePolicy& pol : opts_.zones) {
    if (zones_.count(pol.name)) continue;
    ZoneSnapshot zs;
    zs.name = pol.name;
    zs.pod = pol.pod;
    zs.state = "declared";
    zs.weight = pol.weight;
    zs.quota_bytes = pol.quota_bytes;
    s.zones.push_back(std::move(zs));
  }
  return s;
}

// The plain table of the `zones` verb, one line per zone, for scripts that read columns (awk); the fields keep
// their places (WEIGHT 7th, GPU_MS 14th, the workers' pids last). xen-gpu zones/top render the JSON instead.
std::string Daemon::zones_table() const {
  std::ostringstream out;
  out << "ID  NAME                 STATE      QUOTA      USED       PEAK       WEIGHT  PROGRAMS  OVERHEAD   GPU%   "
         "CALLS/S   CALLS      REJECTED  GPU_MS     OOM   WORKERS\n";
  for (const ZoneSnapshot& z : snapshot().zones) {
    std::string workers;
    for (const ProgramSnapshot& p : z.programs) (workers += workers.empty() ? "" : ",") += std::to_string(p.worker_pid);
    char line[640];
    std::snprintf(line, sizeof line,
                  "%-3s %-20s %-10s %-10s %-10s %-10s %-7u %-9zu %-10s %-6.1f %-9.0f %-10llu %-9llu %-10.1f %-5llu %s\n",
                  z.id ? std::to_string(z.id).c_str() : "-", z.name.c_str(), z.state.c_str(),
                  format_size(z.quota_bytes).c_str(), format_size(z.used_bytes).c_str(),
                  format_size(z.peak_bytes).c_str(), z.weight, z.programs.size(), format_size(z.overhead_bytes).c_str(),
                  z.gpu_share * 100, z.calls_per_s, (unsigned long long)z.calls, (unsigned long long)z.rejected,
                  double(z.gpu_ns) / 1e6, (unsigned long long)z.oom_refusals, workers.empty() ? "-" : workers.c_str());
    out << line;
  }
  return out.str();
}

}  // namespace xg::proxy
