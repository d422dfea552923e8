#include "cri-shim/zone/zone_ctl_server.h"

#include <signal.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

#include "idm/codec.h"
#include "idm/log.h"

namespace xg::zone {
namespace {

using namespace xg::idm;

// Answers must not wait for ever on a peer that stopped reading its response ring: past this the channel is
// treated as lost (the peer's death is noticed sooner, through the doorbell).
constexpr auto kSendTimeout = std::chrono::seconds(10);

template <typename T>
void put_fixed(ZoneCtlServer::Reply& r, const T& v) {
  const auto b = bytes_of(v);
  r.fixed.assign(b.begin(), b.end());
}

}  // namespace

ZoneCtlServer::ZoneCtlServer(Channel& channel, ProcessHost& host, Supervisor& supervisor)
    : ch_(channel), host_(host), sup_(supervisor), rx_(channel.geometry().max_payload) {
  sup_.set_on_container_exit([&host](uint32_t proc_id) { host.container_gone(proc_id); });
}

ZoneCtlServer::~ZoneCtlServer() { sup_.set_on_container_exit(nullptr); }

void ZoneCtlServer::log_refusal(const char* op, uint32_t proc_id, uint32_t err) {
  // One line per refused request, rate-limited so a misbehaving shim cannot flood the console: the first 100,
  // then every 1000th.
  if (++refusals_ > 100 && refusals_ % 1000 != 0) return;
  log_line(std::string(op) + (proc_id ? " proc " + std::to_string(proc_id) : std::string()) + " -> " +
           std::strerror(static_cast<int>(err)) + " (refusal #" + std::to_string(refusals_) + ")");
}

uint32_t ZoneCtlServer::on(OpTag<Op::CtlHello>, const CtlHelloReq&, std::span<const std::byte>, Reply& reply) {
  struct sysinfo si {};
  uint64_t kib = 0;
  if (::sysinfo(&si) == 0) kib = uint64_t{si.totalram} * si.mem_unit / 1024;
  // Our version whatever the shim speaks: the shim decides whether it can talk to us.
  put_fixed(reply, CtlHelloRsp{kCtlProtocolVersion, static_cast<uint32_t>(::getpid()), kib});
  return 0;
}

uint32_t ZoneCtlServer::on(OpTag<Op::CtlStart>, const CtlStartReq& r, std::span<const std::byte> tail, Reply& reply) {
  current_proc_ = r.proc_id;
  auto strings = parse_ctl_start(r, tail);  // the validator accepted it; these are views into rx_
  if (!strings) return EINVAL;
  if (sup_.find(r.proc_id)) return EEXIST;
  if (sup_.full()) return ENOSPC;  // the table is bounded: the shim must Remove what it has collected
  StartRequest req;
  req.proc_id = r.proc_id;
  req.container_proc = r.container_proc;
  req.rootfs_disk = r.rootfs_disk;
  req.mounts_disk = r.mounts_disk;
  req.uid = r.uid;
  req.gid = r.gid;
  req.stdin_pipe = (r.flags & kCtlStartStdin) != 0;
  req.terminal = (r.flags & kCtlStartTerminal) != 0;
  req.no_new_privs = (r.flags & kCtlStartNoNewPrivs) != 0;
  req.set_caps = (r.flags & kCtlStartCaps) != 0;
  req.caps = r.caps;
  if (r.flags & kCtlStartOomScoreAdj) req.oom_score_adj = r.oom_score_adj;
  req.resources = r.resources;
  req.strings = &*strings;
  if (r.container_proc != 0) {
    auto c = sup_.find(r.container_proc);
    if (!c) return ENOENT;
    if (c->container_proc != 0) return EINVAL;  // an exec joins a container, not another exec
    if (c->exited) return ESRCH;
    req.container_pid = c->pid;
    if (const auto f = filters_.find(r.container_proc); f != filters_.end()) {
      req.filter = f->second.insns;
      req.filter_flags = f->second.flags;
    }
  } else {
    req.filter = strings->filter;
    req.filter_flags = r.filter_flags;
  }
  Spawned s;
  auto hold = sup_.hold_reaper();
  if (int e = host_.start(req, s); e != 0) return static_cast<uint32_t>(e);
  if (r.container_proc == 0 && !strings->filter.empty())
    filters_[r.proc_id] = Filter{std::move(strings->filter), r.filter_flags};
  const pid_t pid = s.pid;
  if (int e = sup_.add(r.proc_id, r.container_proc, std::move(s)); e != 0) {
    ::kill(pid, SIGKILL);  // not reachable with one server thread (checked above); never leave it untracked
    return static_cast<uint32_t>(e);
  }
  put_fixed(reply, CtlStartRsp{static_cast<uint32_t>(pid), 0});
  return 0;
}

uint32_t ZoneCtlServer::on(OpTag<Op::CtlSignal>, const CtlSignalReq& r, std::span<const std::byte>, Reply&) {
  current_proc_ = r.proc_id;
  auto e = sup_.find(r.proc_id);
  if (!e) return ENOENT;
  const int sig = static_cast<int>(r.signal);
  // `all` on an exec means its one process, as containerd's runc shim treats it.
  if (r.all && e->container_proc == 0) {
    if (e->exited) return ESRCH;  // its PID namespace died with it
    return static_cast<uint32_t>(host_.signal_all(e->pid, sig));
  }
  return static_cast<uint32_t>(sup_.signal(r.proc_id, sig));
}

uint32_t ZoneCtlServer::on(OpTag<Op::CtlStdin>, const CtlStdinReq& r, std::span<const std::byte> tail, Reply&) {
  current_proc_ = r.proc_id;
  return static_cast<uint32_t>(sup_.write_stdin(r.proc_id, tail, (r.flags & kCtlStdinClose) != 0));
}

uint32_t ZoneCtlServer::on(OpTag<Op::CtlResize>, const CtlResizeReq& r, std::span<const std::byte>, Reply&) {
  current_proc_ = r.proc_id;
  return static_cast<uint32_t>(sup_.resize(r.proc_id, static_cast<uint16_t>(r.cols), static_cast<uint16_t>(r.rows)));
}

uint32_t ZoneCtlServer::running_container(uint32_t proc_id) {
  current_proc_ = proc_id;
  const auto c = sup_.find(proc_id);
  if (!c) return ENOENT;
  if (c->container_proc != 0) return EINVAL;  // an exec has its container's cgroup, not one of its own
  return c->exited ? ESRCH : 0;
}

uint32_t ZoneCtlServer::on(OpTag<Op::CtlUpdate>, const CtlUpdateReq& r, std::span<const std::byte>, Reply&) {
  if (const uint32_t e = running_container(r.proc_id)) return e;
  return static_cast<uint32_t>(host_.update(r.proc_id, r.resources, r.unlimit));
}

uint32_t ZoneCtlServer::on(OpTag<Op::CtlFreeze>, const CtlFreezeReq& r, std::span<const std::byte>, Reply&) {
  if (const uint32_t e = running_container(r.proc_id)) return e;  // a container is frozen whole
  return static_cast<uint32_t>(host_.freeze(r.proc_id, r.freeze != 0));
}

uint32_t ZoneCtlServer::on(OpTag<Op::CtlPoll>, const CtlPollReq& r, std::span<const std::byte>, Reply& reply) {
  if (r.wait_ms > 0) {
    // Held until a process has output or an exit, or the shim's next record (a call, or the Nop it sends to end
    // this wait) is on the ring: one sleep on the ring's doorbell, which the supervisor interrupts. No polling:
    // an idle pod costs its zone nothing between the shim's Polls.
    std::atomic<bool> woken{false};
    sup_.set_on_ready([this, &woken] {
      woken.store(true, std::memory_order_release);
      ch_.rx().interrupt();
    });
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(r.wait_ms);
    if (!sup_.ready()) (void)ch_.rx().wait_ready(until, woken);
    sup_.set_on_ready(nullptr);
  }
  auto batch = sup_.poll(r.max_bytes, std::chrono::milliseconds(0));
  put_fixed(reply, CtlPollRsp{batch.events, batch.pending ? 1u : 0u});
  reply.tail = std::move(batch.tail);
  return 0;
}

uint32_t ZoneCtlServer::on(OpTag<Op::CtlPids>, const CtlProcReq& r, std::span<const std::byte>, Reply& reply) {
  current_proc_ = r.proc_id;
  auto e = sup_.find(r.proc_id);
  if (!e) return ENOENT;
  std::vector<uint32_t> pids;
  if (e->exited) {
    // nothing runs
  } else if (e->container_proc == 0) {
    if (int err = host_.pids(e->pid, pids); err != 0) return static_cast<uint32_t>(err);
  } else {
    pids.push_back(static_cast<uint32_t>(e->pid));
  }
  if (pids.size() > kMaxCtlPids) pids.resize(kMaxCtlPids);  // the table's bound on the answer
  put_fixed(reply, CtlPidsRsp{static_cast<uint32_t>(pids.size()), 0});
  const auto b = std::as_bytes(std::span(pids));
  reply.tail.assign(b.begin(), b.end());
  return 0;
}

uint32_t ZoneCtlServer::on(OpTag<Op::CtlRemove>, const CtlProcReq& r, std::span<const std::byte>, Reply&) {
  current_proc_ = r.proc_id;
  const auto e = sup_.find(r.proc_id);
  if (int err = sup_.remove(r.proc_id); err != 0) return static_cast<uint32_t>(err);
  // Normally gone with its first process already; a cgroup that something still held then goes now.
  if (e && e->container_proc == 0) host_.container_gone(r.proc_id);
  filters_.erase(r.proc_id);
  return 0;
}

uint32_t ZoneCtlServer::on(OpTag<Op::CtlStats>, const CtlProcReq& r, std::span<const std::byte>, Reply& reply) {
  current_proc_ = r.proc_id;
  auto e = sup_.find(r.proc_id);
  if (!e) return ENOENT;
  // An exec's figures are its container's (one cgroup per container).
  const uint32_t container = e->container_proc ? e->container_proc : r.proc_id;
  if (container != r.proc_id) {
    e = sup_.find(container);
    if (!e) return ENOENT;
  }
  if (e->exited) return ESRCH;  // its cgroup went with it
  CtlStatsRsp rsp{};
  if (int err = host_.stats(container, rsp); err != 0) return static_cast<uint32_t>(err);
  put_fixed(reply, rsp);
  return 0;
}

uint32_t ZoneCtlServer::on(OpTag<Op::CtlShutdown>, const CtlShutdownReq& r, std::span<const std::byte>, Reply&) {
  shutdown_ = true;
  grace_ms_ = r.grace_ms;
  return 0;
}

template <Op op, typename Req>
uint32_t ZoneCtlServer::on(OpTag<op>, const Req&, std::span<const std::byte>, Reply&) {
  return ENOSYS;  // a CUDA or core opcode: served by gpu-proxy workers, never by a zone init
}

Error ZoneCtlServer::answer_refused(std::span<const std::byte> bytes, Error why) {
  // The decoder refused it. Answer EINVAL when the header is a sound request for a call we know (so the shim's
  // call fails now instead of timing out); anything else is only logged, as its header may be what is wrong.
  MsgHeader h{};
  const OpInfo* info = nullptr;
  if (bytes.size() >= sizeof h) {
    std::memcpy(&h, bytes.data(), sizeof h);
    info = find_op(h.opcode);
  }
  const bool answerable = info && h.magic == kMsgMagic && h.version == kProtocolVersion &&
                          (h.flags & kFlagResponse) == 0 && info->kind == Kind::kCall;
  log_refusal((std::string("undecodable request (") + std::string(error_name(why)) + ", " +
               (info ? info->name : "unknown opcode") + ")")
                  .c_str(),
              0, answerable ? EINVAL : EBADMSG);
  if (!answerable) return Error::kOk;
  Error e = send_response_bytes(ch_.tx(), h, EINVAL, {}, {}, std::chrono::steady_clock::now() + kSendTimeout);
  return e == Error::kTimeout ? Error::kPeerGone : e;
}

Error ZoneCtlServer::handle(std::span<const std::byte> bytes) {
  auto m = decode(bytes, Direction::kRequest, Path::kRing);
  if (!m) return answer_refused(bytes, m.error());
  Reply reply;
  current_proc_ = 0;
  uint32_t result = dispatch(*m, [&](auto tag, const MsgHeader&, const auto& req, std::span<const std::byte> tail) {
    return on(tag, req, tail, reply);
  });
  if (result != 0) log_refusal(m->info->name, current_proc_, result);
  if (m->info->kind != Kind::kCall) return Error::kOk;  // a post: nobody waits for an answer
  Error e = send_response_bytes(ch_.tx(), m->header, result, reply.fixed, reply.tail,
                                std::chrono::steady_clock::now() + kSendTimeout);
  return e == Error::kTimeout ? Error::kPeerGone : e;
}

ServeResult ZoneCtlServer::serve(const std::atomic<bool>& stop) {
  while (!stop.load(std::memory_order_relaxed)) {
    auto n = ch_.rx().pop(rx_, std::chrono::steady_clock::now() + std::chrono::milliseconds(200));
    if (!n) {
      if (n.error() == Error::kTimeout || n.error() == Error::kEmpty) continue;
      log_line(std::string("control channel lost: ") + std::string(error_name(n.error())));
      return {ServeEnd::kChannelLost, 0, n.error()};
    }
    if (Error e = handle(std::span(rx_).first(*n)); e != Error::kOk) {
      log_line(std::string("control channel lost while answering: ") + std::string(error_name(e)));
      return {ServeEnd::kChannelLost, 0, e};
    }
    if (shutdown_) return {ServeEnd::kShutdown, grace_ms_, Error::kOk};
  }
  return {ServeEnd::kStopped, 0, Error::kOk};
}

}  // namespace xg::zone
