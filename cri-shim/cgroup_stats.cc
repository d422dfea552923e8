#include "cri-shim/cgroup_stats.h"

#include <unistd.h>

#include <fstream>
#include <map>
#include <sstream>

#include "cri-shim/proto/cgroups_metrics.pb.h"

namespace xg::shim {
namespace {

namespace m = io::containerd::cgroups::v1;

// controller -> path, from /proc/PID/cgroup (v1 lines "N:ctrl1,ctrl2:/path").
std::map<std::string, std::string> v1_paths(pid_t pid) {
  std::map<std::string, std::string> out;
  std::ifstream in("/proc/" + std::to_string(pid) + "/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    const auto a = line.find(':'), b = line.find(':', a == std::string::npos ? a : a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    const std::string path = line.substr(b + 1);
    if (path.find("..") != std::string::npos) continue;
    std::stringstream ss(line.substr(a + 1, b - a - 1));
    for (std::string c; std::getline(ss, c, ',');)
      if (!c.empty()) out[c] = path;
  }
  return out;
}

std::optional<uint64_t> read_u64(const std::string& file) {
  std::ifstream in(file);
  uint64_t v = 0;
  if (!(in >> v)) return std::nullopt;
  return v;
}

}  // namespace

std::optional<StatsAny> cgroup_stats(pid_t pid, std::string& error) {
  const auto paths = v1_paths(pid);
  if (paths.empty() || !paths.count("memory")) {
    error = paths.empty() ? "the container's process is gone" : "cgroup v2 stats are not implemented by the xen-gpu shim yet";
    return std::nullopt;
  }
  m::Metrics metrics;
  if (auto it = paths.find("pids"); it != paths.end()) {
    const std::string d = "/sys/fs/cgroup/pids" + it->second;
    if (auto v = read_u64(d + "/pids.current")) metrics.mutable_pids()->set_current(*v);
    if (auto v = read_u64(d + "/pids.max")) metrics.mutable_pids()->set_limit(*v);  // "max" (none) reads as 0
  }
  if (auto it = paths.find("cpuacct"); it != paths.end()) {
    const std::string d = "/sys/fs/cgroup/cpuacct" + it->second;
    auto* u = metrics.mutable_cpu()->mutable_usage();
    if (auto v = read_u64(d + "/cpuacct.usage")) u->set_total(*v);
    std::ifstream stat(d + "/cpuacct.stat");  // "user N\nsystem N" in clock ticks
    const uint64_t ns_per_tick = 1'000'000'000ull / static_cast<uint64_t>(::sysconf(_SC_CLK_TCK));
    std::string key;
    uint64_t v = 0;
    while (stat >> key >> v) {
      if (key == "user") u->set_user(v * ns_per_tick);
      if (key == "system") u->set_kernel(v * ns_per_tick);
    }
    std::ifstream percpu(d + "/cpuacct.usage_percpu");
    while (percpu >> v) u->add_per_cpu(v);
  }
  {
    const std::string d = "/sys/fs/cgroup/memory" + paths.at("memory");
    auto* mem = metrics.mutable_memory();
    // memory.stat's keys are the message's field names (a few spelt as containerd's proto spells them).
    static const std::map<std::string, std::string> kRenamed = {
        {"pgpgin", "pg_pg_in"}, {"pgpgout", "pg_pg_out"}, {"pgfault", "pg_fault"}, {"pgmajfault", "pg_maj_fault"},
        {"hierarchical_memsw_limit", "hierarchical_swap_limit"}};
    const auto* desc = mem->GetDescriptor();
    const auto* refl = mem->GetReflection();
    std::ifstream stat(d + "/memory.stat");
    std::string key;
    uint64_t v = 0;
    while (stat >> key >> v) {
      std::string name = key;
      const bool total = name.rfind("total_", 0) == 0;
      if (auto r = kRenamed.find(total ? name.substr(6) : name); r != kRenamed.end())
        name = (total ? "total_" : "") + r->second;
      const auto* f = desc->FindFieldByName(name);
      if (f && f->type() == google::protobuf::FieldDescriptor::TYPE_UINT64 && !f->is_repeated()) refl->SetUInt64(mem, f, v);
    }
    auto entry = [&](m::MemoryEntry* e, const std::string& prefix) {
      if (auto x = read_u64(d + "/" + prefix + "usage_in_bytes")) e->set_usage(*x);
      if (auto x = read_u64(d + "/" + prefix + "limit_in_bytes")) e->set_limit(*x);
      if (auto x = read_u64(d + "/" + prefix + "max_usage_in_bytes")) e->set_max(*x);
      if (auto x = read_u64(d + "/" + prefix + "failcnt")) e->set_failcnt(*x);
    };
    entry(mem->mutable_usage(), "memory.");
    entry(mem->mutable_swap(), "memory.memsw.");
    entry(mem->mutable_kernel(), "memory.kmem.");
    entry(mem->mutable_kernel_tcp(), "memory.kmem.tcp.");
  }
  return StatsAny{"io.containerd.cgroups.v1.Metrics", metrics.SerializeAsString()};
}

}  // namespace xg::shim
