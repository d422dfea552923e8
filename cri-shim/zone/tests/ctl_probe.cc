// xg-zone-ctl-probe: the shim's side of a zone's control channel, reduced to a script of calls, for the real-Xen
// check (zone-xen-check.sh): in dom0, it is the backend of device xen-gpu-ctl/0 of domain DOMID and calls
// (Role::kZone) the zone init in it. Prints "CHECK PASS|FAIL name: detail" lines.
//   xg-zone-ctl-probe DOMID disk     a container from xvda (EROFS with busybox), an exec into it, kill, shutdown
//   xg-zone-ctl-probe DOMID nodisk   Hello, a start whose disk never appears (ENODEV within 10 s), shutdown
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "idm/codec.h"
#include "idm/xen/backend.h"

using namespace xg::idm;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

int failures = 0;
void check(bool ok, const std::string& name, const std::string& detail = "") {
  std::printf("CHECK %s zone-ctl/%s%s%s\n", ok ? "PASS" : "FAIL", name.c_str(), detail.empty() ? "" : ": ",
              detail.c_str());
  std::fflush(stdout);
  if (!ok) ++failures;
}

struct Answer {
  uint32_t result = ~0u;
  std::vector<std::byte> payload;
  template <typename T>
  T fixed() const {
    T v{};
    if (payload.size() >= sizeof v) std::memcpy(&v, payload.data(), sizeof v);
    return v;
  }
};

