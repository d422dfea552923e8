// containerd's runtime v2 TaskService (containerd.task.v2.Task) for one pod: its sandbox and its containers,
// each a runc container; the pod's zone on gpu-proxy, created with the pod's first container (the sandbox under
// Kubernetes) and ended with it. All 17 methods answer: implemented, or UNIMPLEMENTED with the reason (never a
// pretended success).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <google/protobuf/empty.pb.h>

#include "cri-shim/container_io.h"
#include "cri-shim/events.h"
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
  TaskService(ShimIdentity id, ShimConfig cfg, std::function<void()> on_shutdown);
  ~TaskService();
  // One ttrpc call: the method's request parsed, handled, its response serialized.
  [[nodiscard]] RpcReply dispatch(const std::string& service, const std::string& method, const std::string& payload);
  // The shim is exiting: end the zone, wait for events to go out.
  void finish();

  struct Proc;
  struct Container;

 private:
  template <class Req, class Resp>
  RpcReply call(const std::string& payload, RpcReply (TaskService::*fn)(const Req&, Resp&));
#define XG_TASK_METHOD(Name, Req, Resp) RpcReply Name(const Req& r, Resp& out);
#include "cri-shim/task_methods.inc"
#undef XG_TASK_METHOD

  std::shared_ptr<Proc> find(const std::string& id, const std::string& exec_id, RpcReply& err);
  void on_exit(const std::string& container_id, std::shared_ptr<Proc> p, int wait_status);
  std::string console_socket_path();

  ShimIdentity ident_;
  ShimConfig cfg_;
  Runc runc_;
  EventPublisher events_;
  std::function<void()> on_shutdown_;
  std::mutex mu_;
  std::condition_variable exited_cv_;
  std::map<std::string, std::unique_ptr<Container>> containers_;
  std::optional<PodZone> zone_;
  std::string pod_id_;  // the container whose creation made the zone (the sandbox); its delete ends the zone
  std::map<std::string, std::function<RpcReply(const std::string&)>> methods_;
  OomWatcher oom_;  // last: its thread calls back into the members above
};

}  // namespace xg::shim
