// containerd's runtime v2 TaskService (containerd.task.v2.Task) for one pod: its sandbox and its containers,
// each a runc container; the pod's zone on gpu-proxy, created with the pod's first container (the sandbox under
// Kubernetes) and ended with it. In Xen mode (shim_config.h `mode`) the pod is a PV domU instead and its
// containers run in it, driven over the zone control channel: task_service_xen.cc. All 17 methods answer: implemented, or UNIMPLEMENTED with the reason (never a
// pretended success).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>

#include <google/protobuf/empty.pb.h>
#include <nlohmann/json.hpp>

#include "cri-shim/container_io.h"
#include "cri-shim/events.h"
#include "cri-shim/pod_domain.h"
#include "cri-shim/oom_watcher.h"
#include "cri-shim/pod_zone.h"
#include "cri-shim/proto/shim.pb.h"
#include "cri-shim/runc_client.h"
#include "cri-shim/shim_config.h"
#include "cri-shim/ttrpc_server.h"

namespace xg::shim {

struct ShimIdentity {
  std::string ns;                  // containerd namespace (-namespace)
  std::string containerd_address;  // containerd's gRPC socket (-address)
  std::string publish_binary;      // -publish-binary
};

inline constexpr const char* kTaskService = "containerd.task.v2.Task";

class TaskService {
 public:
  // `boot_pod`: how Xen mode makes a pod's domain; empty: the real one (xen_pod_domains(cfg)). Tests give their own.
  TaskService(ShimIdentity id, ShimConfig cfg, std::function<void()> on_shutdown, PodDomainBooter boot_pod = {});
  ~TaskService();
  // One ttrpc call: the method's request parsed, handled, its response serialized.
  [[nodiscard]] RpcReply dispatch(const std::string& service, const std::string& method, const std::string& payload);
  // The shim is exiting: end the zone, wait for events to go out.
  void finish();

  struct Proc;
  struct Container;
  struct XenPodState;

 private:
  template <class Req, class Resp>
  RpcReply call(const std::string& payload, RpcReply (TaskService::*fn)(const Req&, Resp&));
#define XG_TASK_METHOD(Name, Req, Resp) RpcReply Name(const Req& r, Resp& out);
#include "cri-shim/task_methods.inc"
#undef XG_TASK_METHOD

  std::shared_ptr<Proc> find(const std::string& id, const std::string& exec_id, RpcReply& err);
  void on_exit(const std::string& container_id, std::shared_ptr<Proc> p, int wait_status);
  // Under mu_: `p` has exited with `exit_status`; publishes TaskExit (waiters are woken by the caller).
  void mark_exited(const std::string& container_id, Proc& p, uint32_t exit_status);
  std::string console_socket_path();

  // Xen mode (task_service_xen.cc). Each is called with mu_ held through `lock`; some release it around calls
  // that must not run under it (joining the zone's poller, whose callbacks take mu_).
  using CreateReq = containerd::task::v2::CreateTaskRequest;
  void publish_create(const CreateReq& r, uint32_t pid);
  void publish_started(const containerd::task::v2::StartRequest& r, uint32_t pid);
  RpcReply xen_create_pod(const CreateReq& r, const nlohmann::json& spec, bool lone, std::unique_lock<std::mutex>& lock,
                          containerd::task::v2::CreateTaskResponse& out);
  RpcReply xen_create_container(const CreateReq& r, const nlohmann::json& spec, containerd::task::v2::CreateTaskResponse& out);
  RpcReply xen_start(const containerd::task::v2::StartRequest& r, const std::shared_ptr<Proc>& p,
                     containerd::task::v2::StartResponse& out);
  RpcReply xen_exec(const containerd::task::v2::ExecProcessRequest& r, Container& c);
  RpcReply xen_kill(const containerd::task::v2::KillRequest& r, const std::shared_ptr<Proc>& p,
                    std::unique_lock<std::mutex>& lock);
  RpcReply xen_stats(const std::shared_ptr<Proc>& p, std::unique_lock<std::mutex>& lock,
                     containerd::task::v2::StatsResponse& out);
  // Pause (frozen) or Resume of a container: its status and event follow the zone's answer.
  RpcReply xen_freeze(const std::string& id, const std::shared_ptr<Proc>& p, bool frozen, std::unique_lock<std::mutex>& lock);
  RpcReply xen_update(const containerd::task::v2::UpdateTaskRequest& r, std::unique_lock<std::mutex>& lock);
  RpcReply xen_resize(const containerd::task::v2::ResizePtyRequest& r, const std::shared_ptr<Proc>& p,
                      std::unique_lock<std::mutex>& lock);
  RpcReply xen_pids(const std::shared_ptr<Proc>& p, std::unique_lock<std::mutex>& lock,
                    containerd::task::v2::PidsResponse& out);
  RpcReply xen_delete(const containerd::task::v2::DeleteRequest& r, const std::shared_ptr<Proc>& p,
                      std::unique_lock<std::mutex>& lock);
  // Under mu_: the live pod's control channel; null without a pod, or once it was reclaimed (its zone gone).
  [[nodiscard]] std::shared_ptr<ZoneControl> xen_ctl() const;
  // The zone control channel's callbacks (its poller thread) and the pod watcher's thread.
  void xen_output(uint32_t proc_id, int stream, std::span<const std::byte> bytes);
  void xen_exit(uint32_t proc_id, int status);
  void xen_failed(const std::string& why);
  void xen_watch(XenPodState* self);
  // Every running process reported exited (137), the domain destroyed, the proxy's zone ended.
  void xen_reclaim(XenPodState* self, const std::string& why);
  // The pod ends (its sandbox deleted, or the shim exiting): the zone init asked to power off, the domain
  // destroyed, the proxy's zone ended. Releases and retakes `lock`.
  void xen_teardown(std::unique_lock<std::mutex>& lock);

  ShimIdentity ident_;
  ShimConfig cfg_;
  Runc runc_;
  EventPublisher events_;
  std::function<void()> on_shutdown_;
  PodDomainBooter boot_pod_;
  std::mutex mu_;
  std::condition_variable exited_cv_;
  std::map<std::string, std::unique_ptr<Container>> containers_;
  std::optional<PodZone> zone_;
  std::string pod_id_;  // the container whose creation made the zone (the sandbox); its delete ends the zone
  std::map<std::string, std::function<RpcReply(const std::string&)>> methods_;
  OomWatcher oom_;  // its thread calls back into the members above
  // Xen mode: set when the pod's domain is made, never cleared (a container outliving its pod's domain is still
  // a Xen-mode container); xen_ is the live pod, null before and after it.
  bool xen_mode_ = false;
  std::unique_ptr<XenPodState> xen_;  // last: its threads call back into the members above
};

}  // namespace xg::shim
