// For the shim's tests of its zone control channel (no Xen): both ends of one control channel in this process,
// and a scripted zone init driving the zone's end (honest, or hostile on request). Header-only, test code.
#pragma once

#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "idm/codec.h"
#include "idm/futex_doorbell.h"
#include "idm/messages.h"
#include "idm/transport_shm.h"

namespace xg::shim::test {

// The shim's end (Role::kZone: it calls) and the zone init's.
struct ZoneChannelPair {
  std::unique_ptr<idm::Endpoint> shim, zone;
};
inline ZoneChannelPair zone_channel_pair() {
  const idm::ChannelGeometry g;
  auto a = idm::ShmMemory::create(g.total_bytes(), "zone-control-test");
  REQUIRE(a);
  idm::Channel::format(a.value()->bytes(), g);
  auto b = idm::ShmMemory::map(idm::UniqueFd(::dup(a.value()->fd())), g.total_bytes());
  REQUIRE(b);
  auto shim = idm::make_endpoint(std::move(a.value()), std::make_unique<idm::FutexDoorbell>(), g, idm::Role::kZone);
  auto zone = idm::make_endpoint(std::move(b.value()), std::make_unique<idm::FutexDoorbell>(), g, idm::Role::kProxy);
  REQUIRE(shim);
  REQUIRE(zone);
  return {std::move(shim.value()), std::move(zone.value())};
}

// The zone init's end of the channel, as a script: answers Hello, Start (pid 100 + proc_id), Signal, Stdin, Pids,
// Resize, Update, Freeze, Remove and Shutdown as the real init would, Stats with the bytes given (ENOTSUP without); holds a Poll until it
// has events, a request arrives behind it, or the Poll's wait is over. Hostile turns on request.
class ScriptedZone {
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::seconds kAnswerWithin{1};
  static constexpr std::chrono::milliseconds kTick{10};  // how often a held Poll is looked at

 public:
  explicit ScriptedZone(std::unique_ptr<idm::Endpoint> ep) : ep_(std::move(ep)), thread_([this] { run(); }) {}
  ~ScriptedZone() {
    stop_ = true;
    thread_.join();
  }
  void output(uint32_t proc, const std::string& text, uint16_t stream = 1) {
    std::lock_guard l(mu_);
    queue_.push_back({idm::CtlEvent{proc, uint16_t(idm::CtlEventType::kOutput), stream, 0, uint32_t(text.size())}, text});
  }
  void exit(uint32_t proc, int32_t status) {
    std::lock_guard l(mu_);
    queue_.push_back({idm::CtlEvent{proc, uint16_t(idm::CtlEventType::kExit), 0, status, 0}, {}});
  }
  // From now on nothing is answered (a wedged or malicious init).
  void go_silent() { silent_ = true; }
  // The next Poll is answered with bytes that are no message at all.
  void garbage_next_poll() { garbage_ = true; }
  // `bytes` of output for `proc`, in Polls as full as the shim allows, each saying more is pending.
  void flood(uint32_t proc, size_t bytes) {
    std::lock_guard l(mu_);
    flood_proc_ = proc;
    flood_left_ = bytes;
  }
  // The next request of opcode `op` is answered with errno `e` (a zone that refuses, or times out inside).
  void answer_errno(idm::Op op, uint32_t e) {
    std::lock_guard l(mu_);
    errno_for_[op] = e;
  }
  // Events queued and not yet sent in a Poll's answer.
  size_t events_queued() {
    std::lock_guard l(mu_);
    return queue_.size();
  }
  // How many requests of opcode `op` arrived (e.g. Polls: the shim asks again once it has handled the last).
  size_t count(idm::Op op) {
    std::lock_guard l(mu_);
    return static_cast<size_t>(std::count(seen_.begin(), seen_.end(), op));
  }
  // CtlStats is answered with these raw bytes (a transcript may be malformed on purpose).
  void answer_stats(std::vector<std::byte> fixed, std::vector<std::byte> tail = {}) {
    std::lock_guard l(mu_);
    stats_ = {std::move(fixed), std::move(tail)};
  }
  size_t flood_left() {
    std::lock_guard l(mu_);
    return flood_left_;
  }
  // The fixed part of the last CtlStart (the tail is the codec's, tested elsewhere).
  // The fixed part of the last request of opcode `op` the zone received (the tail is the codec's, tested
  // elsewhere), e.g. last<idm::Op::CtlStart>().
  template <idm::Op op>
  std::optional<typename idm::OpTraits<op>::Request> last() {
    std::lock_guard l(mu_);
    const auto it = last_.find(op);
    if (it == last_.end()) return std::nullopt;
    typename idm::OpTraits<op>::Request r{};
    std::memcpy(&r, it->second.data(), std::min(sizeof r, it->second.size()));
    return r;
  }
  bool saw(idm::Op op) {
    std::lock_guard l(mu_);
    for (const auto o : seen_)
      if (o == op) return true;
    return false;
  }

