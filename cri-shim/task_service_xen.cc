// The TaskService's Xen mode: the pod is a PV domU running our zone init (PID 1), and its containers run in it,
// driven over the zone control channel (zone_control.h). The pod's domain is made with its first container
// (the sandbox under CRI; outside CRI a lone container, which then also runs in it) and destroyed with it.
//
// Pids containerd sees: a container's process reports its pid in the zone (the zone init's PID namespace; the
// host has no process for it). The sandbox runs no process in Xen mode (the domain holds the pod's namespaces,
// so a pause process has nothing to do): it reports the shim's own pid, the one host process that lives exactly
// as long as the pod, and its Kill ends it as a pause process would end (exit 128 + signal) without touching
// the shim.
//
// Everything the zone sends is hostile: only proc_ids the shim chose are looked up (an event for any other is
// logged and dropped), and nothing from the zone becomes a path.
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "cri-shim/bundle.h"
#include "cri-shim/oci_seccomp.h"
#include "cri-shim/proto/events.pb.h"
#include "cri-shim/task_state.h"
#include "cri-shim/task_service.h"
#include "cri-shim/xen_mounts.h"
#include "cri-shim/xen_spec.h"
#include "cri-shim/zone_stats.h"

namespace xg::shim {

namespace task = containerd::task::v2;
namespace ev = containerd::events;

namespace {

constexpr auto kShutdownGrace = std::chrono::seconds(2);
constexpr auto kWatchEvery = std::chrono::seconds(2);
constexpr int kKilledStatus = 128 + SIGKILL;  // what a process of a domain that died is reported with

bool stopped(const TaskService::Proc& p) { return p.status == containerd::v1::types::STOPPED; }
// Started and not ended: its processes are in the zone (a paused container's are frozen there).
bool live(const TaskService::Proc& p) {
  return p.status == containerd::v1::types::RUNNING || p.status == containerd::v1::types::PAUSED;
}

// A ZoneStart's id: the container's (or exec's) when the zone accepts it ([A-Za-z0-9._-]{1,64}), else one made
// from the proc_id (containerd allows longer ids than the zone init does).
std::string zone_id(const std::string& id, char kind, uint32_t proc_id) {
  if (!id.empty() && id.size() <= idm::kMaxCtlId) return id;
  std::string out(1, kind);
  out += std::to_string(proc_id);
  return out;
}

// Signals that end a pause process (it exits on SIGINT/SIGTERM and dies of the uncatchable ones): what the
// sandbox's Kill treats as its end.
bool ends_sandbox(uint32_t sig) {
  return sig == SIGKILL || sig == SIGTERM || sig == SIGINT || sig == SIGHUP || sig == SIGQUIT;
}

}  // namespace

// ---- the pod ---------------------------------------------------------------------------------------------------

RpcReply TaskService::xen_create_pod(const CreateReq& r, const nlohmann::json& spec, bool lone,
                                     std::unique_lock<std::mutex>& lock, task::CreateTaskResponse& out) {
  const auto ann = spec_annotations(spec);
  auto zs = zone_spec_for(ann, ident_.ns, r.id(), cfg_);
  if (auto* why = std::get_if<std::string>(&zs)) return rpc_error(RpcCode::kInvalidArgument, *why);
  const ZoneSpec& zone = std::get<ZoneSpec>(zs);
  auto ps = xen_pod_spec_for(ann, zone.name, cfg_, r.bundle());
  if (auto* why = std::get_if<std::string>(&ps)) return rpc_error(RpcCode::kInvalidArgument, *why);

  // Pod start's parts, in the log (STATUS.md "Xen-mode pods": domain build, kernel boot to the zone init's
  // answer, rootfs image build).
  const auto t_boot = std::chrono::steady_clock::now();
  auto since = [](std::chrono::steady_clock::time_point t) {
    return static_cast<long long>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t).count());
  };
  auto booted = boot_pod_(std::get<XenPodSpec>(ps), zone);
  if (auto* why = std::get_if<std::string>(&booted)) return rpc_error(RpcCode::kUnavailable, *why);
  auto pod = std::make_unique<XenPodState>();
  pod->zone = zone.name;
  pod->hostname = json_string(spec, "hostname");
  pod->domain = std::move(std::get<std::shared_ptr<PodDomain>>(booted));
  std::fprintf(stderr, "xen-gpu shim: pod %s: domain %s (%u) created in %lld ms\n", r.id().c_str(), zone.name.c_str(),
               pod->domain->domid(), since(t_boot));
  const auto t_connect = std::chrono::steady_clock::now();
  // The callbacks look the pod up through xen_ under mu_: they never hold a pointer to its state.
  ZoneEvents events;
  events.output = [this](uint32_t id, int stream, std::span<const std::byte> b) { xen_output(id, stream, b); };
  events.exit = [this](uint32_t id, int status) { xen_exit(id, status); };
  events.failed = [this](const std::string& why) { xen_failed(why); };
  auto ctl = pod->domain->connect(std::move(events));
  if (auto* why = std::get_if<std::string>(&ctl)) {
    pod->domain->destroy();
    return rpc_error(RpcCode::kUnavailable, "pod " + r.id() + ": " + *why);
  }
  pod->ctl = std::move(std::get<std::unique_ptr<ZoneControl>>(ctl));
  std::fprintf(stderr, "xen-gpu shim: pod %s: zone init answered %lld ms after the domain was created\n",
               r.id().c_str(), since(t_connect));
  XenPodState* self = pod.get();
  xen_ = std::move(pod);
  xen_mode_ = true;
  pod_id_ = r.id();
  self->watcher = std::thread([this, self] { xen_watch(self); });

  if (lone) {
    // Outside CRI the pod's one container is its own sandbox: it runs in the zone it made.
    RpcReply rr = xen_create_container(r, spec, out);
    if (rr.code != RpcCode::kOk) {
      xen_teardown(lock);
      xen_mode_ = false;  // no pod: a later Create may try again
      pod_id_.clear();
    }
    return rr;
  }
  auto p = std::make_shared<Proc>();
  p->pid = ::getpid();  // see the file comment
  p->stdin_path = r.stdin();
  p->stdout_path = r.stdout();
  p->stderr_path = r.stderr();
  auto c = std::make_unique<Container>();
  c->id = r.id();
  c->bundle = r.bundle();
  c->init = p;
  containers_[r.id()] = std::move(c);
  out.set_pid(static_cast<uint32_t>(p->pid));
  publish_create(r, static_cast<uint32_t>(p->pid));
  return {};
}

