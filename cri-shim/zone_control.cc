// ZoneControl's calls and poller (transport-independent). Where the endpoint comes from: zone_control_xen.cc
// (the Xen backend) or zone_control_noxen.cc (a build without libxen-dev), chosen in CMake.
#include "cri-shim/zone_control.h"

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

#include "cri-shim/zone_events.h"
#include "idm/codec.h"
#include "idm/messages.h"

namespace xg::shim {

namespace idm = xg::idm;
using Clock = std::chrono::steady_clock;

struct ZoneControl::Impl {
  std::shared_ptr<void> keep;  // first: destroyed after the endpoint
  std::unique_ptr<idm::Endpoint> ep;
  ZoneEvents events;
  std::chrono::milliseconds call_timeout;
  std::vector<std::byte> buf;  // one response record, the caller's private copy (guarded by call_mu)

  // One call at a time: the channel carries one outstanding request, matched by seq.
  std::mutex call_mu;
  uint32_t seq = 0;
  // Pushes onto the request ring: a call's request (under call_mu) and a caller's wake-up (without it).
  std::mutex tx_mu;
  // Callers waiting for call_mu: the poller steps aside while there are any (std::mutex is not fair, and the
  // poller would otherwise take it back at once after each Poll).
  std::mutex wait_mu;
  std::condition_variable wait_cv;
  int waiting = 0;
  // A Poll the zone may hold for up to kPollHold is out (guarded by wait_mu), and whether a Nop went after it
  // to end it early: a caller that finds one out sends the Nop, so it waits for the zone's answer to the Poll
  // (at once: the zone's wait watches the ring), not for the hold.
  bool poll_out = false;
  bool poll_woken = false;

  std::atomic<bool> failed{false};  // set once; every later call fails at once
  std::atomic<bool> closed{false};  // shutdown() was answered: an end, not a failure
  std::string why;                  // guarded by call_mu; read by the poller after `failed`
  std::atomic<bool> stop{false};
  bool poll_error_logged = false;  // the poller's own
  std::thread poller;

  // Under call_mu. Only records the failure: the poller reports it (all callbacks come from its thread).
  void fail(std::string w) {
    if (failed.exchange(true)) return;
    why = std::move(w);
    std::fprintf(stderr, "xen-gpu shim: zone control channel failed: %s\n", why.c_str());
    wait_cv.notify_all();
  }

  // Ends a held Poll early: a Nop (a post: no answer) behind it on the ring. Not sent in time means a wedged
  // ring: the call that follows fails on it, so the wake-up's own failure is not reported.
  void wake_poll() {
    std::lock_guard g(tx_mu);
    (void)idm::send_request<idm::Op::Nop>(ep->channel.tx(), 0, idm::NopPost{0}, {}, Clock::now() + call_timeout);
  }
  // The poller, once its Poll is on the ring: from now on a caller wakes it; one already waiting does it now.
  void poll_sent() {
    bool wake = false;
    {
      std::lock_guard l(wait_mu);
      poll_out = true;
      poll_woken = wake = waiting > 0;
    }
    if (wake) wake_poll();
  }

  // Locks call_mu, letting the poller know a caller waits (and ending its held Poll).
  std::unique_lock<std::mutex> lock_for_call() {
    bool wake = false;
    {
      std::lock_guard l(wait_mu);
      ++waiting;
      if (poll_out && !poll_woken) poll_woken = wake = true;
    }
    if (wake) wake_poll();
    std::unique_lock lock(call_mu);
    {
      std::lock_guard l(wait_mu);
      --waiting;
    }
    wait_cv.notify_all();
    return lock;
  }

