// What the TaskService keeps per container and process, shared by its stub-mode (task_service.cc) and Xen-mode
// (task_service_xen.cc) halves. Guarded by TaskService::mu_.
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "cri-shim/container_io.h"
#include "cri-shim/pod_domain.h"
#include "cri-shim/pod_zone.h"
#include "cri-shim/proto/shim.pb.h"
#include "cri-shim/task_service.h"
#include "cri-shim/zone_control.h"
#include "cri-shim/zone_io.h"
#include "idm/messages_zonectl.h"

namespace xg::shim {

// containerd's timestamp of a clock reading (exited_at and the like).
inline void set_time(google::protobuf::Timestamp* ts, std::chrono::system_clock::time_point t) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  ts->set_seconds(ns / 1'000'000'000);
  ts->set_nanos(static_cast<int32_t>(ns % 1'000'000'000));
}

struct TaskService::Proc {
  std::string exec_id;  // empty for the container's init process
  pid_t pid = 0;
  containerd::v1::types::Status status = containerd::v1::types::CREATED;
  uint32_t exit_status = 0;
  std::chrono::system_clock::time_point exited_at{};
  std::string stdin_path, stdout_path, stderr_path;
  std::unique_ptr<ProcessIo> io;
  std::string process_json;  // an exec's process spec, written into the bundle
  // Xen mode: the process in the zone, named by the shim (0: the sandbox, which runs nothing in the zone).
  uint32_t proc_id = 0;
  std::optional<ZoneStart> zone_start;  // what Start sends
  bool freezing = false;  // a Pause or Resume is waiting for the zone's answer
  std::unique_ptr<ZoneIo> zio;
};

struct TaskService::Container {
  std::string id, bundle;
  std::string zone;  // the zone its processes use (empty for the sandbox's pause container)
  bool shares_pid_ns = false;  // no PID namespace of its own: its init's end does not end its other processes
  std::shared_ptr<Proc> init;
  std::map<std::string, std::shared_ptr<Proc>> execs;
  // Xen mode: its root filesystem, an EROFS image in the bundle hot-plugged as disk xvda + disk (-1: none).
  int disk = -1;
  std::string image;
  int mounts_disk = -1;      // the disk of its mount image (xen_mounts.h), when it has one
  std::string mounts_image;
};

// Xen mode: the pod's domain, its zone on gpu-proxy, the control channel to its zone init, and the watcher that
// reclaims the pod when the domain dies on its own.
struct TaskService::XenPodState {
  std::string zone;  // the pod's zone name: the domain's name and the gpu-proxy zone's
  // The sandbox's hostname: under CRI a pod's containers join the sandbox's UTS namespace (their specs name it
  // by path and carry no hostname); in the zone each container has its own, given this name.
  std::string hostname;
  // The domain and its zone on gpu-proxy (shared with the watcher, which asks whether it is alive).
  std::shared_ptr<PodDomain> domain;
  // Shared with the stdin feeders (each holds it only for one CtlStdin); reset when the pod ends.
  std::shared_ptr<ZoneControl> ctl;
  uint32_t next_proc = 1;
  // The proc_ids the shim chose, and nothing else: an event naming any other number is dropped.
  std::map<uint32_t, std::pair<std::string, std::shared_ptr<Proc>>> procs;
  std::array<bool, idm::kMaxCtlDisks> disks{};  // rootfs disks in use
  bool gone = false;  // the domain died or the channel failed: the pod was reclaimed
  std::string gone_why;
  // The watcher (TaskService::xen_watch).
  std::mutex watch_mu;
  std::condition_variable watch_cv;
  bool watch_stop = false, ctl_failed = false;
  std::string failed_why;
  std::thread watcher;
};

}  // namespace xg::shim