void TaskService::xen_teardown(std::unique_lock<std::mutex>& lock) {
  // xen_ is null from here: the channel's callbacks and the watcher find no pod.
  std::unique_ptr<XenPodState> pod = std::move(xen_);
  if (!pod) return;
  lock.unlock();
  {
    std::lock_guard l(pod->watch_mu);
    pod->watch_stop = true;
  }
  pod->watch_cv.notify_all();
  if (pod->watcher.joinable()) pod->watcher.join();
  if (pod->ctl) {
    if (const int e = pod->ctl->shutdown(kShutdownGrace); e != 0)
      std::fprintf(stderr, "xen-gpu shim: zone %s did not take the shutdown: %s\n", pod->zone.c_str(), std::strerror(e));
    pod->ctl.reset();  // joins the poller (outside mu_: its callbacks take it)
  }
  if (pod->domain) pod->domain->destroy();
  std::fprintf(stderr, "xen-gpu shim: pod zone %s ended\n", pod->zone.c_str());
  // The processes' FIFOs: no more output can come. (The pod is ours alone now; ZoneIo locks its own.)
  for (auto& [id, entry] : pod->procs)
    if (entry.second->zio) entry.second->zio->close_output();
  lock.lock();
  // Whatever still ran went with the domain (the sandbox deleted before its containers): reported killed, so
  // their waiters return and their Deletes go through.
  bool any = false;
  for (auto& [id, entry] : pod->procs) {
    if (stopped(*entry.second) || entry.second->pid == 0) continue;
    mark_exited(entry.first, *entry.second, kKilledStatus);
    any = true;
  }
  if (any) exited_cv_.notify_all();
  lock.unlock();
  pod.reset();  // outside mu_: a process's ZoneIo may join its stdin feeder here
  lock.lock();
}

void TaskService::xen_failed(const std::string& why) {
  std::lock_guard lock(mu_);
  if (!xen_) return;
  {
    std::lock_guard l(xen_->watch_mu);
    xen_->ctl_failed = true;
    xen_->failed_why = why;
  }
  xen_->watch_cv.notify_all();
}