  // One call (caller holds call_mu): the request out, its answer in, matched and decoded. 0 and `m` set to the
  // success answer; an errno the zone answered; ETIMEDOUT/EPIPE when the channel failed (now or before).
  template <idm::Op op>
  int call(const typename idm::OpTraits<op>::Request& req, std::span<const std::byte> tail, idm::Message& m,
           std::chrono::milliseconds extra = {}) {
    if (failed || closed) return EPIPE;
    const uint32_t s = ++seq;
    const auto deadline = Clock::now() + call_timeout + extra;
    const std::string name(idm::op_name(static_cast<uint16_t>(op)));
    idm::Error sent;
    {
      std::lock_guard g(tx_mu);
      sent = idm::send_request<op>(ep->channel.tx(), s, req, tail, deadline);
    }
    if (sent != idm::Error::kOk) {
      // A request that cannot go out in time leaves the channel in no known state: it is over.
      fail("sending " + name + ": " + std::string(idm::error_name(sent)));
      return sent == idm::Error::kTimeout ? ETIMEDOUT : EPIPE;
    }
    if constexpr (op == idm::Op::CtlPoll) poll_sent();
    auto n = ep->channel.rx().pop(buf, deadline);
    if (!n) {
      // No answer in time: a late one would be taken for the next call's, so the channel cannot go on.
      fail("waiting for the answer to " + name + ": " + std::string(idm::error_name(n.error())));
      return n.error() == idm::Error::kTimeout ? ETIMEDOUT : EPIPE;
    }
    auto d = idm::decode(std::span<const std::byte>(buf).first(*n), idm::Direction::kResponse, idm::Path::kRing);
    if (!d) {
      fail("malformed answer to " + name + ": " + std::string(idm::error_name(d.error())));
      return EPIPE;
    }
    if (d->op() != op || d->header.seq != s) {
      fail("answer to " + name + " seq " + std::to_string(s) + " has opcode " + std::to_string(d->header.opcode) +
           " seq " + std::to_string(d->header.seq));
      return EPIPE;
    }
    if (d->header.result != 0) {
      if (d->header.result > kMaxErrno) {
        fail(name + " answered result " + std::to_string(d->header.result) + ", not an errno");
        return EPIPE;
      }
      return static_cast<int>(d->header.result);
    }
    m = *d;
    return 0;
  }

