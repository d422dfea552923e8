#include "cri-shim/zone/plain_host.h"

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "cri-shim/zone/spawn.h"

namespace xg::zone {
namespace {

// The process group of `pid` from /proc/<pid>/stat (field 5; the command in field 2 may hold spaces and
// parentheses, so parse after its last ')').
pid_t pgrp_of(const char* pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%s/stat", pid);
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path, "re"), &std::fclose);
  if (!f) return -1;
  char buf[1024];
  const size_t n = std::fread(buf, 1, sizeof buf - 1, f.get());
  buf[n] = '\0';
  const char* rp = std::strrchr(buf, ')');
  if (!rp) return -1;
  char state = 0;
  int ppid = 0, pgrp = -1;
  if (std::sscanf(rp + 1, " %c %d %d", &state, &ppid, &pgrp) != 3) return -1;
  return state == 'Z' ? -1 : pgrp;  // a zombie runs nothing
}

}  // namespace

int PlainHost::start(const StartRequest& req, Spawned& out) {
  // No mount namespace, no root of its own: a container's mounts cannot be made, and pretending would hide it.
  if (req.strings && !req.strings->mounts.empty()) return ENOTSUP;
  SpawnPlan plan = make_plan(req);
  plan.set_ids = req.uid != ::geteuid() || req.gid != ::getegid() || !plan.groups.empty();
  plan.pgrp = req.container_pid ? req.container_pid : 0;
  idm::UniqueFd cgroup;
  if (int e = cgroup_for_start(cgroups_, req, cgroup); e != 0) return e;
  plan.cgroup_procs = cgroup.valid() ? cgroup.get() : -1;
  const int e = spawn(plan, out);
  if (e != 0 && !req.container_pid && cgroups_) cgroups_->release(req.proc_id);
  return e;
}

int PlainHost::signal_all(pid_t container_pid, int sig) {
  return ::kill(-container_pid, sig) == 0 ? 0 : errno;
}

int PlainHost::pids(pid_t container_pid, std::vector<uint32_t>& out) {
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir("/proc"), &::closedir);
  if (!d) return errno;
  while (dirent* e = ::readdir(d.get())) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    if (pgrp_of(e->d_name) == container_pid) out.push_back(static_cast<uint32_t>(std::strtoul(e->d_name, nullptr, 10)));
  }
  return 0;
}

}  // namespace xg::zone