// The pod's watcher: reclaims the pod when the channel fails or the domain is gone on its own (a guest crash,
// `xl destroy` by hand). Not the poller's thread: reclaiming joins the poller.
void TaskService::xen_watch(XenPodState* self) {
  for (;;) {
    std::string why;
    {
      std::unique_lock l(self->watch_mu);
      self->watch_cv.wait_for(l, kWatchEvery, [&] { return self->watch_stop || self->ctl_failed; });
      if (self->watch_stop) return;
      if (self->ctl_failed) why = "zone control channel failed: " + self->failed_why;
    }
    std::shared_ptr<PodDomain> domain;
    {
      std::lock_guard lock(mu_);
      if (xen_.get() != self || self->gone) return;
      domain = self->domain;
    }
    if (why.empty() && domain && !domain->alive()) why = "domain " + domain->name() + " is gone";
    if (!why.empty()) {
      xen_reclaim(self, why);
      return;
    }
  }
}

void TaskService::xen_reclaim(XenPodState* self, const std::string& why) {
  std::unique_lock lock(mu_);
  if (xen_.get() != self || self->gone) return;
  self->gone = true;
  self->gone_why = why;
  std::fprintf(stderr, "xen-gpu shim: pod %s: %s; its processes are reported killed\n", pod_id_.c_str(), why.c_str());
  for (auto& [id, entry] : self->procs) {
    Proc& p = *entry.second;
    if (stopped(p)) continue;
    mark_exited(entry.first, p, kKilledStatus);
    if (p.zio) {
      p.zio->close_output();
      p.zio->close_stdin();
    }
  }
  if (auto it = containers_.find(pod_id_); it != containers_.end() && it->second->init->proc_id == 0 &&
                                           !stopped(*it->second->init))
    mark_exited(pod_id_, *it->second->init, kKilledStatus);
  exited_cv_.notify_all();
  std::shared_ptr<ZoneControl> ctl = std::move(self->ctl);
  std::shared_ptr<PodDomain> domain = self->domain;
  lock.unlock();
  ctl.reset();
  if (domain) domain->destroy();
}

std::shared_ptr<ZoneControl> TaskService::xen_ctl() const {
  return xen_ && !xen_->gone ? xen_->ctl : nullptr;
}

// ---- the zone's events -----------------------------------------------------------------------------------------

void TaskService::xen_output(uint32_t proc_id, int stream, std::span<const std::byte> bytes) {
  std::shared_ptr<Proc> p;
  {
    std::lock_guard lock(mu_);
    if (!xen_) return;
    auto it = xen_->procs.find(proc_id);
    if (it == xen_->procs.end()) {
      std::fprintf(stderr, "xen-gpu shim: output for unknown proc %u from the zone dropped\n", proc_id);
      return;
    }
    p = it->second.second;
  }
  // Outside mu_: a slow FIFO reader holds up this pod's output, never its calls.
  if (p->zio) p->zio->write(stream, bytes);
}

void TaskService::xen_exit(uint32_t proc_id, int status) {
  std::lock_guard lock(mu_);
  if (!xen_) return;
  auto it = xen_->procs.find(proc_id);
  if (it == xen_->procs.end()) {
    std::fprintf(stderr, "xen-gpu shim: exit of unknown proc %u from the zone dropped\n", proc_id);
    return;
  }
  Proc& p = *it->second.second;
  // A process not started, or already ended, cannot exit: the zone is confused or lying; the first exit stands.
  if (stopped(p) || p.pid == 0) {
    std::fprintf(stderr, "xen-gpu shim: exit of proc %u, which is not running, dropped\n", proc_id);
    return;
  }
  // The zone sends a process's exit after all its output (zone_control.h): the FIFOs can close now.
  if (p.zio) {
    p.zio->close_output();
    p.zio->close_stdin();
  }
  mark_exited(it->second.first, p, static_cast<uint32_t>(status));
  exited_cv_.notify_all();
}

// ---- containers and processes ----------------------------------------------------------------------------------