struct Caller {
  Channel& ch;
  uint32_t seq = 0;
  std::vector<std::byte> rx;
  explicit Caller(Channel& c) : ch(c), rx(c.geometry().max_payload) {}
  template <Op op>
  Answer call(const typename OpTraits<op>::Request& req, std::span<const std::byte> tail = {}) {
    Answer a;
    if (send_request<op>(ch.tx(), ++seq, req, tail, Clock::now() + 10s) != Error::kOk) return a;
    auto n = ch.rx().pop(rx, Clock::now() + 30s);
    if (!n) return a;
    auto m = decode(std::span(rx).first(*n), Direction::kResponse, Path::kRing);
    if (!m || m->header.seq != seq) return a;
    a.result = m->header.result;
    a.payload.assign(m->payload.begin(), m->payload.end());
    return a;
  }
  Answer start(uint32_t proc, uint32_t container, uint32_t disk, std::vector<std::string> argv) {
    CtlStartStrings s;
    s.id = "probe";
    s.cwd = "/";
    s.hostname = container ? "" : "zone-probe";
    for (auto& a : argv) s.argv.push_back(a);
    s.env = {"PATH=/bin:/usr/bin"};
    auto tail = encode_ctl_start(s);
    return call<Op::CtlStart>(CtlStartReq{proc, container, disk, 0, 0, 0, static_cast<uint32_t>(s.argv.size()),
                                          static_cast<uint32_t>(s.env.size())},
                              tail);
  }
  // Polls until `proc` has exited; its output and status.
  std::map<uint32_t, std::string> out;
  std::map<uint32_t, int> status;
  bool wait_exit(uint32_t proc, std::chrono::seconds limit) { return wait_for(proc, "", limit); }
  // Polls until `proc` has exited or, with a non-empty `text`, until its output holds `text`.
  bool wait_for(uint32_t proc, const std::string& text, std::chrono::seconds limit) {
    const auto until = Clock::now() + limit;
    auto done = [&] { return text.empty() ? status.count(proc) > 0 : out[proc].find(text) != std::string::npos; };
    while (Clock::now() < until && !done()) {
      auto a = call<Op::CtlPoll>(CtlPollReq{kMaxCtlPollTail, 200});
      if (a.result != 0) {
        std::printf("poll: result %u\n", a.result);
        return false;
      }
      const auto rsp = a.fixed<CtlPollRsp>();
      if (rsp.events) std::printf("poll: %u events, %zu bytes, pending %u\n", rsp.events, a.payload.size(), rsp.pending);
      const bool ok = parse_ctl_events(std::span(a.payload).subspan(sizeof rsp), rsp.events,
                                       [&](const CtlEvent& ev, std::span<const std::byte> b) {
                                         if (ev.type == uint16_t(CtlEventType::kExit)) status[ev.proc_id] = ev.value;
                                         else out[ev.proc_id].append(reinterpret_cast<const char*>(b.data()), b.size());
                                       });
      if (!ok) {
        std::printf("poll: events do not parse\n");
        return false;
      }
    }
    return done();
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s DOMID disk|nodisk\n", argv[0]);
    return 2;
  }
  const uint32_t domid = static_cast<uint32_t>(std::strtoul(argv[1], nullptr, 10));
  const bool disk = std::strcmp(argv[2], "disk") == 0;
  xen::BackendOptions o;
  o.frontend_domid = domid;
  o.devid = 0;
  o.device_type = kCtlDeviceType;
  o.role = Role::kZone;  // the shim calls
  auto be = xen::Backend::create(o);
  check(be.ok(), "backend-created");
  if (!be) return 1;
  const auto t0 = Clock::now();
  // A rejected handshake resets the nodes for the next try (as the shim's acceptor must do too).
  auto ep = (*be)->accept(Clock::now() + 240s);
  for (int rejected = 0; !ep && ep.error() == Error::kInvalidField && rejected < 20; ++rejected)
    ep = (*be)->accept(Clock::now() + 240s);
  check(ep.ok(), "channel-connected",
        ep ? std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count()) +
                 " ms after the backend appeared"
           : std::string(error_name(ep.error())));
  if (!ep) return 1;
  Caller c((*ep)->channel);
  auto hello = c.call<Op::CtlHello>(CtlHelloReq{kCtlProtocolVersion, 0});
  const auto h = hello.fixed<CtlHelloRsp>();
  check(hello.result == 0 && h.protocol_version == kCtlProtocolVersion && h.init_pid == 1, "hello",
        "result " + std::to_string(hello.result) + ", init pid " + std::to_string(h.init_pid) + ", " +
            std::to_string(h.mem_total_kib) + " KiB");
  check(c.call<Op::CtlPids>(CtlProcReq{42, 0}).result == ENOENT, "unknown-proc-is-ENOENT");
  if (!disk) {
    const auto s0 = Clock::now();
    auto a = c.start(1, 0, 3, {"/bin/sh", "-c", "true"});
    check(a.result == ENODEV && Clock::now() - s0 < 10s, "start-without-disk-is-ENODEV",
          "result " + std::to_string(a.result) + " after " +
              std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - s0).count()) + " ms");
  } else {
    auto a = c.start(1, 0, 0, {"/bin/sh", "-c", "echo pid=$$ host=$(hostname); cat /etc/marker; ls /dev/xen; "
                                              "ls /usr/lib/xen-gpu; touch /w && echo rw; exec sleep 60"});
    check(a.result == 0, "start-container", "result " + std::to_string(a.result));
    const bool ready = c.wait_for(1, "rw\n", 60s);  // the exec below looks for the file it made
    check(ready, "container-output");
    auto e = c.start(2, 1, 0, {"/bin/sh", "-c", "echo exec host=$(hostname) pid=$$; ls /w"});
    check(e.result == 0, "start-exec", "result " + std::to_string(e.result));
    // (Each wait before its check: the order in which a call's arguments are evaluated is unspecified.)
    const bool exec_exited = c.wait_exit(2, 60s);
    check(exec_exited && c.status[2] == 0, "exec-exit-0", "status " + std::to_string(c.status[2]));
    auto p = c.call<Op::CtlPids>(CtlProcReq{1, 0});
    check(p.result == 0 && p.fixed<CtlPidsRsp>().count >= 1, "pids", std::to_string(p.fixed<CtlPidsRsp>().count));
    check(c.call<Op::CtlSignal>(CtlSignalReq{1, SIGKILL, 1, 0}).result == 0, "kill-all");
    const bool container_exited = c.wait_exit(1, 60s);
    check(container_exited && c.status[1] == 128 + SIGKILL, "container-killed",
          "status " + std::to_string(c.status[1]));
    std::printf("PROBE container output: %s\nPROBE exec output: %s\n", c.out[1].c_str(), c.out[2].c_str());
    check(c.out[1].find("pid=1 host=zone-probe") != std::string::npos, "container-pid1-and-hostname");
    check(c.out[1].find("rw") != std::string::npos, "overlay-writable");
    check(c.out[1].find("xenbus") != std::string::npos && c.out[1].find("gntdev") != std::string::npos,
          "dev-xen-nodes-bound");
    check(c.out[1].find("libcuda.so.1") != std::string::npos, "gpu-library-bound");
    check(c.out[2].find("exec host=zone-probe") != std::string::npos && c.out[2].find("/w") != std::string::npos,
          "exec-joined-namespaces");
  }
  check(c.call<Op::CtlShutdown>(CtlShutdownReq{1000, 0}).result == 0, "shutdown-answered");
  return failures ? 1 : 0;
}
