// The zone init's side of the control channel (messages_zonectl.h): pops each request from the channel
// (RingConsumer copies it out of shared memory once), decodes and validates the copy, dispatches it and answers.
// Independent of Xen: the channel may be any idm::Channel with Role::kProxy (tests use an in-memory one).
//
// Every refused request gets an errno in the response header and one log line (rate-limited), never a crash:
// a request the validator refuses is answered EINVAL when its header is sound enough to answer; an opcode that
// is not a control call is answered ENOSYS (a post is only logged: nobody waits for its answer).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <span>
#include <vector>

#include "cri-shim/zone/process_host.h"
#include "cri-shim/zone/supervisor.h"
#include "idm/channel.h"
#include "idm/protocol.h"
#include "idm/result.h"

namespace xg::zone {

enum class ServeEnd : uint8_t {
  kStopped,      // `stop` was set
  kShutdown,     // CtlShutdown (answered); grace_ms says how long to wait between SIGTERM and SIGKILL
  kChannelLost,  // the peer is gone or broke the ring contract (error says which)
};
struct ServeResult {
  ServeEnd end = ServeEnd::kStopped;
  uint32_t grace_ms = 0;
  idm::Error error = idm::Error::kOk;
};

class ZoneCtlServer {
 public:
  // Registers the host's container_gone with the supervisor (undone by the destructor).
  ZoneCtlServer(idm::Channel& channel, ProcessHost& host, Supervisor& supervisor);
  ~ZoneCtlServer();
  ZoneCtlServer(const ZoneCtlServer&) = delete;
  ZoneCtlServer& operator=(const ZoneCtlServer&) = delete;
  [[nodiscard]] ServeResult serve(const std::atomic<bool>& stop);

  // One decoded request's answer: its fixed payload and tail. Public for the dispatch lambda only.
  struct Reply {
    std::vector<std::byte> fixed;
    std::vector<std::byte> tail;
  };

 private:
  // Handlers: 0 or an errno. Implementors: validate every field the table's validator does not, name the errno
  // in a comment where it is not obvious, and never block longer than a Poll's wait_ms (starts excepted: they
  // wait, bounded, for the rootfs disk).
  uint32_t on(idm::OpTag<idm::Op::CtlHello>, const idm::CtlHelloReq& r, std::span<const std::byte>, Reply& reply);
  uint32_t on(idm::OpTag<idm::Op::CtlStart>, const idm::CtlStartReq& r, std::span<const std::byte> tail, Reply& reply);
  uint32_t on(idm::OpTag<idm::Op::CtlSignal>, const idm::CtlSignalReq& r, std::span<const std::byte>, Reply&);
  uint32_t on(idm::OpTag<idm::Op::CtlStdin>, const idm::CtlStdinReq& r, std::span<const std::byte> tail, Reply&);
  uint32_t on(idm::OpTag<idm::Op::CtlResize>, const idm::CtlResizeReq& r, std::span<const std::byte>, Reply&);
  uint32_t on(idm::OpTag<idm::Op::CtlUpdate>, const idm::CtlUpdateReq& r, std::span<const std::byte>, Reply&);
  uint32_t on(idm::OpTag<idm::Op::CtlFreeze>, const idm::CtlFreezeReq& r, std::span<const std::byte>, Reply&);
  // 0 when `proc_id` is a container's first process that still runs; else ENOENT, EINVAL (an exec) or ESRCH.
  uint32_t running_container(uint32_t proc_id);
  uint32_t on(idm::OpTag<idm::Op::CtlPoll>, const idm::CtlPollReq& r, std::span<const std::byte>, Reply& reply);
  uint32_t on(idm::OpTag<idm::Op::CtlPids>, const idm::CtlProcReq& r, std::span<const std::byte>, Reply& reply);
  uint32_t on(idm::OpTag<idm::Op::CtlRemove>, const idm::CtlProcReq& r, std::span<const std::byte>, Reply&);
  uint32_t on(idm::OpTag<idm::Op::CtlShutdown>, const idm::CtlShutdownReq& r, std::span<const std::byte>, Reply&);
  uint32_t on(idm::OpTag<idm::Op::CtlStats>, const idm::CtlProcReq& r, std::span<const std::byte>, Reply& reply);
  // The shim's wake-up (a post): it ends a held CtlPoll early (Poll's wait watches the ring) and does nothing else.
  uint32_t on(idm::OpTag<idm::Op::Nop>, const idm::NopPost&, std::span<const std::byte>, Reply&) { return 0; }
  // Everything else in the table (CUDA and core opcodes) is not ours.
  template <idm::Op op, typename Req>
  uint32_t on(idm::OpTag<op>, const Req&, std::span<const std::byte>, Reply&);

  // Handles one request's bytes; kOk unless the channel must close.
  [[nodiscard]] idm::Error handle(std::span<const std::byte> bytes);
  [[nodiscard]] idm::Error answer_refused(std::span<const std::byte> bytes, idm::Error why);
  void log_refusal(const char* op, uint32_t proc_id, uint32_t err);

  idm::Channel& ch_;
  ProcessHost& host_;
  Supervisor& sup_;
  std::vector<std::byte> rx_;
  uint64_t refusals_ = 0;
  bool shutdown_ = false;
  uint32_t grace_ms_ = 0;
  uint32_t current_proc_ = 0;  // for the refusal's log line
  // Each running container's seccomp program (CtlStart's), which its execs get too; gone with the container's
  // CtlRemove. Bounded by the supervisor's table.
  struct Filter {
    std::vector<idm::CtlFilterInsn> insns;
    uint32_t flags = 0;
  };
  std::map<uint32_t, Filter> filters_;
};

}  // namespace xg::zone