RpcReply TaskService::xen_create_container(const CreateReq& r, const nlohmann::json& spec,
                                           task::CreateTaskResponse& out) {
  XenPodState& pod = *xen_;
  if (pod.gone) return rpc_error(RpcCode::kFailedPrecondition, "the pod's zone is gone: " + pod.gone_why);
  const auto proc = spec.find("process");
  std::string hostname = json_string(spec, "hostname");
  if (hostname.empty()) hostname = pod.hostname;
  auto zs = zone_start_for(proc == spec.end() ? nlohmann::json() : *proc, hostname, pod.zone);
  if (auto* why = std::get_if<std::string>(&zs)) return rpc_error(RpcCode::kInvalidArgument, *why);
  if (std::get<ZoneStart>(zs).terminal != r.terminal())
    return rpc_error(RpcCode::kInvalidArgument, "the request's terminal and the spec's process.terminal differ");
  auto limits = zone_resources_for(spec);
  if (auto* why = std::get_if<std::string>(&limits)) return rpc_error(RpcCode::kInvalidArgument, *why);
  auto seccomp = compile_oci_seccomp(spec);
  if (auto* why = std::get_if<std::string>(&seccomp)) return rpc_error(RpcCode::kInvalidArgument, *why);
  auto& filter = std::get<std::optional<SeccompProgram>>(seccomp);
  if (filter && filter->unknown_syscalls > 0)
    std::fprintf(stderr, "xen-gpu shim: %s: seccomp: %u syscall name(s) unknown to libseccomp skipped (as runc does)\n",
                 r.id().c_str(), filter->unknown_syscalls);
  auto spec_mounts = xen_mounts_for(spec);
  if (auto* why = std::get_if<std::string>(&spec_mounts)) return rpc_error(RpcCode::kInvalidArgument, *why);
  SpecMounts& sm = std::get<SpecMounts>(spec_mounts);
  for (const auto& skip : sm.skipped)
    std::fprintf(stderr, "xen-gpu shim: %s: standard mount %s left to the zone init\n", r.id().c_str(), skip.c_str());
  uint32_t disk = 0;
  while (disk < pod.disks.size() && pod.disks[disk]) ++disk;
  // A container with bind sources to copy takes a second disk (its mount image): both must be free up front.
  uint32_t mdisk = disk + 1;
  while (mdisk < pod.disks.size() && pod.disks[mdisk]) ++mdisk;
  if (disk == pod.disks.size() || (!sm.copies.empty() && mdisk == pod.disks.size()))
    return rpc_error(RpcCode::kResourceExhausted, "a Xen-mode pod has " + std::to_string(pod.disks.size()) +
                                                      " disks: one per container, a second for one with bind mounts; none left");

  // The root filesystem: containerd's mounts made into an EROFS image in the bundle, hot-plugged read-only.
  std::vector<RootfsMount> mounts;
  for (const auto& m : r.rootfs()) {
    RootfsMount rm{m.type(), m.source(), {}};
    for (const auto& o : m.options()) rm.options.push_back(o);
    mounts.push_back(std::move(rm));
  }
  std::string error;
  if (!mount_rootfs(r.bundle(), mounts, error)) return rpc_error(RpcCode::kInternal, error);
  const std::string image = r.bundle() + "/rootfs.erofs";
  uint64_t millis = 0;
  auto built = build_rootfs_image(r.bundle() + "/rootfs", image, millis);
  unmount_rootfs(r.bundle());
  if (built) {
    ::unlink(image.c_str());
    return rpc_error(RpcCode::kInternal, "building the rootfs image of " + r.id() + ": " + *built);
  }
  std::fprintf(stderr, "xen-gpu shim: %s: rootfs image built in %llu ms\n", r.id().c_str(),
               static_cast<unsigned long long>(millis));
  if (auto why = pod.domain->attach_disk(disk, image)) {
    ::unlink(image.c_str());
    return rpc_error(RpcCode::kInternal, "attaching the rootfs of " + r.id() + ": " + *why);
  }
  // The bind sources: copied into a second image (xen_mounts.h says why a copy, and what that means).
  std::string mimage;
  if (!sm.copies.empty()) {
    const std::string stage = r.bundle() + "/xg-mounts";
    mimage = r.bundle() + "/xg-mounts.erofs";
    std::error_code ec;
    std::filesystem::remove_all(stage, ec);  // a previous attempt's (never follows symlinks)
    auto staged = stage_mount_copies(sm.copies, stage);  // what the spec asks past the bounds: its error
    RpcCode code = RpcCode::kInvalidArgument;
    uint64_t mmillis = 0;
    if (!staged) {
      code = RpcCode::kInternal;
      staged = build_rootfs_image(stage, mimage, mmillis);
    }
    std::filesystem::remove_all(stage, ec);
    if (!staged) staged = pod.domain->attach_disk(mdisk, mimage);
    if (staged) {
      ::unlink(mimage.c_str());
      pod.domain->detach_disk(disk);
      ::unlink(image.c_str());
      return rpc_error(code, "the bind mounts of " + r.id() + ": " + *staged);
    }
    std::fprintf(stderr, "xen-gpu shim: %s: mount image of %zu bind sources built in %llu ms\n", r.id().c_str(),
                 sm.copies.size(), static_cast<unsigned long long>(mmillis));
  }
  auto p = std::make_shared<Proc>();
  p->stdin_path = r.stdin();
  p->stdout_path = r.stdout();
  p->stderr_path = r.stderr();
  p->zio = ZoneIo::open(r.stdin(), r.stdout(), r.stderr(), error);
  if (!p->zio) {
    pod.domain->detach_disk(disk);
    ::unlink(image.c_str());
    if (!mimage.empty()) {
      pod.domain->detach_disk(mdisk);
      ::unlink(mimage.c_str());
    }
    return rpc_error(RpcCode::kInternal, error);
  }
  p->proc_id = pod.next_proc++;
  ZoneStart s = std::move(std::get<ZoneStart>(zs));
  s.proc_id = p->proc_id;
  s.container_proc = 0;
  s.rootfs_disk = disk;
  s.id = zone_id(r.id(), 'c', p->proc_id);
  s.stdin_open = p->zio->has_stdin();
  s.resources = std::get<idm::CtlResources>(limits);
  s.mounts = std::move(sm.mounts);
  s.mounts_disk = mimage.empty() ? 0 : mdisk;
  if (filter) {
    s.filter = std::move(filter->insns);
    s.filter_flags = filter->flags;
  }
  p->zone_start = std::move(s);
  pod.disks[disk] = true;
  if (!mimage.empty()) pod.disks[mdisk] = true;
  pod.procs[p->proc_id] = {r.id(), p};
  auto c = std::make_unique<Container>();
  c->id = r.id();
  c->bundle = r.bundle();
  c->zone = pod.zone;
  c->init = p;
  c->disk = static_cast<int>(disk);
  c->image = image;
  if (!mimage.empty()) {
    c->mounts_disk = static_cast<int>(mdisk);
    c->mounts_image = mimage;
  }
  containers_[r.id()] = std::move(c);
  // Nothing runs until Start (the protocol has no create-then-start): no pid yet.
  out.set_pid(0);
  publish_create(r, 0);
  return {};
}

