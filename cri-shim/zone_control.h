// The shim's end of a pod zone's control channel (idm/messages_zonectl.h): the backend of the domain's
// `xen-gpu-ctl` device 0, making the calls the zone init answers. One mutex serialises calls; a poller thread
// collects output and exits (CtlPoll) and hands them to the callbacks. Everything the zone answers is hostile:
// decoded by the table-driven codec, events parsed by idm::parse_ctl_events, every wait bounded. A zone that
// stops answering, answers garbage or breaks the ring contract is reported once through `failed` and every later
// call fails at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "idm/channel.h"
#include "idm/messages_zonectl.h"

namespace xg::shim {

struct ZoneEvents {
  // stream: 1 stdout, 2 stderr. Called from the poller thread, in the zone's order.
  std::function<void(uint32_t proc_id, int stream, std::span<const std::byte> bytes)> output;
  // status: exit code, or 128 + signal. Called after every byte of that process's output.
  std::function<void(uint32_t proc_id, int status)> exit;
  // The zone broke the contract or went silent; `why` for the log. Called at most once, from the poller thread.
  // No callback may destroy the ZoneControl (its destructor joins the poller): hand that to another thread.
  std::function<void(const std::string& why)> failed;
};

// One of a container's mounts as CtlStart carries it (idm::CtlMount's comment): xen_mounts.h makes them.
struct ZoneMount {
  idm::CtlMount m{};
  std::string source, destination;
};

struct ZoneStart {
  uint32_t proc_id = 0;
  uint32_t container_proc = 0;  // 0: a container's first process; else the container an exec joins
  uint32_t rootfs_disk = 0;     // a container's image: xvda + n
  uint32_t uid = 0, gid = 0;
  bool stdin_open = false;
  bool terminal = false;  // the OCI process's `terminal`: stdio on a pseudo-terminal in the zone
  std::string id, cwd = "/", hostname;
  std::vector<std::string> argv, env;
  // The OCI process's set-up (xen_spec.h reads them): additional gids, rlimits, capabilities (always given in
  // Xen mode: a spec without them gets none, as under runc), no_new_privs, oom_score_adj.
  std::vector<uint32_t> groups;
  std::vector<idm::CtlRlimit> rlimits;
  idm::CtlCaps caps{};
  bool no_new_privs = false;
  std::optional<int32_t> oom_score_adj;
  idm::CtlResources resources{};  // a container's cgroup limits (an exec: none, it joins its container's)
  std::vector<ZoneMount> mounts;  // a container's mounts (an exec: none, it sees its container's)
  uint32_t mounts_disk = 0;       // the disk of the container's mount image, with a kImage mount
  // A container's seccomp program (oci_seccomp.h; an exec: none, it gets its container's) and its flags.
  std::vector<idm::CtlFilterInsn> filter;
  uint32_t filter_flags = 0;
};

class ZoneControl {
 public:
  // Serves as the backend of domain `domid`'s control device and waits (at most `timeout`) for the zone init to
  // connect, then says CtlHello. The error names what failed.
  [[nodiscard]] static std::variant<std::unique_ptr<ZoneControl>, std::string> connect(
      uint32_t domid, std::chrono::milliseconds timeout, ZoneEvents events);
  // The same over an endpoint made elsewhere (tests: an in-memory channel pair). `call_timeout` bounds each
  // call (tests shorten it).
  [[nodiscard]] static std::variant<std::unique_ptr<ZoneControl>, std::string> over(
      std::unique_ptr<idm::Endpoint> endpoint, ZoneEvents events,
      std::chrono::milliseconds call_timeout = kDefaultCallTimeout);
  static constexpr std::chrono::milliseconds kDefaultCallTimeout{10'000};
  ~ZoneControl();  // stops the poller; closes the channel
  ZoneControl(const ZoneControl&) = delete;
  ZoneControl& operator=(const ZoneControl&) = delete;

  // Each returns 0 or an errno (the zone's answer, positive) (ETIMEDOUT: no answer in time; EPIPE: the channel is gone or failed).
  [[nodiscard]] int start(const ZoneStart& s, uint32_t& pid);
  [[nodiscard]] int signal(uint32_t proc_id, int sig, bool all);
  // Any length: sent in calls of at most kMaxCtlChunk bytes; `close` goes with the last.
  [[nodiscard]] int write_stdin(uint32_t proc_id, std::span<const std::byte> bytes, bool close);
  // A running container's new cgroup limits (CtlUpdate; `unlimit`: idm::CtlUnlimit bits).
  [[nodiscard]] int update(uint32_t proc_id, const idm::CtlResources& r, uint32_t unlimit);
  // Freezes (true) or thaws a container (CtlFreeze: containerd's Pause and Resume).
  [[nodiscard]] int freeze(uint32_t proc_id, bool frozen);
  // A terminal's window size (ENOTTY: the process has none).
  [[nodiscard]] int resize(uint32_t proc_id, uint32_t cols, uint32_t rows);
  [[nodiscard]] int pids(uint32_t proc_id, std::vector<uint32_t>& out);
  [[nodiscard]] int remove(uint32_t proc_id);
  // The cgroup figures of the container `proc_id` runs in. An answer that fails idm::check_ctl_stats (the zone
  // lying) fails the channel like any other broken answer (EPIPE).
  [[nodiscard]] int stats(uint32_t proc_id, idm::CtlStatsRsp& out);
  // Asks the zone init to stop everything and power off (the caller destroys the domain after it anyway). The
  // channel takes no further calls afterwards, and its end is not reported through `failed`.
  [[nodiscard]] int shutdown(std::chrono::milliseconds grace);
  [[nodiscard]] bool healthy() const noexcept;

 private:
  struct Impl;
  explicit ZoneControl(std::unique_ptr<Impl> impl);
  // over() with `keep`: what must outlive the endpoint (connect's Xen backend, which removes the device's nodes
  // when destroyed). Says CtlHello and starts the poller.
  [[nodiscard]] static std::variant<std::unique_ptr<ZoneControl>, std::string> make(
      std::unique_ptr<idm::Endpoint> endpoint, std::shared_ptr<void> keep, ZoneEvents events,
      std::chrono::milliseconds call_timeout);
  std::unique_ptr<Impl> impl_;
};

}  // namespace xg::shim
