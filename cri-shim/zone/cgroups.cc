#include "cri-shim/zone/cgroups.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <thread>

#include "cri-shim/zone/spawn.h"
#include "idm/log.h"

namespace xg::zone {
namespace {

constexpr long kCgroup2Magic = 0x63677270;  // CGROUP2_SUPER_MAGIC
constexpr const char* kWanted[] = {"cpu", "memory", "pids", "io"};
constexpr size_t kMaxFile = 64 * 1024;  // the largest file we read (memory.stat is ~1.5 KB)

bool is_cgroup2(const std::string& dir) {
  struct statfs fs {};
  return ::statfs(dir.c_str(), &fs) == 0 && static_cast<long>(fs.f_type) == kCgroup2Magic;
}

// Reads a small file whole; false if it cannot be opened or read.
bool read_file(const std::string& path, std::string& out) {
  idm::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return false;
  out.clear();
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) return true;
    if (out.size() + static_cast<size_t>(n) > kMaxFile) return false;
    out.append(buf, static_cast<size_t>(n));
  }
}

int write_file(const std::string& path, std::string_view value) {
  idm::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) return errno;
  const ssize_t n = ::write(fd.get(), value.data(), value.size());
  if (n < 0) return errno;
  return static_cast<size_t>(n) == value.size() ? 0 : EIO;
}

std::optional<uint64_t> to_u64(std::string_view s) {
  uint64_t v = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

// Calls fn(key, value) for each "key value" line of a flat-keyed cgroup file.
template <typename Fn>
void for_each_pair(std::string_view text, Fn&& fn) {
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    const size_t sp = line.find(' ');
    if (sp == std::string_view::npos) continue;
    if (auto v = to_u64(line.substr(sp + 1))) fn(line.substr(0, sp), *v);
  }
}

}  // namespace