RpcReply TaskService::xen_start(const task::StartRequest& r, const std::shared_ptr<Proc>& p, task::StartResponse& out) {
  if (p->proc_id == 0) {
    // The sandbox: nothing to run (file comment).
    p->status = containerd::v1::types::RUNNING;
    publish_started(r, static_cast<uint32_t>(p->pid));
    out.set_pid(static_cast<uint32_t>(p->pid));
    return {};
  }
  std::shared_ptr<ZoneControl> ctl = xen_ctl();
  if (!ctl)
    return rpc_error(RpcCode::kFailedPrecondition, "the pod's zone is gone" + (xen_ ? ": " + xen_->gone_why : std::string()));
  // An exec joins its container's cgroup: a frozen one would freeze it before it could exec.
  if (!r.exec_id().empty() && containers_[r.id()]->init->status != containerd::v1::types::RUNNING)
    return rpc_error(RpcCode::kFailedPrecondition, "container " + r.id() + " is not running (paused or ended)");
  uint32_t pid = 0;
  // Under mu_ (bounded by the call's 10 s): the process's exit, if it comes at once, waits for its start.
  if (const int e = ctl->start(*p->zone_start, pid); e != 0)
    return rpc_error(e == ENOENT || e == EACCES || e == ENOEXEC ? RpcCode::kFailedPrecondition : RpcCode::kInternal,
                     "the zone could not start " + (r.exec_id().empty() ? r.id() : r.exec_id()) + ": " + std::strerror(e));
  p->pid = static_cast<pid_t>(pid);
  p->status = containerd::v1::types::RUNNING;
  std::weak_ptr<ZoneControl> weak = ctl;
  const uint32_t proc_id = p->proc_id;
  // The feeder holds the channel only for one CtlStdin at a time, never mu_.
  p->zio->start_stdin([weak, proc_id](std::span<const std::byte> b, bool close) {
    auto c = weak.lock();
    return c && c->write_stdin(proc_id, b, close) == 0;
  });
  out.set_pid(pid);
  publish_started(r, pid);
  return {};
}

