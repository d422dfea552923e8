#include "cri-shim/task_service.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <atomic>
#include <fstream>
#include <thread>

#include "cri-shim/bundle.h"
#include "cri-shim/cgroup_stats.h"
#include "cri-shim/proto/events.pb.h"
#include "cri-shim/proto/runtimeoptions.pb.h"
#include "cri-shim/reaper.h"
#include "cri-shim/task_state.h"

namespace xg::shim {

namespace task = containerd::task::v2;
namespace ev = containerd::events;
using containerd::v1::types::Status;

namespace {

// containerd's identifiers (containers, execs) are [A-Za-z0-9_.-], at most 76 characters; runc wants the same.
// They become file and runc names here, so nothing else gets through.
bool valid_id(const std::string& id) {
  if (id.empty() || id.size() > 128 || id[0] == '.' || id[0] == '-') return false;
  for (char c : id)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
      return false;
  return true;
}

// containerd's runc shim's ShouldKillAllOnExit: a container without a PID namespace of its own (the pod's, as
// critest's pods and Kubernetes' shareProcessNamespace have, or the host's).
bool shares_pid_namespace(const nlohmann::json& spec) {
  const auto linux_it = spec.find("linux");
  if (linux_it == spec.end() || !linux_it->is_object()) return true;
  const auto ns = linux_it->find("namespaces");
  if (ns == linux_it->end() || !ns->is_array()) return true;
  for (const auto& n : *ns)
    if (n.is_object() && n.value("type", "") == "pid") return !n.value("path", "").empty();
  return true;
}

bool is_stopped(const TaskService::Proc& p) { return p.status == containerd::v1::types::STOPPED; }

}  // namespace

TaskService::TaskService(ShimIdentity id, ShimConfig cfg, std::function<void()> on_shutdown, PodDomainBooter boot_pod)
    : ident_(std::move(id)), cfg_(std::move(cfg)), runc_(cfg_.runc, cfg_.runc_root + "/" + ident_.ns),
      events_(ident_.publish_binary, ident_.containerd_address, ident_.ns), on_shutdown_(std::move(on_shutdown)),
      boot_pod_(boot_pod ? std::move(boot_pod) : xen_pod_domains(cfg_)),
      oom_([this](const std::string& id) {
        ev::TaskOOM e;
        e.set_container_id(id);
        events_.publish("/tasks/oom", e);
      }) {
#define XG_TASK_METHOD(Name, Req, Resp) \
  methods_[#Name] = [this](const std::string& payload) { return call<Req, Resp>(payload, &TaskService::Name); };
#include "cri-shim/task_methods.inc"
#undef XG_TASK_METHOD
}

TaskService::~TaskService() {
  // Xen mode: the pod's threads (watcher, the zone's poller) call back into this object; they end first.
  std::unique_lock lock(mu_);
  if (xen_) xen_teardown(lock);
}

template <class Req, class Resp>
RpcReply TaskService::call(const std::string& payload, RpcReply (TaskService::*fn)(const Req&, Resp&)) {
  Req req;
  if (!req.ParseFromString(payload))
    return rpc_error(RpcCode::kInvalidArgument, "malformed " + std::string(Req::descriptor()->name()));
  Resp resp;
  RpcReply r = (this->*fn)(req, resp);
  if (r.code == RpcCode::kOk) r.payload = resp.SerializeAsString();
  return r;
}

RpcReply TaskService::dispatch(const std::string& service, const std::string& method, const std::string& payload) {
  if (service != kTaskService) return rpc_error(RpcCode::kUnimplemented, "service " + service + " not implemented");
  auto it = methods_.find(method);
  if (it == methods_.end()) return rpc_error(RpcCode::kUnimplemented, "method " + method + " not implemented");
  return it->second(payload);
}

// Where runc sends a terminal's master: beside the shim's own socket (a bundle path can exceed a socket's 107
// bytes), one name per process.
std::string TaskService::console_socket_path() {
  static std::atomic<uint32_t> n{0};
  return cfg_.socket_dir + "/xgc-" + std::to_string(::getpid()) + "-" + std::to_string(++n);
}

std::shared_ptr<TaskService::Proc> TaskService::find(const std::string& id, const std::string& exec_id, RpcReply& err) {
  auto c = containers_.find(id);
  if (c == containers_.end()) {
    err = rpc_error(RpcCode::kNotFound, "container " + id.substr(0, 128) + " not found");
    return nullptr;
  }
  if (exec_id.empty()) return c->second->init;
  auto e = c->second->execs.find(exec_id);
  if (e == c->second->execs.end()) {
    err = rpc_error(RpcCode::kNotFound, "process " + exec_id.substr(0, 128) + " not found");
    return nullptr;
  }
  return e->second;
}

// ---- lifecycle ------------------------------------------------------------------------------------------------

RpcReply TaskService::Create(const task::CreateTaskRequest& r, task::CreateTaskResponse& out) {
  if (!valid_id(r.id())) return rpc_error(RpcCode::kInvalidArgument, "invalid container id");
  if (r.bundle().empty() || r.bundle()[0] != '/' || r.bundle().find("/../") != std::string::npos)
    return rpc_error(RpcCode::kInvalidArgument, "bundle must be an absolute path");
  if (!r.checkpoint().empty()) return rpc_error(RpcCode::kUnimplemented, "restoring from a checkpoint is not supported");
  std::string error;
  // Runtime options: our config file may be named there (containerd's `options.ConfigPath`).
  if (r.has_options() && r.options().type_url().ends_with("runtimeoptions.v1.Options")) {
    runtimeoptions::v1::Options o;
    if (o.ParseFromString(r.options().value()) && !o.config_path().empty()) {
      ShimConfig cfg;
      if (!load_shim_config(o.config_path(), true, cfg, error)) return rpc_error(RpcCode::kInvalidArgument, error);
      std::lock_guard lock(mu_);
      if (containers_.empty()) cfg_ = cfg;
    }
  }
  auto spec = read_spec(r.bundle(), error);
  if (!spec) return rpc_error(RpcCode::kInvalidArgument, error);
  const auto ann = spec_annotations(*spec);
  const auto type_it = ann.find(kAnnotationContainerType);
  const std::string type = type_it == ann.end() ? "" : type_it->second;

  std::unique_lock lock(mu_);
  if (containers_.count(r.id())) return rpc_error(RpcCode::kAlreadyExists, "container " + r.id() + " exists");
  if (type == "container" && xen_mode_) {
    auto sb = ann.find(kAnnotationSandboxId);
    if (!xen_ || sb == ann.end() || sb->second != pod_id_)
      return rpc_error(RpcCode::kFailedPrecondition, "container " + r.id() + " names sandbox '" +
                                                         (sb == ann.end() ? "" : sb->second.substr(0, 128)) +
                                                         "', which this shim does not run");
    return xen_create_container(r, *spec, out);
  }
  if (type != "container" && !zone_ && !xen_mode_ && resolve_mode(cfg_.mode) == ShimMode::kXen)
    return xen_create_pod(r, *spec, type != "sandbox", lock, out);
  bool made_zone = false;
  if (type == "container") {
    // A container of a pod: it joins the zone its sandbox made (containerd sent it to this shim for that).
    auto sb = ann.find(kAnnotationSandboxId);
    if (!zone_ || sb == ann.end() || sb->second != pod_id_)
      return rpc_error(RpcCode::kFailedPrecondition, "container " + r.id() + " names sandbox '" +
                                                         (sb == ann.end() ? "" : sb->second.substr(0, 128)) +
                                                         "', which this shim does not run");
  } else {
    // The pod's sandbox (or a lone container, outside Kubernetes): the pod's zone starts here.
    if (zone_ || xen_mode_) return rpc_error(RpcCode::kFailedPrecondition, "this shim already runs pod " + pod_id_);
    auto zs = zone_spec_for(ann, ident_.ns, r.id(), cfg_);
    if (auto* why = std::get_if<std::string>(&zs)) return rpc_error(RpcCode::kInvalidArgument, *why);
    auto z = PodZone::create(cfg_.admin_socket, std::get<ZoneSpec>(zs));
    if (auto* why = std::get_if<std::string>(&z)) return rpc_error(RpcCode::kUnavailable, *why);
    zone_.emplace(std::move(std::get<PodZone>(z)));
    pod_id_ = r.id();
    made_zone = true;
  }
  auto undo_zone = [&] {
    if (!made_zone) return;
    zone_->destroy();
    zone_.reset();
    pod_id_.clear();
  };
  // Every container but the sandbox's pause process gets the zone: our libcuda.so.1, the zone's socket.
  if (type != "sandbox") {
    add_zone_to_spec(*spec, cfg_.libvgpu_dir, zone_->socket_path(), zone_->spec().name);
    if (!write_spec(r.bundle(), *spec, error)) {
      undo_zone();
      return rpc_error(RpcCode::kInternal, error);
    }
  }
  std::vector<RootfsMount> mounts;
  for (const auto& m : r.rootfs()) {
    RootfsMount rm{m.type(), m.source(), {}};
    for (const auto& o : m.options()) rm.options.push_back(o);
    mounts.push_back(std::move(rm));
  }
  if (!mount_rootfs(r.bundle(), mounts, error)) {
    undo_zone();
    return rpc_error(RpcCode::kInternal, error);
  }
  auto p = std::make_shared<Proc>();
  p->stdin_path = r.stdin();
  p->stdout_path = r.stdout();
  p->stderr_path = r.stderr();
  p->io = r.terminal() ? ProcessIo::open_terminal(r.stdin(), r.stdout(), console_socket_path(), error)
                        : ProcessIo::open(r.stdin(), r.stdout(), r.stderr(), error);
  if (!p->io) {
    unmount_rootfs(r.bundle());
    undo_zone();
    return rpc_error(RpcCode::kInternal, error);
  }
  ::mkdir(cfg_.runc_root.c_str(), 0711);
  ::mkdir(runc_.root().c_str(), 0711);
  const std::string pid_file = r.bundle() + "/init.pid";
  // runc create returns once init waits for `start`; no lock needed meanwhile, but a pod's creates are few.
  RuncResult rr = runc_.create(r.id(), r.bundle(), pid_file, p->io->spawn_io(), p->io->console_socket());
  if (rr.ok && p->io->terminal() && !p->io->receive_console(rr.error)) rr.ok = false;
  if (!rr.ok) {
    (void)runc_.remove(r.id(), true);
    unmount_rootfs(r.bundle());
    undo_zone();
    return rpc_error(RpcCode::kInternal, "runc create: " + rr.error);
  }
  p->io->started();
  p->pid = read_pid_file(pid_file);
  auto c = std::make_unique<Container>();
  c->id = r.id();
  c->bundle = r.bundle();
  c->shares_pid_ns = shares_pid_namespace(*spec);
  if (type != "sandbox") c->zone = zone_->spec().name;
  c->init = p;
  containers_[r.id()] = std::move(c);
  out.set_pid(static_cast<uint32_t>(p->pid));
  publish_create(r, static_cast<uint32_t>(p->pid));
  lock.unlock();
  // Before the process runs: an OOM in its first instant is still seen.
  if (!oom_.add(r.id(), p->pid)) std::fprintf(stderr, "xen-gpu shim: no memory cgroup to watch for %s's OOMs\n", r.id().c_str());
  Reaper::instance().watch(p->pid, [this, id = r.id(), p](int s) { on_exit(id, p, s); });
  return {};
}

RpcReply TaskService::Start(const task::StartRequest& r, task::StartResponse& out) {
  std::unique_lock lock(mu_);
  RpcReply err;
  auto p = find(r.id(), r.exec_id(), err);
  if (!p) return err;
  if (p->status != containerd::v1::types::CREATED)
    return rpc_error(RpcCode::kFailedPrecondition, "process already started");
  if (xen_mode_) return xen_start(r, p, out);
  auto& c = *containers_[r.id()];
  if (r.exec_id().empty()) {
    const RuncResult rr = runc_.start(r.id());
    if (!rr.ok) return rpc_error(RpcCode::kInternal, "runc start: " + rr.error);
    if (!is_stopped(*p)) p->status = containerd::v1::types::RUNNING;
    publish_started(r, static_cast<uint32_t>(p->pid));
    out.set_pid(static_cast<uint32_t>(p->pid));
    return {};
  }
  const std::string pid_file = c.bundle + "/" + r.exec_id() + ".pid";
  RuncResult rr = runc_.exec(r.id(), p->process_json, pid_file, p->io->spawn_io(), p->io->console_socket());
  if (rr.ok && p->io->terminal() && !p->io->receive_console(rr.error)) rr.ok = false;
  if (!rr.ok) return rpc_error(RpcCode::kInternal, "runc exec: " + rr.error);
  p->io->started();
  p->pid = read_pid_file(pid_file);
  p->status = containerd::v1::types::RUNNING;
  publish_started(r, static_cast<uint32_t>(p->pid));
  out.set_pid(static_cast<uint32_t>(p->pid));
  lock.unlock();
  Reaper::instance().watch(p->pid, [this, id = r.id(), p](int s) { on_exit(id, p, s); });
  return {};
}

void TaskService::on_exit(const std::string& container_id, std::shared_ptr<Proc> p, int wait_status) {
  // Without a PID namespace of its own, the container's other processes outlive its init (the kernel ends them
  // only with a namespace's init): end them before the exit is reported, as containerd's runc shim does, or they
  // keep running and keep the container's output FIFOs open past its exit (critest: containerd then cut its
  // reads, "Failed to pipe stdout of container ...: file already closed").
  if (p->exec_id.empty()) {
    bool shared = false;
    {
      std::lock_guard lock(mu_);
      const auto it = containers_.find(container_id);
      shared = it != containers_.end() && it->second->shares_pid_ns;
    }
    if (shared) (void)runc_.kill(container_id, SIGKILL, true);
  }
  // The terminal's last output goes out before the exit is known (a pty's master reads EIO once it is empty
  // and its process gone; a background process still holding it is not waited for long).
  if (p->io) p->io->drain_output(std::chrono::seconds(2));
  bool init = false;
  {
    std::lock_guard lock(mu_);
    init = p->exec_id.empty();
    mark_exited(container_id, *p, exit_code(wait_status));
  }
  if (p->io) p->io->close_stdin();
  exited_cv_.notify_all();
  // When a container's init ends, its other processes go too (as with containerd's runc shim).
  if (init) (void)runc_.kill(container_id, SIGKILL, true);
}

void TaskService::mark_exited(const std::string& container_id, Proc& p, uint32_t exit_status) {
  p.status = containerd::v1::types::STOPPED;
  p.exit_status = exit_status;
  p.exited_at = std::chrono::system_clock::now();
  const bool init = p.exec_id.empty();
  ev::TaskExit e;
  e.set_container_id(container_id);
  e.set_id(init ? container_id : p.exec_id);
  e.set_pid(static_cast<uint32_t>(p.pid));
  e.set_exit_status(p.exit_status);
  set_time(e.mutable_exited_at(), p.exited_at);
  events_.publish("/tasks/exit", e);
}

RpcReply TaskService::Delete(const task::DeleteRequest& r, task::DeleteResponse& out) {
  std::unique_lock lock(mu_);
  RpcReply err;
  auto p = find(r.id(), r.exec_id(), err);
  if (!p) return err;
  if (p->status == containerd::v1::types::RUNNING || p->status == containerd::v1::types::PAUSED)
    return rpc_error(RpcCode::kFailedPrecondition, "process " + (r.exec_id().empty() ? r.id() : r.exec_id()) + " is running");
  out.set_pid(static_cast<uint32_t>(p->pid));
  out.set_exit_status(p->exit_status);
  set_time(out.mutable_exited_at(), p->exited_at);
  if (xen_mode_) return xen_delete(r, p, lock);
  auto& c = *containers_[r.id()];
  if (!r.exec_id().empty()) {
    ::unlink(p->process_json.c_str());
    ::unlink((p->process_json + ".log").c_str());
    ::unlink((c.bundle + "/" + r.exec_id() + ".pid").c_str());
    c.execs.erase(r.exec_id());
    return {};
  }
  const RuncResult rr = runc_.remove(r.id(), true);
  if (!rr.ok) return rpc_error(RpcCode::kInternal, "runc delete: " + rr.error);
  unmount_rootfs(c.bundle);
  ev::TaskDelete e;
  e.set_container_id(r.id());
  e.set_pid(static_cast<uint32_t>(p->pid));
  e.set_exit_status(p->exit_status);
  *e.mutable_exited_at() = out.exited_at();
  e.set_id(r.id());
  events_.publish("/tasks/delete", e);
  containers_.erase(r.id());
  oom_.remove(r.id());
  // The pod ends with its sandbox: so does its zone.
  if (r.id() == pod_id_ && zone_) {
    zone_->destroy();
    zone_.reset();
  }
  return {};
}

RpcReply TaskService::Exec(const task::ExecProcessRequest& r, google::protobuf::Empty&) {
  if (!valid_id(r.exec_id())) return rpc_error(RpcCode::kInvalidArgument, "invalid exec id");
  std::unique_lock lock(mu_);
  RpcReply err;
  if (!find(r.id(), "", err)) return err;
  auto& c = *containers_[r.id()];
  if (c.execs.count(r.exec_id())) return rpc_error(RpcCode::kAlreadyExists, "exec " + r.exec_id() + " exists");
  if (xen_mode_) return xen_exec(r, c);
  // The process spec: JSON (containerd's typeurl for runtime-spec types), handed to runc as a file. runc
  // validates it; we only bound it.
  if (r.spec().value().size() > (1u << 20)) return rpc_error(RpcCode::kInvalidArgument, "exec spec larger than 1 MiB");
  auto p = std::make_shared<Proc>();
  p->exec_id = r.exec_id();
  p->process_json = c.bundle + "/" + r.exec_id() + ".process.json";
  std::string process = r.spec().value();
  if (!c.zone.empty()) {
    auto j = nlohmann::json::parse(process, nullptr, false);
    if (!j.is_object()) return rpc_error(RpcCode::kInvalidArgument, "exec process spec is not a JSON object");
    add_zone_env(j, c.zone);
    process = j.dump();
  }
  {
    std::ofstream f(p->process_json, std::ios::binary | std::ios::trunc);
    f << process;
    if (!f) return rpc_error(RpcCode::kInternal, "cannot write " + p->process_json);
  }
  std::string error;
  p->io = r.terminal() ? ProcessIo::open_terminal(r.stdin(), r.stdout(), console_socket_path(), error)
                        : ProcessIo::open(r.stdin(), r.stdout(), r.stderr(), error);
  if (!p->io) return rpc_error(RpcCode::kInternal, error);
  p->stdin_path = r.stdin();
  p->stdout_path = r.stdout();
  p->stderr_path = r.stderr();
  c.execs[r.exec_id()] = p;
  ev::TaskExecAdded e;
  e.set_container_id(r.id());
  e.set_exec_id(r.exec_id());
  events_.publish("/tasks/exec-added", e);
  return {};
}

RpcReply TaskService::Kill(const task::KillRequest& r, google::protobuf::Empty&) {
  if (r.signal() == 0 || r.signal() > 64) return rpc_error(RpcCode::kInvalidArgument, "invalid signal");
  std::unique_lock lock(mu_);
  RpcReply err;
  auto p = find(r.id(), r.exec_id(), err);
  if (!p) return err;
  if (is_stopped(*p)) return rpc_error(RpcCode::kNotFound, "process already finished");
  if (xen_mode_) return xen_kill(r, p, lock);
  if (r.exec_id().empty()) {
    const std::string id = r.id();
    lock.unlock();
    const RuncResult rr = runc_.kill(id, static_cast<int>(r.signal()), r.all());
    if (!rr.ok) {
      // The process exited and its exit is not handled yet: NOT_FOUND, as containerd's runc shim answers
      // (containerd's CRI takes it for "already stopped"; anything else fails StopContainer/StopPodSandbox,
      // seen under critest).
      std::string lower = rr.error;
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      const auto has = [&](const char* what) { return lower.find(what) != std::string::npos; };
      if (has("container not running") || has("no such process") || has("process already finished"))
        return rpc_error(RpcCode::kNotFound, "process already finished: runc kill: " + rr.error);
      return rpc_error(RpcCode::kInternal, "runc kill: " + rr.error);
    }
    return {};
  }
  if (p->pid <= 0) return rpc_error(RpcCode::kFailedPrecondition, "process not started");
  if (::kill(p->pid, static_cast<int>(r.signal())) != 0) return rpc_error(RpcCode::kNotFound, "process already finished");
  return {};
}

RpcReply TaskService::Wait(const task::WaitRequest& r, task::WaitResponse& out) {
  std::unique_lock lock(mu_);
  RpcReply err;
  auto p = find(r.id(), r.exec_id(), err);
  if (!p) return err;
  exited_cv_.wait(lock, [&] { return is_stopped(*p); });
  out.set_exit_status(p->exit_status);
  set_time(out.mutable_exited_at(), p->exited_at);
  return {};
}

RpcReply TaskService::State(const task::StateRequest& r, task::StateResponse& out) {
  std::lock_guard lock(mu_);
  RpcReply err;
  auto p = find(r.id(), r.exec_id(), err);
  if (!p) return err;
  out.set_id(r.exec_id().empty() ? r.id() : r.exec_id());
  out.set_bundle(containers_[r.id()]->bundle);
  out.set_pid(static_cast<uint32_t>(p->pid));
  out.set_status(p->status);
  out.set_stdin(p->stdin_path);
  out.set_stdout(p->stdout_path);
  out.set_stderr(p->stderr_path);
  out.set_exit_status(p->exit_status);
  if (is_stopped(*p)) set_time(out.mutable_exited_at(), p->exited_at);
  out.set_exec_id(r.exec_id());
  return {};
}

RpcReply TaskService::Pids(const task::PidsRequest& r, task::PidsResponse& out) {
  {
    std::unique_lock lock(mu_);
    RpcReply err;
    auto p = find(r.id(), "", err);
    if (!p) return err;
    if (xen_mode_) return xen_pids(p, lock, out);
  }
  auto pids = runc_.pids(r.id());
  if (!pids) return rpc_error(RpcCode::kInternal, "runc ps failed");
  for (pid_t pid : *pids) out.add_processes()->set_pid(static_cast<uint32_t>(pid));
  return {};
}

RpcReply TaskService::Pause(const task::PauseRequest& r, google::protobuf::Empty&) {
  std::unique_lock lock(mu_);
  RpcReply err;
  auto p = find(r.id(), "", err);
  if (!p) return err;
  if (xen_mode_) return xen_freeze(r.id(), p, true, lock);
  const RuncResult rr = runc_.pause(r.id());
  if (!rr.ok) return rpc_error(RpcCode::kInternal, "runc pause: " + rr.error);
  p->status = containerd::v1::types::PAUSED;
  ev::TaskPaused e;
  e.set_container_id(r.id());
  events_.publish("/tasks/paused", e);
  return {};
}

RpcReply TaskService::Resume(const task::ResumeRequest& r, google::protobuf::Empty&) {
  std::unique_lock lock(mu_);
  RpcReply err;
  auto p = find(r.id(), "", err);
  if (!p) return err;
  if (xen_mode_) return xen_freeze(r.id(), p, false, lock);
  const RuncResult rr = runc_.resume(r.id());
  if (!rr.ok) return rpc_error(RpcCode::kInternal, "runc resume: " + rr.error);
  if (!is_stopped(*p)) p->status = containerd::v1::types::RUNNING;
  ev::TaskResumed e;
  e.set_container_id(r.id());
  events_.publish("/tasks/resumed", e);
  return {};
}

RpcReply TaskService::CloseIO(const task::CloseIORequest& r, google::protobuf::Empty&) {
  std::lock_guard lock(mu_);
  RpcReply err;
  auto p = find(r.id(), r.exec_id(), err);
  if (!p) return err;
  if (r.stdin() && p->io) p->io->close_stdin();
  if (r.stdin() && p->zio) p->zio->close_stdin();  // Xen mode: the feeder sends CtlStdin's close
  return {};
}

RpcReply TaskService::Update(const task::UpdateTaskRequest& r, google::protobuf::Empty&) {
  std::unique_lock lock(mu_);
  RpcReply err;
  if (!find(r.id(), "", err)) return err;
  // LinuxResources travel as JSON (containerd's typeurl for runtime-spec types): runc reads it as a file.
  if (r.resources().value().size() > (1u << 20)) return rpc_error(RpcCode::kInvalidArgument, "resources larger than 1 MiB");
  if (xen_mode_) return xen_update(r, lock);
  const std::string path = containers_[r.id()]->bundle + "/update-resources.json";
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << r.resources().value();
  }
  const RuncResult rr = runc_.update(r.id(), path);
  ::unlink(path.c_str());
  if (!rr.ok) return rpc_error(RpcCode::kInternal, "runc update: " + rr.error);
  return {};
}

RpcReply TaskService::Connect(const task::ConnectRequest& r, task::ConnectResponse& out) {
  std::lock_guard lock(mu_);
  out.set_shim_pid(static_cast<uint32_t>(::getpid()));
  out.set_version("xen-gpu-shim-1");
  if (auto c = containers_.find(r.id()); c != containers_.end())
    out.set_task_pid(static_cast<uint32_t>(c->second->init->pid));
  return {};
}

RpcReply TaskService::Shutdown(const task::ShutdownRequest&, google::protobuf::Empty&) {
  std::lock_guard lock(mu_);
  // One shim serves the whole pod: it stays while any of the pod's containers does.
  if (!containers_.empty()) return {};
  // Stop after this answer is on its way (containerd accepts the connection closing instead, too).
  std::thread([fn = on_shutdown_] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    fn();
  }).detach();
  return {};
}