  void poll_loop();
};

ZoneControl::ZoneControl(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ZoneControl::~ZoneControl() {
  impl_->stop = true;
  impl_->wait_cv.notify_all();
  if (impl_->poller.joinable()) impl_->poller.join();
  // impl_ goes now: the endpoint (unmaps, unbinds), then `keep`.
}

std::variant<std::unique_ptr<ZoneControl>, std::string> ZoneControl::over(std::unique_ptr<idm::Endpoint> endpoint,
                                                                          ZoneEvents events,
                                                                          std::chrono::milliseconds call_timeout) {
  return make(std::move(endpoint), nullptr, std::move(events), call_timeout);
}

std::variant<std::unique_ptr<ZoneControl>, std::string> ZoneControl::make(std::unique_ptr<idm::Endpoint> endpoint,
                                                                          std::shared_ptr<void> keep,
                                                                          ZoneEvents events,
                                                                          std::chrono::milliseconds call_timeout) {
  if (!endpoint) return std::string("no endpoint");
  auto impl = std::make_unique<Impl>();
  impl->keep = std::move(keep);
  impl->ep = std::move(endpoint);
  impl->events = std::move(events);
  impl->call_timeout = call_timeout;
  impl->buf.resize(impl->ep->channel.geometry().max_payload);
  {
    std::lock_guard lock(impl->call_mu);
    idm::Message m;
    const int e = impl->call<idm::Op::CtlHello>(idm::CtlHelloReq{idm::kCtlProtocolVersion, 0}, {}, m);
    if (e != 0) {
      const std::string why = impl->failed ? impl->why : std::string("the zone refused CtlHello: ") + std::strerror(e);
      return "zone control: " + why;
    }
    const auto rsp = m.fixed<idm::CtlHelloRsp>();
    if (rsp.protocol_version != idm::kCtlProtocolVersion)
      return "zone control: the zone init speaks protocol " + std::to_string(rsp.protocol_version) + ", the shim " +
             std::to_string(idm::kCtlProtocolVersion);
    std::fprintf(stderr, "xen-gpu shim: zone init (pid %u, %llu KiB) answered CtlHello\n", rsp.init_pid,
                 static_cast<unsigned long long>(rsp.mem_total_kib));
  }
  Impl* raw = impl.get();
  std::unique_ptr<ZoneControl> zc(new ZoneControl(std::move(impl)));  // private constructor
  raw->poller = std::thread([raw] { raw->poll_loop(); });
  return zc;
}

// Collects output and exits until stopped, closed or failed. Events are delivered outside call_mu, so a
// callback may make calls (a Kill after an exit) and a slow FIFO reader never holds up the pod's other calls.
void ZoneControl::Impl::poll_loop() {
  // What each Poll asks the zone to wait for output or an exit. Long: an idle pod then costs one round trip a
  // second, and neither events (the zone answers as soon as one is there) nor calls (they wake the Poll: see
  // lock_for_call) wait for it.
  constexpr auto kPollHold = std::chrono::milliseconds(idm::kMaxCtlPollWaitMs);
  while (!stop) {
    ZonePoll got;
    const auto began = Clock::now();
    bool polled = false, woken = false;
    {
      auto lock = std::unique_lock(call_mu);
      if (failed || closed) break;
      bool callers = false;
      {
        std::lock_guard l(wait_mu);
        callers = waiting > 0;  // one is about to take the channel: no Poll now (it would only be woken)
      }
      if (!callers) {
        polled = true;
        const uint32_t s = seq + 1;
        idm::Message m;
        const int e = call<idm::Op::CtlPoll>(
            idm::CtlPollReq{idm::kMaxCtlPollTail, static_cast<uint32_t>(kPollHold.count())}, {}, m, kPollHold);
        {
          std::lock_guard l(wait_mu);
          poll_out = false;
          woken = poll_woken;
        }
        if (e == 0) {
          // call() already matched seq and opcode; read_poll_response checks them again on the same bytes and
          // walks the events (the one parser the fuzz target runs).
          const auto record = std::span<const std::byte>(buf).first(sizeof(idm::MsgHeader) + m.header.length);
          got = read_poll_response(record, s);
          if (!got.ok) fail(got.why);
        } else if (!failed && !closed && !poll_error_logged) {
          // An errno answer to Poll: the zone init cannot collect events; nothing the shim can do but wait (and
          // say so once: the next Poll may well get the same answer).
          std::fprintf(stderr, "xen-gpu shim: the zone answered CtlPoll with %s\n", std::strerror(e));
          poll_error_logged = true;
        }
      }
    }
    if (failed) break;
    for (auto& ev : got.events) {
      if (ev.exit) {
        if (events.exit) events.exit(ev.proc_id, ev.status);
      } else if (events.output) {
        events.output(ev.proc_id, ev.stream, ev.bytes);
      }
    }
    if (got.pending) continue;
    std::unique_lock l(wait_mu);
    // A zone that answers an empty Poll early that nobody woke (busy, or hostile) must not make this thread spin
    // a dom0 CPU: the next Poll goes out no sooner than kPollHold after this one.
    if (polled && !woken && got.events.empty())
      wait_cv.wait_until(l, began + kPollHold, [&] { return stop.load() || failed.load(); });
    // Step aside while callers wait for the channel (bounded: a caller holds it for one call).
    wait_cv.wait_for(l, std::chrono::milliseconds(100), [&] { return waiting == 0 || stop || failed; });
  }
  if (failed && !closed && events.failed) {
    std::string w;
    {
      std::lock_guard lock(call_mu);
      w = why;
    }
    events.failed(w);
  }
}

int ZoneControl::start(const ZoneStart& s, uint32_t& pid) {
  idm::CtlStartStrings strs{s.id, s.cwd, s.hostname, {}, {}, s.groups, s.rlimits, {}, s.filter};
  for (const auto& a : s.argv) strs.argv.emplace_back(a);
  for (const auto& e : s.env) strs.env.emplace_back(e);
  for (const auto& m : s.mounts) strs.mounts.push_back({m.m, m.source, m.destination});
  const auto tail = idm::encode_ctl_start(strs);
  if (tail.empty()) return E2BIG;
  idm::CtlStartReq req{};
  req.proc_id = s.proc_id;
  req.container_proc = s.container_proc;
  req.rootfs_disk = s.rootfs_disk;
  req.uid = s.uid;
  req.gid = s.gid;
  req.flags = idm::kCtlStartCaps | (s.stdin_open ? uint32_t{idm::kCtlStartStdin} : 0u) |
              (s.no_new_privs ? uint32_t{idm::kCtlStartNoNewPrivs} : 0u) |
              (s.terminal ? uint32_t{idm::kCtlStartTerminal} : 0u) |
              (s.oom_score_adj ? uint32_t{idm::kCtlStartOomScoreAdj} : 0u);
  req.argc = static_cast<uint32_t>(s.argv.size());
  req.envc = static_cast<uint32_t>(s.env.size());
  req.ngroups = static_cast<uint32_t>(s.groups.size());
  req.nrlimits = static_cast<uint32_t>(s.rlimits.size());
  req.nmounts = static_cast<uint32_t>(s.mounts.size());
  req.mounts_disk = s.mounts_disk;
  req.nfilter = static_cast<uint32_t>(s.filter.size());
  req.filter_flags = s.filter_flags;
  req.oom_score_adj = s.oom_score_adj.value_or(0);
  req.caps = s.caps;
  req.resources = s.resources;
  // What the zone would refuse (EINVAL, with nothing said why) is refused here first: xen_spec.cc's reading
  // keeps a spec within these bounds, so this is a caller's bug.
  if (!req.valid(tail)) return EINVAL;
  auto lock = impl_->lock_for_call();
  idm::Message m;
  const int e = impl_->call<idm::Op::CtlStart>(req, tail, m);
  if (e == 0) pid = m.fixed<idm::CtlStartRsp>().pid;
  return e;
}

int ZoneControl::signal(uint32_t proc_id, int sig, bool all) {
  if (sig < 1 || sig > 64) return EINVAL;
  auto lock = impl_->lock_for_call();
  idm::Message m;
  return impl_->call<idm::Op::CtlSignal>(idm::CtlSignalReq{proc_id, static_cast<uint32_t>(sig), all ? 1u : 0u, 0}, {}, m);
}

int ZoneControl::write_stdin(uint32_t proc_id, std::span<const std::byte> bytes, bool close) {
  do {
    const auto chunk = bytes.first(std::min<size_t>(bytes.size(), idm::kMaxCtlChunk));
    bytes = bytes.subspan(chunk.size());
    const uint32_t flags = close && bytes.empty() ? uint32_t{idm::kCtlStdinClose} : 0u;
    auto lock = impl_->lock_for_call();  // per chunk: a long input does not hold up the pod's other calls
    idm::Message m;
    if (const int e = impl_->call<idm::Op::CtlStdin>(idm::CtlStdinReq{proc_id, flags}, chunk, m); e != 0) return e;
  } while (!bytes.empty());
  return 0;
}

int ZoneControl::update(uint32_t proc_id, const idm::CtlResources& r, uint32_t unlimit) {
  const idm::CtlUpdateReq req{proc_id, unlimit, r};
  if (!req.valid({})) return EINVAL;  // xen_spec.cc's reading keeps an update within these bounds
  auto lock = impl_->lock_for_call();
  idm::Message m;
  return impl_->call<idm::Op::CtlUpdate>(req, {}, m);
}

int ZoneControl::freeze(uint32_t proc_id, bool frozen) {
  auto lock = impl_->lock_for_call();
  idm::Message m;
  return impl_->call<idm::Op::CtlFreeze>(idm::CtlFreezeReq{proc_id, frozen ? 1u : 0u}, {}, m);
}

int ZoneControl::resize(uint32_t proc_id, uint32_t cols, uint32_t rows) {
  if (cols > 0xffff || rows > 0xffff) return EINVAL;
  auto lock = impl_->lock_for_call();
  idm::Message m;
  return impl_->call<idm::Op::CtlResize>(idm::CtlResizeReq{proc_id, cols, rows, 0}, {}, m);
}

int ZoneControl::pids(uint32_t proc_id, std::vector<uint32_t>& out) {
  auto lock = impl_->lock_for_call();
  idm::Message m;
  if (const int e = impl_->call<idm::Op::CtlPids>(idm::CtlProcReq{proc_id, 0}, {}, m); e != 0) return e;
  const auto rsp = m.fixed<idm::CtlPidsRsp>();
  const auto tail = m.tail<idm::CtlPidsRsp>();
  if (rsp.count > idm::kMaxCtlPids || tail.size() != size_t{rsp.count} * 4 || rsp.reserved != 0) {
    impl_->fail("CtlPids answered " + std::to_string(rsp.count) + " pids in " + std::to_string(tail.size()) + " bytes");
    return EPIPE;
  }
  out.resize(rsp.count);
  std::memcpy(out.data(), tail.data(), tail.size());
  return 0;
}

int ZoneControl::remove(uint32_t proc_id) {
  auto lock = impl_->lock_for_call();
  idm::Message m;
  return impl_->call<idm::Op::CtlRemove>(idm::CtlProcReq{proc_id, 0}, {}, m);
}

int ZoneControl::stats(uint32_t proc_id, idm::CtlStatsRsp& out) {
  auto lock = impl_->lock_for_call();
  idm::Message m;
  // The codec has checked the answer's size (exactly a CtlStatsRsp, no tail); its figures are checked here.
  if (const int e = impl_->call<idm::Op::CtlStats>(idm::CtlProcReq{proc_id, 0}, {}, m); e != 0) return e;
  const auto rsp = m.fixed<idm::CtlStatsRsp>();
  std::string why;
  if (!idm::check_ctl_stats(rsp, why)) {
    impl_->fail("CtlStats answered impossible figures: " + why);
    return EPIPE;
  }
  out = rsp;
  return 0;
}

int ZoneControl::shutdown(std::chrono::milliseconds grace) {
  const auto g = std::min<std::chrono::milliseconds>(grace, std::chrono::milliseconds(10'000));
  auto lock = impl_->lock_for_call();
  idm::Message m;
  // The zone may answer only after its grace has run: the wait is the grace plus the usual bound.
  const int e = impl_->call<idm::Op::CtlShutdown>(idm::CtlShutdownReq{static_cast<uint32_t>(g.count()), 0}, {}, m, g);
  impl_->closed = true;  // powering off: whatever the channel does next is not a failure to report
  impl_->wait_cv.notify_all();
  return e;
}

bool ZoneControl::healthy() const noexcept { return !impl_->failed && !impl_->closed; }

}  // namespace xg::shim