RpcReply TaskService::xen_exec(const task::ExecProcessRequest& r, Container& c) {
  if (!xen_ || xen_->gone) return rpc_error(RpcCode::kFailedPrecondition, "the pod's zone is gone");
  if (c.init->proc_id == 0) return rpc_error(RpcCode::kFailedPrecondition, "the sandbox runs no process in Xen mode");
  if (c.init->status != containerd::v1::types::RUNNING)
    return rpc_error(RpcCode::kFailedPrecondition, "container " + c.id + " is not running");
  if (r.spec().value().size() > (1u << 20)) return rpc_error(RpcCode::kInvalidArgument, "exec spec larger than 1 MiB");
  const auto process = nlohmann::json::parse(r.spec().value(), nullptr, false);
  auto zs = zone_start_for(process, "", xen_->zone);
  if (auto* why = std::get_if<std::string>(&zs)) return rpc_error(RpcCode::kInvalidArgument, *why);
  if (std::get<ZoneStart>(zs).terminal != r.terminal())
    return rpc_error(RpcCode::kInvalidArgument, "the request's terminal and the exec's process.terminal differ");
  std::string error;
  auto p = std::make_shared<Proc>();
  p->exec_id = r.exec_id();
  p->stdin_path = r.stdin();
  p->stdout_path = r.stdout();
  p->stderr_path = r.stderr();
  p->zio = ZoneIo::open(r.stdin(), r.stdout(), r.stderr(), error);
  if (!p->zio) return rpc_error(RpcCode::kInternal, error);
  p->proc_id = xen_->next_proc++;
  ZoneStart s = std::move(std::get<ZoneStart>(zs));
  s.proc_id = p->proc_id;
  s.container_proc = c.init->proc_id;  // joins that container's namespaces
  s.rootfs_disk = 0;
  s.id = zone_id(r.exec_id(), 'e', p->proc_id);
  s.stdin_open = p->zio->has_stdin();
  p->zone_start = std::move(s);
  xen_->procs[p->proc_id] = {c.id, p};
  c.execs[r.exec_id()] = p;
  ev::TaskExecAdded e;
  e.set_container_id(r.id());
  e.set_exec_id(r.exec_id());
  events_.publish("/tasks/exec-added", e);
  return {};
}

RpcReply TaskService::xen_kill(const task::KillRequest& r, const std::shared_ptr<Proc>& p,
                               std::unique_lock<std::mutex>& lock) {
  if (p->proc_id == 0 || p->status == containerd::v1::types::CREATED) {
    // The sandbox, or a container that never started: there is no process to signal; the signals that end a
    // process end it here.
    if (ends_sandbox(r.signal())) {
      mark_exited(r.id(), *p, 128 + r.signal());
      if (p->zio) p->zio->close_output();
      exited_cv_.notify_all();
    }
    return {};
  }
  std::shared_ptr<ZoneControl> ctl = xen_ctl();
  if (!ctl) return rpc_error(RpcCode::kNotFound, "process already finished (the pod's zone is gone)");
  const uint32_t proc_id = p->proc_id;
  // `all`: every process of the container (its PID namespace); an exec is one process.
  const bool all = r.all() && r.exec_id().empty();
  lock.unlock();
  const int e = ctl->signal(proc_id, static_cast<int>(r.signal()), all);
  if (e == ESRCH) return rpc_error(RpcCode::kNotFound, "process already finished");
  if (e != 0) return rpc_error(RpcCode::kInternal, std::string("the zone could not signal the process: ") + std::strerror(e));
  return {};
}

RpcReply TaskService::xen_stats(const std::shared_ptr<Proc>& p, std::unique_lock<std::mutex>& lock,
                                task::StatsResponse& out) {
  if (p->proc_id == 0) return rpc_error(RpcCode::kNotFound, "the sandbox runs no process in Xen mode: it has no stats");
  if (!live(*p))
    return rpc_error(RpcCode::kNotFound, "the container is not running");
  std::shared_ptr<ZoneControl> ctl = xen_ctl();
  if (!ctl) return rpc_error(RpcCode::kNotFound, "the pod's zone is gone");
  const uint32_t proc_id = p->proc_id;
  lock.unlock();
  idm::CtlStatsRsp rsp{};
  if (const int e = ctl->stats(proc_id, rsp); e != 0) {
    // ESRCH/ENOENT: it ended meanwhile; ENOTSUP: the zone's kernel has no cgroup v2.
    const RpcCode code = e == ESRCH || e == ENOENT ? RpcCode::kNotFound
                         : e == ENOTSUP            ? RpcCode::kUnimplemented
                                                   : RpcCode::kInternal;
    return rpc_error(code, std::string("the zone could not read the container's cgroup: ") + std::strerror(e));
  }
  out.mutable_stats()->set_type_url(kCgroupsV2MetricsType);
  out.mutable_stats()->set_value(metrics_from_zone(rsp).SerializeAsString());
  return {};
}

