#include "cri-shim/xen_spec.h"

#include <algorithm>
#include <cstdio>

#include "idm/messages_zonectl.h"

namespace xg::shim {
namespace {

// Linux's capability numbers (linux/capability.h), index = number.
constexpr const char* kCapNames[idm::kCtlCapCount] = {
    "CAP_CHOWN",          "CAP_DAC_OVERRIDE",   "CAP_DAC_READ_SEARCH", "CAP_FOWNER",         "CAP_FSETID",
    "CAP_KILL",           "CAP_SETGID",         "CAP_SETUID",          "CAP_SETPCAP",        "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN",      "CAP_NET_RAW",        "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",      "CAP_SYS_MODULE",     "CAP_SYS_RAWIO",       "CAP_SYS_CHROOT",     "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",      "CAP_SYS_ADMIN",      "CAP_SYS_BOOT",        "CAP_SYS_NICE",       "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",       "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",           "CAP_LEASE",          "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",  "CAP_SETFCAP",        "CAP_MAC_OVERRIDE",    "CAP_MAC_ADMIN",      "CAP_SYSLOG",
    "CAP_WAKE_ALARM",     "CAP_BLOCK_SUSPEND",  "CAP_AUDIT_READ",      "CAP_PERFMON",        "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE"};
// RLIMIT_* numbers (asm-generic/resource.h, x86's too), index = number.
constexpr const char* kRlimitNames[idm::kMaxCtlRlimits] = {
    "RLIMIT_CPU",  "RLIMIT_FSIZE",   "RLIMIT_DATA",   "RLIMIT_STACK",   "RLIMIT_CORE",     "RLIMIT_RSS",
    "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS",     "RLIMIT_LOCKS",    "RLIMIT_SIGPENDING",
    "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME"};

// A JSON integer (signed or not) as int64; false for anything else (a float, a string, out of range).
bool json_int(const nlohmann::json& v, int64_t& out) {
  if (v.is_number_unsigned()) {
    if (v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) return false;
    out = static_cast<int64_t>(v.get<uint64_t>());
    return true;
  }
  if (v.is_number_integer()) {
    out = v.get<int64_t>();
    return true;
  }
  return false;
}

// The capability sets of an OCI process's "capabilities" object.
std::optional<std::string> read_caps(const nlohmann::json& caps, idm::CtlCaps& out) {
  if (caps.is_null()) return std::nullopt;
  if (!caps.is_object()) return std::string("the process's capabilities are not an object");
  struct Set {
    const char* key;
    uint64_t* mask;
  };
  for (const Set& set : {Set{"bounding", &out.bounding}, Set{"effective", &out.effective},
                         Set{"permitted", &out.permitted}, Set{"inheritable", &out.inheritable},
                         Set{"ambient", &out.ambient}}) {
    const auto it = caps.find(set.key);
    if (it == caps.end() || it->is_null()) continue;
    if (!it->is_array()) return std::string("capabilities.") + set.key + " is not a list";
    for (const auto& c : *it) {
      if (!c.is_string()) return std::string("capabilities.") + set.key + " is not all strings";
      const auto n = capability_number(c.get<std::string>());
      if (!n) {
        // runc warns and goes on (a capability its kernel does not know): so do we.
        std::fprintf(stderr, "xen-gpu shim: unknown capability %s in capabilities.%s ignored\n",
                     c.get<std::string>().substr(0, 64).c_str(), set.key);
        continue;
      }
      *set.mask |= uint64_t{1} << *n;
    }
  }
  auto names = [](uint64_t mask) {
    std::string s;
    for (uint32_t i = 0; i < idm::kCtlCapCount; ++i)
      if ((mask >> i) & 1) s += std::string(s.empty() ? "" : " ") + kCapNames[i];
    return s;
  };
  // What the kernel refuses (capset, PR_CAP_AMBIENT_RAISE), as runc would fail on it, said clearly here.
  if (const uint64_t x = out.effective & ~out.permitted)
    return "capabilities: effective " + names(x) + " not in permitted (the kernel refuses it)";
  if (const uint64_t x = out.inheritable & ~out.bounding)
    return "capabilities: inheritable " + names(x) + " not in bounding (the kernel refuses it)";
  if (const uint64_t x = out.ambient & ~(out.permitted & out.inheritable))
    return "capabilities: ambient " + names(x) + " not in both permitted and inheritable (the kernel refuses it)";
  return std::nullopt;
}

std::optional<std::string> read_rlimits(const nlohmann::json& rl, std::vector<idm::CtlRlimit>& out) {
  if (rl.is_null()) return std::nullopt;
  if (!rl.is_array()) return std::string("the process's rlimits are not a list");
  uint32_t seen = 0;
  for (const auto& r : rl) {
    if (!r.is_object()) return std::string("an rlimit is not an object");
    const std::string type = json_string(r, "type");
    const auto n = rlimit_number(type);
    if (!n) return "unknown rlimit type '" + type.substr(0, 64) + "'";
    if (seen & (1u << *n)) return "rlimit " + type + " given twice";
    seen |= 1u << *n;
    idm::CtlRlimit out_r{*n, 0, 0, 0};
    const auto soft = r.find("soft"), hard = r.find("hard");
    if (soft == r.end() || hard == r.end() || !soft->is_number_unsigned() || !hard->is_number_unsigned())
      return "rlimit " + type + ": soft and hard must be unsigned integers";
    out_r.soft = soft->get<uint64_t>();
    out_r.hard = hard->get<uint64_t>();
    if (out_r.soft > out_r.hard) return "rlimit " + type + ": soft above hard";
    out.push_back(out_r);
  }
  return std::nullopt;
}

}  // namespace

std::optional<uint32_t> capability_number(std::string_view name) {
  for (uint32_t i = 0; i < idm::kCtlCapCount; ++i)
    if (name == kCapNames[i]) return i;
  return std::nullopt;
}

std::optional<uint32_t> rlimit_number(std::string_view name) {
  for (uint32_t i = 0; i < idm::kMaxCtlRlimits; ++i)
    if (name == kRlimitNames[i]) return i;
  return std::nullopt;
}

uint32_t cpu_weight_from_shares(uint64_t shares) {
  shares = std::clamp<uint64_t>(shares, 2, 262'144);
  return static_cast<uint32_t>(1 + (shares - 2) * 9999 / 262'142);
}

std::variant<idm::CtlResources, std::string> zone_resources_for(const nlohmann::json& spec) {
  idm::CtlResources out{};
  if (!spec.is_object()) return out;
  const auto linux = spec.find("linux");
  if (linux == spec.end() || !linux->is_object()) return out;
  const auto res = linux->find("resources");
  if (res == linux->end() || res->is_null()) return out;
  if (!res->is_object()) return std::string("linux.resources is not an object");
  auto unsupported = [](const std::string& field) {
    return "linux.resources." + field + " is not supported in Xen mode (a pod's zone cannot apply it)";
  };
  // A field that asks for something: present, and not null / 0 / false / empty.
  auto asks = [](const nlohmann::json& obj, const char* key) {
    const auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return false;
    if (it->is_boolean()) return it->get<bool>();
    if (it->is_number()) return it->get<double>() != 0;
    if (it->is_string() || it->is_array() || it->is_object()) return !it->empty();
    return true;
  };
  if (const auto mem = res->find("memory"); mem != res->end() && mem->is_object()) {
    for (const char* k : {"reservation", "swappiness", "disableOOMKiller"})
      if (asks(*mem, k)) return unsupported(std::string("memory.") + k);
    if (const auto lim = mem->find("limit"); lim != mem->end() && !lim->is_null()) {
      int64_t v = 0;
      if (!json_int(*lim, v)) return std::string("linux.resources.memory.limit is not an integer");
      if (v > static_cast<int64_t>(uint64_t{1} << 48)) return std::string("linux.resources.memory.limit past 256 TiB");
      if (v > 0) out.memory_max = static_cast<uint64_t>(v);  // -1 and 0: no limit
    }
  }
  if (const auto cpu = res->find("cpu"); cpu != res->end() && cpu->is_object()) {
    for (const char* k : {"cpus", "mems", "realtimeRuntime", "realtimePeriod", "idle"})
      if (asks(*cpu, k)) return unsupported(std::string("cpu.") + k);
    int64_t shares = 0, quota = 0, period = 0;
    for (auto [key, dst] : {std::pair{"shares", &shares}, std::pair{"quota", &quota}, std::pair{"period", &period}}) {
      const auto it = cpu->find(key);
      if (it == cpu->end() || it->is_null()) continue;
      if (!json_int(*it, *dst)) return std::string("linux.resources.cpu.") + key + " is not an integer";
    }
    if (shares > 0) out.cpu_weight = cpu_weight_from_shares(static_cast<uint64_t>(shares));
    if (quota > 0) {
      if (quota < 1000 || quota > (int64_t{1} << 40))
        return std::string("linux.resources.cpu.quota must be from 1000 us (the kernel's minimum)");
      if (period != 0 && (period < 1000 || period > 1'000'000))
        return std::string("linux.resources.cpu.period must be from 1000 to 1000000 us");
      out.cpu_quota_us = static_cast<uint64_t>(quota);
      out.cpu_period_us = static_cast<uint64_t>(period);
    }
    // A period without a quota limits nothing (runc writes "max PERIOD"): left out.
  }
  if (const auto pids = res->find("pids"); pids != res->end() && pids->is_object()) {
    if (const auto lim = pids->find("limit"); lim != pids->end() && !lim->is_null()) {
      int64_t v = 0;
      if (!json_int(*lim, v)) return std::string("linux.resources.pids.limit is not an integer");
      if (v > (int64_t{1} << 22)) return std::string("linux.resources.pids.limit past the kernel's PID_MAX_LIMIT");
      if (v > 0) out.pids_max = static_cast<uint64_t>(v);  // 0 and -1: no limit
    }
  }
  if (const auto bio = res->find("blockIO"); bio != res->end() && bio->is_object()) {
    for (const char* k : {"weight", "leafWeight", "weightDevice", "throttleReadBpsDevice", "throttleWriteBpsDevice",
                          "throttleReadIOPSDevice", "throttleWriteIOPSDevice"})
      if (asks(*bio, k)) return unsupported(std::string("blockIO.") + k);
  }
  if (const auto huge = res->find("hugepageLimits"); huge != res->end() && huge->is_array()) {
    // kubelet sends a 0 limit per page size; a zone has no huge pages to give, so 0 is what it gets anyway.
    for (const auto& h : *huge)
      if (h.is_object() && asks(h, "limit")) return unsupported("hugepageLimits (a non-zero limit)");
  }
  for (const char* k : {"network", "rdma", "unified"})
    if (asks(*res, k)) return unsupported(k);
  return out;
}

std::variant<ZoneUpdate, std::string> zone_update_for(const nlohmann::json& resources) {
  if (!resources.is_object()) return std::string("the update's resources are not an object");
  auto limits = zone_resources_for(nlohmann::json{{"linux", {{"resources", resources}}}});
  if (auto* why = std::get_if<std::string>(&limits)) return *why;
  ZoneUpdate u;
  u.resources = std::get<idm::CtlResources>(limits);
  // -1: lift the limit (runc's reading); zone_resources_for read it as "no limit" (0), which here means "leave".
  auto minus_one = [&](const char* group, const char* key) {
    const auto g = resources.find(group);
    if (g == resources.end() || !g->is_object()) return false;
    const auto v = g->find(key);
    return v != g->end() && v->is_number_integer() && v->get<int64_t>() == -1;
  };
  if (minus_one("memory", "limit")) u.unlimit |= idm::kCtlUnlimitMemory;
  if (minus_one("cpu", "quota")) {
    u.unlimit |= idm::kCtlUnlimitCpu;
    u.resources.cpu_period_us = 0;  // a period without a quota limits nothing
  }
  if (minus_one("pids", "limit")) u.unlimit |= idm::kCtlUnlimitPids;
  return u;
}

void apply_update(idm::CtlResources& limits, const ZoneUpdate& u) {
  const idm::CtlResources& n = u.resources;
  if (n.memory_max || (u.unlimit & idm::kCtlUnlimitMemory)) limits.memory_max = n.memory_max;
  if (n.cpu_quota_us || (u.unlimit & idm::kCtlUnlimitCpu)) {
    limits.cpu_quota_us = n.cpu_quota_us;
    limits.cpu_period_us = n.cpu_period_us;
  }
  if (n.pids_max || (u.unlimit & idm::kCtlUnlimitPids)) limits.pids_max = n.pids_max;
  if (n.cpu_weight) limits.cpu_weight = n.cpu_weight;
}

std::variant<XenPodSpec, std::string> xen_pod_spec_for(const std::map<std::string, std::string>& a,
                                                       const std::string& name, const ShimConfig& cfg,
                                                       const std::string& workdir) {
  XenPodSpec s;
  s.name = name;
  s.kernel = cfg.zone_kernel;
  s.initramfs = cfg.zone_initramfs;
  s.workdir = workdir;
  uint64_t memory = cfg.zone_memory;
  s.vcpus = cfg.zone_vcpus;
  if (auto it = a.find(kAnnotationZoneMemory); it != a.end()) {
    const auto q = parse_zone_memory(it->second);
    if (!q)
      return std::string("bad annotation ") + kAnnotationZoneMemory + "='" + it->second.substr(0, 64) +
             "': expected a size in whole MiB from 64MiB to 64GiB, such as 512MiB";
    memory = *q;
  }
  if (auto it = a.find(kAnnotationZoneVcpus); it != a.end()) {
    const auto n = parse_zone_vcpus(it->second);
    if (!n)
      return std::string("bad annotation ") + kAnnotationZoneVcpus + "='" + it->second.substr(0, 64) +
             "': expected a whole number from 1 to " + std::to_string(kMaxZoneVcpus);
    s.vcpus = *n;
  }
  s.memory_mib = static_cast<uint32_t>(memory >> 20);
  return s;
}

std::string json_string(const nlohmann::json& obj, const char* key) {
  if (!obj.is_object()) return {};
  const auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::variant<ZoneStart, std::string> zone_start_for(const nlohmann::json& process, const std::string& hostname,
                                                    const std::string& zone) {
  if (!process.is_object()) return std::string("the spec has no process object");
  // Typed reads only (find + is_*): nlohmann's value() throws on a field of another type.
  ZoneStart s;
  if (const auto t = process.find("terminal"); t != process.end() && !t->is_null()) {
    if (!t->is_boolean()) return std::string("the process's terminal is not a boolean");
    s.terminal = t->get<bool>();
  }
  s.hostname = hostname;
  const auto args = process.find("args");
  if (args == process.end() || !args->is_array() || args->empty())
    return std::string("the process has no args");
  for (const auto& a : *args) {
    if (!a.is_string()) return std::string("the process's args are not all strings");
    s.argv.push_back(a.get<std::string>());
  }
  if (s.argv[0].empty()) return std::string("the process's args[0] is empty");
  // The zone's variables replace any the spec brings (a pod must not point its programs elsewhere); the
  // spec's LD_LIBRARY_PATH is kept after ours.
  std::string ld = kZoneLibDir;
  if (const auto env = process.find("env"); env != process.end()) {
    if (!env->is_array()) return std::string("the process's env is not a list");
    for (const auto& e : *env) {
      if (!e.is_string()) return std::string("the process's env is not all strings");
      const std::string v = e.get<std::string>();
      if (v.rfind("LD_LIBRARY_PATH=", 0) == 0) {
        if (v.size() > 16) ld += ":" + v.substr(16);
      } else if (v.rfind("XEN_GPU_TRANSPORT=", 0) != 0 && v.rfind("XEN_GPU_ZONE=", 0) != 0 &&
                 v.rfind("XEN_GPU_SOCKET=", 0) != 0) {
        s.env.push_back(v);
      }
    }
  }
  s.env.push_back("LD_LIBRARY_PATH=" + ld);
  s.env.push_back("XEN_GPU_TRANSPORT=xen");
  s.env.push_back("XEN_GPU_ZONE=" + zone);
  if (s.argv.size() + s.env.size() > idm::kMaxCtlStrings)
    return "the process has " + std::to_string(s.argv.size() + s.env.size()) + " args and variables (at most " +
           std::to_string(idm::kMaxCtlStrings) + " in Xen mode)";
  if (const auto cwd = process.find("cwd"); cwd != process.end() && !cwd->is_string())
    return std::string("the process's cwd is not a string");
  s.cwd = json_string(process, "cwd");
  if (s.cwd.empty()) s.cwd = "/";
  if (const auto user = process.find("user"); user != process.end() && user->is_object()) {
    const auto id = [&](const char* key, uint32_t& out) {
      const auto it = user->find(key);
      if (it == user->end()) return true;
      if (!it->is_number_unsigned() || it->get<uint64_t>() > 0xFFFFFFFEull) return false;
      out = static_cast<uint32_t>(it->get<uint64_t>());
      return true;
    };
    if (!id("uid", s.uid) || !id("gid", s.gid)) return std::string("the process's user.uid/gid are not ids");
    if (user->contains("username")) return std::string("user.username is not supported in Xen mode (give uid/gid)");
    if (const auto gids = user->find("additionalGids"); gids != user->end() && !gids->is_null()) {
      if (!gids->is_array()) return std::string("user.additionalGids is not a list");
      for (const auto& g : *gids) {
        if (!g.is_number_unsigned() || g.get<uint64_t>() > 0xFFFFFFFEull)
          return std::string("user.additionalGids holds something that is not a gid");
        s.groups.push_back(static_cast<uint32_t>(g.get<uint64_t>()));
      }
      if (s.groups.size() > idm::kMaxCtlGroups)
        return "user.additionalGids has " + std::to_string(s.groups.size()) + " gids (at most " +
               std::to_string(idm::kMaxCtlGroups) + " in Xen mode)";
    }
  }
  if (const auto rl = process.find("rlimits"); rl != process.end())
    if (auto why = read_rlimits(*rl, s.rlimits)) return *why;
  // No capabilities object: none at all, as runc gives a root process (the sets stay 0).
  if (const auto caps = process.find("capabilities"); caps != process.end())
    if (auto why = read_caps(*caps, s.caps)) return *why;
  if (const auto nnp = process.find("noNewPrivileges"); nnp != process.end() && !nnp->is_null()) {
    if (!nnp->is_boolean()) return std::string("the process's noNewPrivileges is not a boolean");
    s.no_new_privs = nnp->get<bool>();
  }
  if (const auto oom = process.find("oomScoreAdj"); oom != process.end() && !oom->is_null()) {
    int64_t v = 0;
    if (!json_int(*oom, v) || v < -1000 || v > 1000) return std::string("the process's oomScoreAdj is not in -1000..1000");
    s.oom_score_adj = static_cast<int32_t>(v);
  }
  for (const char* k : {"apparmorProfile", "selinuxLabel"})
    if (const auto it = process.find(k); it != process.end() && it->is_string() && !it->get<std::string>().empty())
      std::fprintf(stderr, "xen-gpu shim: the process's %s is ignored (the zone's kernel has no LSM for it)\n", k);
  return s;
}

}  // namespace xg::shim