// ---- not implemented: each says so, with the reason -----------------------------------------------------------

RpcReply TaskService::Checkpoint(const task::CheckpointTaskRequest&, google::protobuf::Empty&) {
  return rpc_error(RpcCode::kUnimplemented, "checkpoint is not supported by the xen-gpu shim (a zone's GPU state cannot be saved)");
}

RpcReply TaskService::ResizePty(const task::ResizePtyRequest& r, google::protobuf::Empty&) {
  std::unique_lock lock(mu_);
  RpcReply err;
  auto p = find(r.id(), r.exec_id(), err);
  if (!p) return err;
  if (xen_mode_) return xen_resize(r, p, lock);
  if (!p->io || !p->io->terminal()) return rpc_error(RpcCode::kFailedPrecondition, "the process has no terminal");
  if (!p->io->resize(r.width(), r.height())) return rpc_error(RpcCode::kInvalidArgument, "cannot resize the terminal");
  return {};
}

RpcReply TaskService::Stats(const task::StatsRequest& r, task::StatsResponse& out) {
  pid_t pid = 0;
  {
    std::unique_lock lock(mu_);
    RpcReply err;
    auto p = find(r.id(), "", err);
    if (!p) return err;
    if (is_stopped(*p)) return rpc_error(RpcCode::kNotFound, "container " + r.id() + " has stopped");
    if (xen_mode_) return xen_stats(p, lock, out);
    pid = p->pid;
  }
  std::string error;
  auto stats = cgroup_stats(pid, error);
  if (!stats) return rpc_error(error.find("not implemented") != std::string::npos ? RpcCode::kUnimplemented : RpcCode::kNotFound, error);
  out.mutable_stats()->set_type_url(stats->type_url);
  out.mutable_stats()->set_value(stats->value);
  return {};
}