std::vector<std::pair<std::string, std::string>> cgroup_limit_writes(const idm::CtlResources& r) {
  std::vector<std::pair<std::string, std::string>> w;
  if (r.memory_max) w.emplace_back("memory.max", std::to_string(r.memory_max));
  if (r.cpu_quota_us)
    w.emplace_back("cpu.max", std::to_string(r.cpu_quota_us) + " " +
                                  std::to_string(r.cpu_period_us ? r.cpu_period_us : 100'000));
  if (r.cpu_weight) w.emplace_back("cpu.weight", std::to_string(r.cpu_weight));
  if (r.pids_max) w.emplace_back("pids.max", std::to_string(r.pids_max));
  return w;
}

std::vector<std::pair<std::string, std::string>> cgroup_update_writes(const idm::CtlResources& r, uint32_t unlimit) {
  auto w = cgroup_limit_writes(r);
  if (unlimit & idm::kCtlUnlimitMemory) w.emplace_back("memory.max", "max");
  if (unlimit & idm::kCtlUnlimitCpu) w.emplace_back("cpu.max", "max");  // the period stays
  if (unlimit & idm::kCtlUnlimitPids) w.emplace_back("pids.max", "max");
  return w;
}

std::optional<uint64_t> parse_cgroup_value(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  if (text == "max") return idm::kCtlUnlimited;
  return to_u64(text);
}

void parse_cpu_stat(std::string_view text, idm::CtlStatsRsp& out) {
  for_each_pair(text, [&](std::string_view k, uint64_t v) {
    if (k == "usage_usec") out.cpu_usage_usec = v, out.present |= idm::kCtlStatsCpu;
    else if (k == "user_usec") out.cpu_user_usec = v;
    else if (k == "system_usec") out.cpu_system_usec = v;
    else if (k == "nr_periods") out.cpu_nr_periods = v, out.present |= idm::kCtlStatsCpuThrottle;
    else if (k == "nr_throttled") out.cpu_nr_throttled = v;
    else if (k == "throttled_usec") out.cpu_throttled_usec = v;
  });
}

void parse_memory_stat(std::string_view text, idm::CtlStatsRsp& out) {
  for_each_pair(text, [&](std::string_view k, uint64_t v) {
    for (uint32_t i = 0; i < idm::kCtlMemoryStatCount; ++i)
      if (k == idm::kCtlMemoryStatKeys[i]) out.memory_stat[i] = v;
  });
}

void parse_memory_events(std::string_view text, idm::CtlStatsRsp& out) {
  for_each_pair(text, [&](std::string_view k, uint64_t v) {
    for (uint32_t i = 0; i < idm::kCtlMemoryEventCount; ++i)
      if (k == idm::kCtlMemoryEventKeys[i]) out.memory_events[i] = v;
  });
}

void parse_io_stat(std::string_view text, idm::CtlStatsRsp& out) {
  // "MAJ:MIN rbytes=N wbytes=N rios=N wios=N dbytes=N dios=N" per device.
  out.present |= idm::kCtlStatsIo;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    size_t pos = line.find(' ');
    while (pos != std::string_view::npos) {
      const size_t next = line.find(' ', pos + 1);
      const std::string_view kv = line.substr(pos + 1, next == std::string_view::npos ? next : next - pos - 1);
      pos = next;
      const size_t eq = kv.find('=');
      if (eq == std::string_view::npos) continue;
      const auto v = to_u64(kv.substr(eq + 1));
      if (!v) continue;
      const std::string_view k = kv.substr(0, eq);
      // Saturating: a sum of many devices must not wrap (the shim refuses absurd figures anyway).
      auto add = [&](uint64_t& f) { f = f + *v < f ? idm::kCtlUnlimited : f + *v; };
      if (k == "rbytes") add(out.io_rbytes);
      else if (k == "wbytes") add(out.io_wbytes);
      else if (k == "rios") add(out.io_rios);
      else if (k == "wios") add(out.io_wios);
    }
  }
}

ZoneCgroups::ZoneCgroups(CgroupOptions options) : opt_(std::move(options)) {
  if (!is_cgroup2(opt_.root) && opt_.mount) {
    (void)mkdir_p(opt_.root.c_str(), 0755);
    if (::mount("cgroup2", opt_.root.c_str(), "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
      idm::log_line("cgroup2 on " + opt_.root + ": " + std::strerror(errno));
  }
  ok_ = is_cgroup2(opt_.root);
  if (!ok_) {
    idm::log_line("no cgroup v2 tree at " + opt_.root + ": containers run without cgroups (no limits, no stats)");
    return;
  }
  std::string offered;
  (void)read_file(opt_.root + "/cgroup.controllers", offered);
  offered = " " + offered;
  for (char& c : offered)
    if (c == '\n') c = ' ';
  std::string missing;
  for (const char* c : kWanted) {
    if (offered.find(std::string(" ") + c + " ") == std::string::npos) {
      missing += std::string(" ") + c;
      continue;
    }
    if (int e = write_file(opt_.root + "/cgroup.subtree_control", std::string("+") + c); e != 0) {
      idm::log_line(std::string("cgroup controller ") + c + " not enabled: " + std::strerror(e));
      missing += std::string(" ") + c;
      continue;
    }
    enabled_.emplace_back(c);
  }
  std::string on;
  for (const auto& c : enabled_) on += " " + c;
  idm::log_line("cgroups at " + opt_.root + ": enabled" + (on.empty() ? " none" : on) +
                (missing.empty() ? "" : "; not available:" + missing + " (their limits are skipped)"));
}

int ZoneCgroups::create(uint32_t proc_id, std::string_view id, const idm::CtlResources& r, idm::UniqueFd& procs) {
  procs.reset();
  if (!ok_) return 0;
  const std::string dir = opt_.root + "/ctr-" + std::string(id);
  std::lock_guard l(mu_);
  if (dirs_.count(proc_id)) return EEXIST;
  if (::mkdir(dir.c_str(), 0755) != 0) return errno;
  for (const auto& [file, value] : cgroup_limit_writes(r)) {
    if (int e = write_file(dir + "/" + file, value); e != 0)
      idm::log_line("container " + std::string(id) + ": " + file + " = " + value + " not applied (" +
                    std::strerror(e) + (e == ENOENT ? ": controller not available" : "") + ")");
  }
  procs.reset(::open((dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
  if (!procs.valid()) {
    const int e = errno;
    ::rmdir(dir.c_str());
    return e;
  }
  dirs_[proc_id] = dir;
  return 0;
}

int ZoneCgroups::join(uint32_t container_proc, idm::UniqueFd& procs) {
  procs.reset();
  std::lock_guard l(mu_);
  auto it = dirs_.find(container_proc);
  if (it == dirs_.end()) return 0;  // a container started without a tree: its execs have none either
  if (frozen_.count(container_proc)) return EBUSY;
  procs.reset(::open((it->second + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
  return procs.valid() ? 0 : errno;
}

int ZoneCgroups::update(uint32_t proc_id, const idm::CtlResources& r, uint32_t unlimit) {
  if (!ok_) return ENOTSUP;
  std::lock_guard l(mu_);
  auto it = dirs_.find(proc_id);
  if (it == dirs_.end()) return ENOENT;
  for (const auto& [file, value] : cgroup_update_writes(r, unlimit)) {
    if (int e = write_file(it->second + "/" + file, value); e != 0) {
      idm::log_line("cgroup " + it->second + ": update " + file + " = " + value + " refused (" + std::strerror(e) + ")");
      return e;
    }
  }
  return 0;
}

int ZoneCgroups::freeze(uint32_t proc_id, bool frozen, std::chrono::milliseconds wait) {
  if (!ok_) return ENOTSUP;
  std::string dir;
  {
    std::lock_guard l(mu_);
    auto it = dirs_.find(proc_id);
    if (it == dirs_.end()) return ENOENT;
    dir = it->second;
    if (frozen) frozen_.insert(proc_id);  // from now on no exec joins it
  }
  auto done = [&](int e) {
    std::lock_guard l(mu_);
    if (!frozen || e != 0) frozen_.erase(proc_id);
    return e;
  };
  if (int e = write_file(dir + "/cgroup.freeze", frozen ? "1" : "0"); e != 0) return done(e);
  // cgroup.events says "frozen 1" once every task has stopped (a task in a system call may take a moment).
  const std::string want = frozen ? "frozen 1" : "frozen 0";
  const auto until = std::chrono::steady_clock::now() + wait;
  for (;;) {
    std::ifstream f(dir + "/cgroup.events");
    for (std::string line; std::getline(f, line);)
      if (line == want) return done(0);
    if (std::chrono::steady_clock::now() >= until) {
      if (frozen) (void)write_file(dir + "/cgroup.freeze", "0");  // not frozen in time: left thawed, not half-way
      return done(ETIMEDOUT);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void ZoneCgroups::release(uint32_t proc_id) {
  std::lock_guard l(mu_);
  auto it = dirs_.find(proc_id);
  if (it == dirs_.end()) return;
  if (::rmdir(it->second.c_str()) != 0 && errno != ENOENT) {
    // Something still in it (a process that left the PID namespace's reach): CtlRemove tries again.
    idm::log_line("cgroup " + it->second + " not removed yet: " + std::strerror(errno));
    return;
  }
  dirs_.erase(it);
  frozen_.erase(proc_id);
}

std::string ZoneCgroups::path_of(uint32_t proc_id) {
  std::lock_guard l(mu_);
  auto it = dirs_.find(proc_id);
  return it == dirs_.end() ? std::string() : it->second;
}

int ZoneCgroups::stats(uint32_t proc_id, idm::CtlStatsRsp& out) {
  out = idm::CtlStatsRsp{};
  if (!ok_) return ENOTSUP;
  const std::string dir = path_of(proc_id);
  if (dir.empty()) return ENOENT;
  std::string text;
  if (read_file(dir + "/cpu.stat", text)) parse_cpu_stat(text, out);
  if (read_file(dir + "/memory.current", text)) {
    if (auto v = parse_cgroup_value(text); v && *v != idm::kCtlUnlimited) {
      out.memory_current = *v;
      out.present |= idm::kCtlStatsMemory;
      if (read_file(dir + "/memory.max", text)) out.memory_max = parse_cgroup_value(text).value_or(0);
      if (read_file(dir + "/memory.stat", text)) parse_memory_stat(text, out);
      if (read_file(dir + "/memory.events", text)) parse_memory_events(text, out);
    }
  }
  if (read_file(dir + "/pids.current", text)) {
    if (auto v = parse_cgroup_value(text); v && *v != idm::kCtlUnlimited) {
      out.pids_current = *v;
      out.present |= idm::kCtlStatsPids;
      if (read_file(dir + "/pids.max", text)) out.pids_max = parse_cgroup_value(text).value_or(0);
    }
  }
  if (read_file(dir + "/io.stat", text)) parse_io_stat(text, out);
  return 0;
}

int CgroupHost::update(uint32_t proc_id, const idm::CtlResources& r, uint32_t unlimit) {
  return cgroups_ ? cgroups_->update(proc_id, r, unlimit) : ENOTSUP;
}

int CgroupHost::freeze(uint32_t proc_id, bool frozen) {
  return cgroups_ ? cgroups_->freeze(proc_id, frozen, kFreezeWait) : ENOTSUP;
}

int CgroupHost::stats(uint32_t proc_id, idm::CtlStatsRsp& out) {
  return cgroups_ ? cgroups_->stats(proc_id, out) : ENOTSUP;
}

void CgroupHost::container_gone(uint32_t proc_id) {
  if (cgroups_) cgroups_->release(proc_id);
}

int cgroup_for_start(ZoneCgroups* cgroups, const StartRequest& req, idm::UniqueFd& procs) {
  procs.reset();
  if (!cgroups) return 0;
  const int e = req.container_pid ? cgroups->join(req.container_proc, procs)
                                  : cgroups->create(req.proc_id, req.strings->id, req.resources, procs);
  if (e != 0)
    idm::log_line("container " + std::string(req.strings->id) + ": its cgroup: " + std::strerror(e));
  return e;
}

}  // namespace xg::zone