RpcReply TaskService::xen_freeze(const std::string& id, const std::shared_ptr<Proc>& p, bool frozen,
                                 std::unique_lock<std::mutex>& lock) {
  if (p->proc_id == 0) return rpc_error(RpcCode::kFailedPrecondition, "the sandbox runs no process in Xen mode");
  const auto from = frozen ? containerd::v1::types::RUNNING : containerd::v1::types::PAUSED;
  if (p->freezing) return rpc_error(RpcCode::kFailedPrecondition, "a pause or resume of " + id + " is under way");
  if (p->status != from)
    return rpc_error(RpcCode::kFailedPrecondition, "container " + id + (frozen ? " is not running" : " is not paused"));
  std::shared_ptr<ZoneControl> ctl = xen_ctl();
  if (!ctl) return rpc_error(RpcCode::kNotFound, "the pod's zone is gone");
  const uint32_t proc_id = p->proc_id;
  // Until the zone answers, no other Pause or Resume of it: the status then follows the zone's last word.
  p->freezing = true;
  lock.unlock();
  const int e = ctl->freeze(proc_id, frozen);
  lock.lock();
  p->freezing = false;
  if (e != 0)
    return rpc_error(e == ESRCH ? RpcCode::kNotFound : e == ENOENT ? RpcCode::kFailedPrecondition : RpcCode::kInternal,
                     std::string("the zone could not ") + (frozen ? "freeze" : "thaw") + " the container: " +
                         std::strerror(e) + (e == ENOENT ? " (it has no cgroup in the zone)" : ""));
  // Its exit may have come meanwhile: a stopped process stays stopped, and nothing is announced.
  if (p->status != from) return {};
  p->status = frozen ? containerd::v1::types::PAUSED : containerd::v1::types::RUNNING;
  if (frozen) {
    ev::TaskPaused ev;
    ev.set_container_id(id);
    events_.publish("/tasks/paused", ev);
  } else {
    ev::TaskResumed ev;
    ev.set_container_id(id);
    events_.publish("/tasks/resumed", ev);
  }
  return {};
}

RpcReply TaskService::xen_update(const task::UpdateTaskRequest& r, std::unique_lock<std::mutex>& lock) {
  const std::shared_ptr<Proc> p = containers_[r.id()]->init;
  if (p->proc_id == 0) return rpc_error(RpcCode::kFailedPrecondition, "the sandbox runs no process in Xen mode: nothing to update");
  const auto res = nlohmann::json::parse(r.resources().value(), nullptr, false);
  auto u = zone_update_for(res);
  if (auto* why = std::get_if<std::string>(&u)) return rpc_error(RpcCode::kInvalidArgument, *why);
  const ZoneUpdate& up = std::get<ZoneUpdate>(u);
  if (p->status == containerd::v1::types::CREATED) {
    // Not started: the zone has no cgroup for it yet; its CtlStart will carry the new limits.
    apply_update(p->zone_start->resources, up);
    return {};
  }
  if (!live(*p))
    return rpc_error(RpcCode::kFailedPrecondition, "the container is not running");
  std::shared_ptr<ZoneControl> ctl = xen_ctl();
  if (!ctl) return rpc_error(RpcCode::kNotFound, "the pod's zone is gone");
  const uint32_t proc_id = p->proc_id;
  lock.unlock();
  if (const int e = ctl->update(proc_id, up.resources, up.unlimit); e != 0)
    return rpc_error(e == ESRCH ? RpcCode::kNotFound : e == ENOENT ? RpcCode::kFailedPrecondition : RpcCode::kInternal,
                     std::string("the zone could not update the container's cgroup: ") + std::strerror(e) +
                         (e == ENOENT ? " (no cgroup, or a controller the zone lacks)" : ""));
  return {};
}

