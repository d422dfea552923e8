#include "cri-shim/bundle.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace xg::shim {
namespace {

constexpr size_t kMaxSpecBytes = 4u << 20;

struct FlagOption {
  const char* name;
  bool clear;
  unsigned long flag;
};
// mount(8)'s flag options, as containerd's mount package maps them; everything else is filesystem data.
constexpr FlagOption kFlags[] = {
    {"async", true, MS_SYNCHRONOUS}, {"atime", true, MS_NOATIME},     {"bind", false, MS_BIND},
    {"defaults", false, 0},          {"dev", true, MS_NODEV},         {"diratime", true, MS_NODIRATIME},
    {"dirsync", false, MS_DIRSYNC},  {"exec", true, MS_NOEXEC},       {"mand", false, MS_MANDLOCK},
    {"noatime", false, MS_NOATIME},  {"nodev", false, MS_NODEV},      {"nodiratime", false, MS_NODIRATIME},
    {"noexec", false, MS_NOEXEC},    {"nomand", true, MS_MANDLOCK},   {"norelatime", true, MS_RELATIME},
    {"nostrictatime", true, MS_STRICTATIME}, {"nosuid", false, MS_NOSUID}, {"rbind", false, MS_BIND | MS_REC},
    {"relatime", false, MS_RELATIME}, {"remount", false, MS_REMOUNT}, {"ro", false, MS_RDONLY},
    {"rw", true, MS_RDONLY},         {"strictatime", false, MS_STRICTATIME}, {"suid", true, MS_NOSUID},
    {"sync", false, MS_SYNCHRONOUS},
};

}  // namespace

std::optional<nlohmann::json> read_spec(const std::string& bundle, std::string& error) {
  std::ifstream in(bundle + "/config.json", std::ios::binary);
  if (!in) {
    error = "cannot read " + bundle + "/config.json";
    return std::nullopt;
  }
  std::string text;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxSpecBytes) {
      error = bundle + "/config.json is larger than 4 MiB";
      return std::nullopt;
    }
  }
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    error = bundle + "/config.json is not a JSON object";
    return std::nullopt;
  }
  return j;
}

bool write_spec(const std::string& bundle, const nlohmann::json& spec, std::string& error) {
  const std::string tmp = bundle + "/.config.json.xen-gpu", path = bundle + "/config.json";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << spec.dump();
    if (!out) {
      error = "cannot write " + tmp;
      return false;
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    error = "cannot replace " + path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

std::map<std::string, std::string> spec_annotations(const nlohmann::json& spec) {
  std::map<std::string, std::string> out;
  auto it = spec.find("annotations");
  if (it == spec.end() || !it->is_object()) return out;
  for (auto& [k, v] : it->items())
    if (v.is_string()) out[k] = v.get<std::string>();
  return out;
}

void add_zone_to_spec(nlohmann::json& spec, const std::string& libvgpu_dir, const std::string& zone_socket,
                      const std::string& zone_name) {
  // Appended after the spec's own mounts, so a tmpfs on /run (containerd's default spec) is already there.
  auto& mounts = spec["mounts"];
  if (!mounts.is_array()) mounts = nlohmann::json::array();
  mounts.push_back({{"destination", kContainerLibDir}, {"type", "bind"}, {"source", libvgpu_dir},
                    {"options", {"rbind", "ro", "nosuid", "nodev"}}});
  mounts.push_back({{"destination", kContainerZoneSocket}, {"type", "bind"}, {"source", zone_socket},
                    {"options", {"bind", "ro", "nosuid", "nodev", "noexec"}}});
  auto& process = spec["process"];
  if (!process.is_object()) return;  // no process: nothing runs, nothing to set
  add_zone_env(process, zone_name);
}

void add_zone_env(nlohmann::json& process, const std::string& zone_name) {
  auto& env = process["env"];
  if (!env.is_array()) env = nlohmann::json::array();
  std::string ld = kContainerLibDir;
  nlohmann::json kept = nlohmann::json::array();
  for (const auto& e : env) {
    if (!e.is_string()) continue;
    const std::string s = e.get<std::string>();
    if (s.rfind("LD_LIBRARY_PATH=", 0) == 0) {
      if (s.size() > 16) ld += ":" + s.substr(16);
    } else if (s.rfind("XEN_GPU_SOCKET=", 0) != 0 && s.rfind("XEN_GPU_ZONE=", 0) != 0) {
      kept.push_back(s);
    }
  }
  kept.push_back("LD_LIBRARY_PATH=" + ld);
  kept.push_back(std::string("XEN_GPU_SOCKET=") + kContainerZoneSocket);
  kept.push_back("XEN_GPU_ZONE=" + zone_name);
  env = std::move(kept);
}

std::optional<std::string> spec_zone(const nlohmann::json& spec) {
  auto p = spec.find("process");
  if (p == spec.end() || !p->is_object()) return std::nullopt;
  auto env = p->find("env");
  if (env == p->end() || !env->is_array()) return std::nullopt;
  for (const auto& e : *env)
    if (e.is_string() && e.get<std::string>().rfind("XEN_GPU_ZONE=", 0) == 0) return e.get<std::string>().substr(13);
  return std::nullopt;
}

bool mount_rootfs(const std::string& bundle, const std::vector<RootfsMount>& mounts, std::string& error) {
  const std::string target = bundle + "/rootfs";
  ::mkdir(target.c_str(), 0711);
  for (const RootfsMount& m : mounts) {
    unsigned long flags = 0;
    std::string data;
    for (const std::string& o : m.options) {
      bool matched = false;
      for (const FlagOption& f : kFlags) {
        if (o != f.name) continue;
        matched = true;
        if (f.clear) flags &= ~f.flag;
        else flags |= f.flag;
      }
      if (!matched) data += (data.empty() ? "" : ",") + o;
    }
    if (data.size() >= 4096) {  // mount(2) takes one page of data; containerd's long-lowerdir trick is not ours yet
      error = "rootfs mount options exceed a page (" + std::to_string(data.size()) + " bytes)";
      return false;
    }
    const std::string type = m.type == "bind" ? "" : m.type;
    const unsigned long first = flags & ~static_cast<unsigned long>(MS_RDONLY | MS_REMOUNT);
    const bool bind = flags & MS_BIND;
    if (::mount(m.source.c_str(), target.c_str(), type.c_str(), bind ? first : flags, data.empty() ? nullptr : data.c_str()) != 0) {
      error = "mount " + m.type + " " + m.source + " on " + target + ": " + std::strerror(errno);
      unmount_rootfs(bundle);
      return false;
    }
    // A read-only bind takes a second, remounting call (mount(2) ignores MS_RDONLY on MS_BIND).
    if (bind && (flags & MS_RDONLY) &&
        ::mount("", target.c_str(), "", flags | MS_REMOUNT | MS_RDONLY, nullptr) != 0) {
      error = "remount " + target + " read-only: " + std::strerror(errno);
      unmount_rootfs(bundle);
      return false;
    }
  }
  return true;
}

void unmount_rootfs(const std::string& bundle) {
  const std::string target = bundle + "/rootfs";
  // Layered mounts come off one at a time; stop when nothing is mounted there (EINVAL) or after a bound.
  for (int i = 0; i < 32; ++i)
    if (::umount2(target.c_str(), MNT_DETACH) != 0) break;
}

}  // namespace xg::shim