 private:
  struct Queued {
    idm::CtlEvent ev;
    std::string bytes;
  };
  std::unique_ptr<idm::Endpoint> ep_;
  std::atomic<bool> stop_{false}, silent_{false}, garbage_{false};
  std::mutex mu_;
  std::deque<Queued> queue_;
  std::vector<idm::Op> seen_;
  std::map<idm::Op, std::vector<std::byte>> last_;  // each opcode's last request payload
  std::map<idm::Op, uint32_t> errno_for_;            // answer_errno()
  std::optional<std::pair<std::vector<std::byte>, std::vector<std::byte>>> stats_;
  uint32_t flood_proc_ = 0;
  size_t flood_left_ = 0;
  std::optional<idm::MsgHeader> held_;  // the thread's own: a Poll not answered yet
  Clock::time_point held_until_{};
  uint32_t held_max_ = 0;
  std::thread thread_;

  void answer_poll() {
    const idm::MsgHeader h = *held_;
    held_.reset();
    if (garbage_.exchange(false)) {
      std::vector<std::byte> junk(48, std::byte{0x5a});
      (void)ep_->channel.tx().push(std::span<const std::byte>(junk), Clock::now() + kAnswerWithin);
      return;
    }
    std::vector<std::byte> tail;
    uint32_t n = 0, pending = 0;
    {
      std::lock_guard l(mu_);
      while (!queue_.empty()) {
        const auto& q = queue_.front();
        if (!idm::append_ctl_event(tail, q.ev, std::as_bytes(std::span(q.bytes.data(), q.bytes.size())), held_max_)) {
          pending = 1;
          break;
        }
        queue_.pop_front();
        ++n;
      }
      if (!pending && flood_left_ > 0) {
        const std::string chunk(std::min<size_t>(flood_left_, held_max_ - 64), 'f');
        const idm::CtlEvent ev{flood_proc_, uint16_t(idm::CtlEventType::kOutput), 1, 0, uint32_t(chunk.size())};
        if (idm::append_ctl_event(tail, ev, std::as_bytes(std::span(chunk.data(), chunk.size())), held_max_)) {
          flood_left_ -= chunk.size();
          ++n;
        }
        pending = flood_left_ > 0 ? 1 : 0;
      }
    }
    (void)idm::send_response(ep_->channel.tx(), h, 0, idm::CtlPollRsp{n, pending}, tail, Clock::now() + kAnswerWithin);
  }

  bool has_events() {
    std::lock_guard l(mu_);
    return !queue_.empty() || flood_left_ > 0;
  }

  void handle(const idm::Message& m) {
    auto& tx = ep_->channel.tx();
    const auto d = Clock::now() + kAnswerWithin;
    {
      std::lock_guard l(mu_);
      if (const auto it = errno_for_.find(m.op()); it != errno_for_.end()) {
        (void)idm::send_response(tx, m.header, it->second, idm::Empty{}, {}, d);
        errno_for_.erase(it);
        return;
      }
    }
    switch (m.op()) {
      case idm::Op::CtlHello:
        (void)idm::send_response(tx, m.header, 0, idm::CtlHelloRsp{idm::kCtlProtocolVersion, 1, 65536}, {}, d);
        break;
      case idm::Op::CtlStart:
        (void)idm::send_response(tx, m.header, 0, idm::CtlStartRsp{100 + m.fixed<idm::CtlStartReq>().proc_id, 0}, {}, d);
        break;
      case idm::Op::CtlPoll:
        held_ = m.header;
        held_max_ = m.fixed<idm::CtlPollReq>().max_bytes;
        held_until_ = Clock::now() + std::chrono::milliseconds(m.fixed<idm::CtlPollReq>().wait_ms);
        break;
      case idm::Op::CtlPids: {
        const uint32_t pid = 100 + m.fixed<idm::CtlProcReq>().proc_id;
        (void)idm::send_response(tx, m.header, 0, idm::CtlPidsRsp{1, 0}, std::as_bytes(std::span(&pid, 1)), d);
        break;
      }
      case idm::Op::CtlStats: {
        std::lock_guard l(mu_);
        if (stats_) (void)idm::send_response_bytes(tx, m.header, 0, stats_->first, stats_->second, d);
        else (void)idm::send_response(tx, m.header, ENOTSUP, idm::Empty{}, {}, d);
        break;
      }
      case idm::Op::CtlFreeze:
      case idm::Op::CtlUpdate:
      case idm::Op::CtlResize:
      case idm::Op::CtlSignal:
      case idm::Op::CtlRemove:
      case idm::Op::CtlShutdown:
      case idm::Op::CtlStdin:
        (void)idm::send_response(tx, m.header, 0, idm::Empty{}, {}, d);
        break;
      default:  // a Nop (the shim waking a held Poll): no answer
        break;
    }
  }

  void run() {
    std::vector<std::byte> buf(ep_->channel.geometry().max_payload);
    while (!stop_) {
      if (silent_) {
        std::this_thread::sleep_for(kTick);
        continue;
      }
      if (held_ && (has_events() || garbage_ || Clock::now() >= held_until_)) answer_poll();
      auto n = ep_->channel.rx().pop(buf, Clock::now() + kTick);
      if (!n || silent_) continue;
      auto m = idm::decode(std::span<const std::byte>(buf).first(*n), idm::Direction::kRequest, idm::Path::kRing);
      CHECK(m);  // the shim sends only well-formed requests
      if (!m) continue;
      {
        std::lock_guard l(mu_);
        seen_.push_back(m->op());
        last_[m->op()].assign(m->payload.begin(), m->payload.end());
      }
      if (held_) answer_poll();  // something behind the held Poll: it ends now, as in the zone init
      handle(*m);
    }
  }
};

}  // namespace xg::shim::test