void TaskService::finish() {
  std::unique_lock lock(mu_);
  if (xen_) xen_teardown(lock);
  if (zone_) zone_->destroy();
  zone_.reset();
  events_.flush();
}

// containerd's /tasks/create event, for both modes (the pid is 0 where nothing runs yet).
void TaskService::publish_create(const CreateReq& r, uint32_t pid) {
  ev::TaskCreate e;
  e.set_container_id(r.id());
  e.set_bundle(r.bundle());
  *e.mutable_rootfs() = r.rootfs();
  e.mutable_io()->set_stdin(r.stdin());
  e.mutable_io()->set_stdout(r.stdout());
  e.mutable_io()->set_stderr(r.stderr());
  e.set_pid(pid);
  events_.publish("/tasks/create", e);
}

// containerd's /tasks/start (a container's init) or /tasks/exec-started (an exec), for both modes.
void TaskService::publish_started(const task::StartRequest& r, uint32_t pid) {
  if (r.exec_id().empty()) {
    ev::TaskStart e;
    e.set_container_id(r.id());
    e.set_pid(pid);
    events_.publish("/tasks/start", e);
    return;
  }
  ev::TaskExecStarted e;
  e.set_container_id(r.id());
  e.set_exec_id(r.exec_id());
  e.set_pid(pid);
  events_.publish("/tasks/exec-started", e);
}

}  // namespace xg::shim
