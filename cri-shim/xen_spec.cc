#include "cri-shim/xen_spec.h"

#include "idm/messages_zonectl.h"

namespace xg::shim {

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
  if (const auto t = process.find("terminal"); t != process.end() && !(t->is_boolean() && !t->get<bool>()))
    return std::string("a terminal is not supported in Xen mode yet (the zone control protocol carries no pty)");
  ZoneStart s;
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
  }
  return s;
}

}  // namespace xg::shim