RpcReply TaskService::xen_resize(const task::ResizePtyRequest& r, const std::shared_ptr<Proc>& p,
                                 std::unique_lock<std::mutex>& lock) {
  if (!p->zone_start || !p->zone_start->terminal)
    return rpc_error(RpcCode::kFailedPrecondition, "the process has no terminal");
  if (p->status != containerd::v1::types::RUNNING) return rpc_error(RpcCode::kFailedPrecondition, "the process is not running");
  std::shared_ptr<ZoneControl> ctl = xen_ctl();
  if (!ctl) return rpc_error(RpcCode::kNotFound, "the pod's zone is gone");
  const uint32_t proc_id = p->proc_id;
  lock.unlock();
  if (const int e = ctl->resize(proc_id, r.width(), r.height()); e != 0)
    return rpc_error(e == ESRCH ? RpcCode::kNotFound : e == EINVAL ? RpcCode::kInvalidArgument : RpcCode::kInternal,
                     std::string("the zone could not resize the terminal: ") + std::strerror(e));
  return {};
}

RpcReply TaskService::xen_pids(const std::shared_ptr<Proc>& p, std::unique_lock<std::mutex>& lock,
                               task::PidsResponse& out) {
  if (p->proc_id == 0 || !live(*p)) return {};  // no process in the zone
  std::shared_ptr<ZoneControl> ctl = xen_ctl();
  if (!ctl) return {};
  const uint32_t proc_id = p->proc_id;
  lock.unlock();
  std::vector<uint32_t> pids;
  if (const int e = ctl->pids(proc_id, pids); e != 0)
    return rpc_error(e == ESRCH ? RpcCode::kNotFound : RpcCode::kInternal,
                     std::string("the zone could not list the container's processes: ") + std::strerror(e));
  for (uint32_t pid : pids) out.add_processes()->set_pid(pid);
  return {};
}

RpcReply TaskService::xen_delete(const task::DeleteRequest& r, const std::shared_ptr<Proc>& p,
                                 std::unique_lock<std::mutex>& lock) {
  Container& c = *containers_[r.id()];
  std::shared_ptr<ZoneControl> ctl = xen_ctl();
  // The zone forgets the process (a container: its overlay and namespaces). ENOENT: it never started there.
  auto forget = [&](const Proc& q) {
    if (q.proc_id == 0) return;
    if (ctl && q.pid != 0)
      if (const int e = ctl->remove(q.proc_id); e != 0 && e != ENOENT)
        std::fprintf(stderr, "xen-gpu shim: the zone could not remove proc %u: %s\n", q.proc_id, std::strerror(e));
    if (xen_) xen_->procs.erase(q.proc_id);  // from here an event naming it is dropped
  };
  if (!r.exec_id().empty()) {
    forget(*p);
    std::shared_ptr<Proc> keep = p;  // its ZoneIo joins its feeder: destroyed after mu_ is released
    c.execs.erase(r.exec_id());
    lock.unlock();
    return {};
  }
  for (auto& [id, e] : c.execs) forget(*e);
  forget(*p);
  if (c.disk >= 0 && xen_) {
    if (!xen_->gone && xen_->domain) xen_->domain->detach_disk(static_cast<uint32_t>(c.disk));
    xen_->disks[static_cast<size_t>(c.disk)] = false;
  }
  if (!c.image.empty()) ::unlink(c.image.c_str());
  if (c.mounts_disk >= 0 && xen_) {
    if (!xen_->gone && xen_->domain) xen_->domain->detach_disk(static_cast<uint32_t>(c.mounts_disk));
    xen_->disks[static_cast<size_t>(c.mounts_disk)] = false;
  }
  if (!c.mounts_image.empty()) ::unlink(c.mounts_image.c_str());
  ev::TaskDelete e;
  e.set_container_id(r.id());
  e.set_pid(static_cast<uint32_t>(p->pid));
  e.set_exit_status(p->exit_status);
  set_time(e.mutable_exited_at(), p->exited_at);
  e.set_id(r.id());
  events_.publish("/tasks/delete", e);
  std::unique_ptr<Container> gone = std::move(containers_[r.id()]);
  containers_.erase(r.id());
  // The pod ends with its sandbox: so does its domain.
  if (r.id() == pod_id_) xen_teardown(lock);
  lock.unlock();
  gone.reset();  // its processes' ZoneIo join their feeders: outside mu_
  return {};
}

}  // namespace xg::shim
