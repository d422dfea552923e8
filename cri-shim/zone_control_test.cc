// Xen mode's pieces that need no Xen: the new config keys, the pod annotations that size a zone, the OCI process
// made into a ZoneStart, the CtlPoll answers of the fuzz corpus, and ZoneControl against zones that misbehave
// (silent, or answering out of turn) over an in-memory channel pair.
#include <doctest/doctest.h>

#include <linux/capability.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <thread>

#include "cri-shim/shim_config.h"
#include "cri-shim/xen_spec.h"
#include "cri-shim/zone_control.h"
#include "cri-shim/zone_events.h"
#include "cri-shim/zone_stats.h"
#include "cri-shim/test_scripted_zone.h"
#include "idm/codec.h"
#include "idm/futex_doorbell.h"
#include "idm/messages.h"
#include "idm/transport_shm.h"

using namespace xg::shim;
using namespace xg::shim::test;

namespace {

std::string temp_file(const std::string& text) {
  char path[] = "/tmp/xg-shim-test-XXXXXX";
  const int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  ::close(fd);
  return path;
}

std::vector<std::byte> read_seed(const std::string& name) {
  std::ifstream f(std::string(XG_SHIM_TESTDATA) + "/zone_events/" + name, std::ios::binary);
  REQUIRE(f);
  std::vector<char> c((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<std::byte> b(c.size());
  std::memcpy(b.data(), c.data(), c.size());
  return b;
}

}  // namespace

TEST_CASE("shim config: Xen mode's keys, their defaults and bounds") {
  ShimConfig d;
  CHECK(d.mode == ShimMode::kAuto);
  CHECK(d.zone_memory == 256ull << 20);
  CHECK(d.zone_vcpus == 1);
  CHECK(d.xl == "xl");
  CHECK(d.zone_kernel == "/usr/lib/xen-gpu/zone/vmlinuz");
  CHECK(d.block_script == "/usr/lib/xen-gpu/xg-block-hotplug");
  const std::string path = temp_file(
      "mode = xen\nzone_kernel = /k\nzone_initramfs = /i  # comment\nzone_memory = 1GiB\nzone_vcpus = 4\n"
      "xl = /usr/sbin/xl\nblock_script = /b\n");
  ShimConfig cfg;
  std::string error;
  REQUIRE(load_shim_config(path, true, cfg, error));
  CHECK(cfg.mode == ShimMode::kXen);
  CHECK(cfg.zone_kernel == "/k");
  CHECK(cfg.zone_initramfs == "/i");
  CHECK(cfg.zone_memory == 1ull << 30);
  CHECK(cfg.zone_vcpus == 4);
  CHECK(cfg.xl == "/usr/sbin/xl");
  CHECK(cfg.block_script == "/b");
  ::unlink(path.c_str());
  for (const char* bad : {"mode = dom0\n", "zone_memory = 32MiB\n", "zone_memory = 65GiB\n", "zone_memory = 1000000\n",
                          "zone_vcpus = 0\n", "zone_vcpus = 65\n", "zone_vcpus = two\n"}) {
    const std::string p = temp_file(bad);
    ShimConfig c;
    std::string e;
    CHECK_MESSAGE(!load_shim_config(p, true, c, e), bad);
    CHECK(e.find(":1: ") != std::string::npos);
    ::unlink(p.c_str());
  }
}

TEST_CASE("shim mode: auto is xen only in dom0 (control_d in Xen's capabilities)") {
  const std::string dom0 = temp_file("control_d\n"), domu = temp_file("\n");
  CHECK(resolve_mode(ShimMode::kAuto, dom0) == ShimMode::kXen);
  CHECK(resolve_mode(ShimMode::kAuto, domu) == ShimMode::kStub);
  CHECK(resolve_mode(ShimMode::kAuto, "/nonexistent/capabilities") == ShimMode::kStub);
  CHECK(resolve_mode(ShimMode::kStub, dom0) == ShimMode::kStub);
  CHECK(resolve_mode(ShimMode::kXen, domu) == ShimMode::kXen);
  ::unlink(dom0.c_str());
  ::unlink(domu.c_str());
}

TEST_CASE("pod annotations override a zone's memory and vCPUs, within bounds") {
  ShimConfig cfg;
  cfg.zone_memory = 512ull << 20;
  cfg.zone_vcpus = 2;
  auto s = xen_pod_spec_for({}, "default.web", cfg, "/b");
  REQUIRE(std::holds_alternative<XenPodSpec>(s));
  CHECK(std::get<XenPodSpec>(s).memory_mib == 512);
  CHECK(std::get<XenPodSpec>(s).vcpus == 2);
  CHECK(std::get<XenPodSpec>(s).name == "default.web");
  CHECK(std::get<XenPodSpec>(s).workdir == "/b");
  CHECK(std::get<XenPodSpec>(s).kernel == cfg.zone_kernel);
  s = xen_pod_spec_for({{kAnnotationZoneMemory, "2GiB"}, {kAnnotationZoneVcpus, "8"}}, "n", cfg, "/b");
  REQUIRE(std::holds_alternative<XenPodSpec>(s));
  CHECK(std::get<XenPodSpec>(s).memory_mib == 2048);
  CHECK(std::get<XenPodSpec>(s).vcpus == 8);
  for (const char* m : {"16MiB", "1TiB", "lots", "1000001"}) {
    auto e = xen_pod_spec_for({{kAnnotationZoneMemory, m}}, "n", cfg, "/b");
    REQUIRE(std::holds_alternative<std::string>(e));
    CHECK(std::get<std::string>(e).find(kAnnotationZoneMemory) != std::string::npos);
  }
  for (const char* v : {"0", "65", "-1", "1.5", ""}) {
    auto e = xen_pod_spec_for({{kAnnotationZoneVcpus, v}}, "n", cfg, "/b");
    REQUIRE(std::holds_alternative<std::string>(e));
    CHECK(std::get<std::string>(e).find(kAnnotationZoneVcpus) != std::string::npos);
  }
}

TEST_CASE("an OCI process becomes a ZoneStart with the zone's environment") {
  const auto process = nlohmann::json::parse(R"({"args":["/bin/sh","-c","nvidia-smi"],"cwd":"/work",
      "env":["PATH=/bin","LD_LIBRARY_PATH=/opt/lib","XEN_GPU_ZONE=elsewhere","XEN_GPU_SOCKET=/x"],
      "user":{"uid":1000,"gid":100}})");
  auto s = zone_start_for(process, "pod-host", "default.web");
  REQUIRE(std::holds_alternative<ZoneStart>(s));
  const ZoneStart& z = std::get<ZoneStart>(s);
  CHECK(z.argv == std::vector<std::string>{"/bin/sh", "-c", "nvidia-smi"});
  CHECK(z.env == std::vector<std::string>{"PATH=/bin", "LD_LIBRARY_PATH=/usr/lib/xen-gpu:/opt/lib",
                                          "XEN_GPU_TRANSPORT=xen", "XEN_GPU_ZONE=default.web"});
  CHECK(z.cwd == "/work");
  CHECK(z.uid == 1000);
  CHECK(z.gid == 100);
  CHECK(z.hostname == "pod-host");
  CHECK(std::holds_alternative<std::string>(zone_start_for(nlohmann::json::parse(R"({"args":[]})"), "", "z")));
  auto term = zone_start_for(nlohmann::json::parse(R"({"args":["a"],"terminal":true})"), "", "z");
  REQUIRE(std::holds_alternative<ZoneStart>(term));
  CHECK(std::get<ZoneStart>(term).terminal);
  CHECK(std::holds_alternative<std::string>(zone_start_for(nlohmann::json::parse(R"({"args":["a"],"user":{"uid":-1}})"), "", "z")));
  CHECK(std::holds_alternative<std::string>(zone_start_for(nlohmann::json(), "", "z")));
  // Fields of the wrong type are refused, never thrown over.
  CHECK(std::holds_alternative<std::string>(zone_start_for(nlohmann::json::parse(R"({"args":["a"],"terminal":"yes"})"), "", "z")));
  CHECK(std::holds_alternative<std::string>(zone_start_for(nlohmann::json::parse(R"({"args":["a"],"cwd":5})"), "", "z")));
  CHECK(std::holds_alternative<std::string>(zone_start_for(nlohmann::json::parse(R"({"args":["a"],"env":"x"})"), "", "z")));
  auto no_term = zone_start_for(nlohmann::json::parse(R"({"args":["a"],"terminal":false})"), "", "z");
  REQUIRE(std::holds_alternative<ZoneStart>(no_term));
  CHECK(!std::get<ZoneStart>(no_term).terminal);
  CHECK(json_string(nlohmann::json::parse(R"({"hostname":5})"), "hostname").empty());
  CHECK(json_string(nlohmann::json::parse(R"([1])"), "hostname").empty());
}

TEST_CASE("the zone_events fuzz seeds: what the shim takes and what closes the channel") {
  auto ok = read_poll_response(read_seed("output-and-exit"), 7);
  REQUIRE(ok.ok);
  REQUIRE(ok.events.size() == 3);
  CHECK(ok.events[0].proc_id == 1);
  CHECK(!ok.events[0].exit);
  CHECK(ok.events[0].stream == 1);
  CHECK(std::string(reinterpret_cast<const char*>(ok.events[0].bytes.data()), ok.events[0].bytes.size()) == "hello\n");
  CHECK(ok.events[1].stream == 2);
  CHECK(ok.events[2].exit);
  CHECK(ok.events[2].status == 0);
  CHECK(!ok.pending);
  auto empty = read_poll_response(read_seed("empty"), 7);
  CHECK(empty.ok);
  CHECK(empty.events.empty());
  auto pending = read_poll_response(read_seed("pending"), 7);
  CHECK(pending.ok);
  CHECK(pending.pending);
  REQUIRE(pending.events.size() == 1);
  CHECK(pending.events[0].bytes.size() == 1000);
  auto signal = read_poll_response(read_seed("exit-signal"), 7);
  REQUIRE(signal.ok);
  CHECK(signal.events.at(0).status == 137);
  auto err = read_poll_response(read_seed("error-answer"), 7);
  CHECK(err.ok);
  CHECK(err.error == 5);
  for (const char* bad : {"wrong-seq", "wrong-opcode", "count-overruns", "bytes-after-last", "bad-stream",
                          "huge-count", "truncated-header"}) {
    auto r = read_poll_response(read_seed(bad), 7);
    CHECK_MESSAGE(!r.ok, bad);
    CHECK_MESSAGE(!r.why.empty(), bad);
    CHECK(r.events.empty());
  }
}

TEST_CASE("ZoneControl: a zone that never answers fails the connect, bounded") {
  auto pair = zone_channel_pair();
  auto zc = ZoneControl::over(std::move(pair.shim), ZoneEvents{}, std::chrono::milliseconds(200));
  REQUIRE(std::holds_alternative<std::string>(zc));
  CHECK(std::get<std::string>(zc).find("CtlHello") != std::string::npos);
}

TEST_CASE("ZoneControl: an answer out of turn, or in another protocol, fails the connect") {
  using namespace xg::idm;
  for (const bool wrong_seq : {true, false}) {
    auto pair = zone_channel_pair();
    Endpoint& zone = *pair.zone;
    std::thread peer([&] {
      std::vector<std::byte> buf(zone.channel.geometry().max_payload);
      auto n = zone.channel.rx().pop(buf, std::chrono::steady_clock::now() + std::chrono::seconds(5));
      REQUIRE(n);
      auto m = decode(std::span<const std::byte>(buf).first(*n), Direction::kRequest, Path::kRing);
      REQUIRE(m);
      CHECK(m->op() == Op::CtlHello);
      MsgHeader h = m->header;
      if (wrong_seq) h.seq += 1;
      const CtlHelloRsp rsp{wrong_seq ? kCtlProtocolVersion : kCtlProtocolVersion + 1, 1, 0};
      CHECK(send_response(zone.channel.tx(), h, 0, rsp) == Error::kOk);
    });
    auto zc = ZoneControl::over(std::move(pair.shim), ZoneEvents{}, std::chrono::milliseconds(2'000));
    peer.join();
    REQUIRE(std::holds_alternative<std::string>(zc));
    CHECK(std::get<std::string>(zc).find(wrong_seq ? "seq" : "protocol") != std::string::npos);
  }
}

TEST_CASE("ZoneControl: events reach the callbacks in order; a malformed event stream fails the channel once") {
  using namespace xg::idm;
  auto pair = zone_channel_pair();
  Endpoint& zone = *pair.zone;
  // A transcript, not a zone: the bytes a zone init could send, the second answer hostile.
  std::thread peer([&] {
    std::vector<std::byte> buf(zone.channel.geometry().max_payload);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (int answer = 0; answer < 3; ++answer) {
      auto n = zone.channel.rx().pop(buf, deadline);
      if (!n) return;
      auto m = decode(std::span<const std::byte>(buf).first(*n), Direction::kRequest, Path::kRing);
      REQUIRE(m);
      if (answer == 0) {
        CHECK(m->op() == Op::CtlHello);
        CHECK(send_response(zone.channel.tx(), m->header, 0, CtlHelloRsp{kCtlProtocolVersion, 1, 0}) == Error::kOk);
        continue;
      }
      REQUIRE(m->op() == Op::CtlPoll);
      std::vector<std::byte> tail;
      const std::string out = "hello";
      if (answer == 1) {
        CHECK(append_ctl_event(tail, CtlEvent{4, 1, 1, 0, 5}, std::as_bytes(std::span(out.data(), out.size())), 4096));
        CHECK(append_ctl_event(tail, CtlEvent{4, 2, 0, 3, 0}, {}, 4096));
      } else {
        CHECK(append_ctl_event(tail, CtlEvent{4, 1, 1, 0, 5}, std::as_bytes(std::span(out.data(), out.size())), 4096));
        tail.resize(tail.size() - 4);  // cut into the output: the record overruns the tail
      }
      CHECK(send_response(zone.channel.tx(), m->header, 0, CtlPollRsp{answer == 1 ? 2u : 1u, 0}, tail) == Error::kOk);
    }
  });
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> seen;
  int failures = 0;
  ZoneEvents events;
  events.output = [&](uint32_t id, int stream, std::span<const std::byte> b) {
    std::lock_guard l(mu);
    seen.push_back("out " + std::to_string(id) + " " + std::to_string(stream) + " " +
                   std::string(reinterpret_cast<const char*>(b.data()), b.size()));
  };
  events.exit = [&](uint32_t id, int status) {
    std::lock_guard l(mu);
    seen.push_back("exit " + std::to_string(id) + " " + std::to_string(status));
  };
  events.failed = [&](const std::string& why) {
    std::lock_guard l(mu);
    ++failures;
    seen.push_back("failed " + why);
    cv.notify_all();
  };
  auto zc = ZoneControl::over(std::move(pair.shim), std::move(events), std::chrono::milliseconds(5'000));
  REQUIRE(std::holds_alternative<std::unique_ptr<ZoneControl>>(zc));
  auto& ctl = *std::get<std::unique_ptr<ZoneControl>>(zc);
  {
    std::unique_lock l(mu);
    REQUIRE(cv.wait_for(l, std::chrono::seconds(10), [&] { return failures > 0; }));
  }
  peer.join();
  CHECK(!ctl.healthy());
  CHECK(ctl.signal(4, 15, false) == EPIPE);  // every later call fails at once
  std::lock_guard l(mu);
  REQUIRE(seen.size() == 3);
  CHECK(seen[0] == "out 4 1 hello");
  CHECK(seen[1] == "exit 4 3");
  CHECK(seen[2].find("malformed event stream") != std::string::npos);
  CHECK(failures == 1);
}

TEST_CASE("ZoneControl: a call while the zone holds a Poll wakes the Poll (a Nop behind it), then goes out") {
  using namespace xg::idm;
  auto pair = zone_channel_pair();
  Endpoint& zone = *pair.zone;
  // A zone that holds the first Poll until something else arrives on the ring (as the zone init's wait does,
  // minus its time limit): without the wake-up the caller would wait for call_mu until the channel times out.
  std::mutex mu;
  std::condition_variable cv;
  bool poll_held = false;
  std::atomic<bool> done{false};
  std::vector<std::string> seen;
  std::thread peer([&] {
    std::vector<std::byte> buf(zone.channel.geometry().max_payload);
    MsgHeader held{};
    bool holding = false;
    while (!done) {
      auto n = zone.channel.rx().pop(buf, std::chrono::steady_clock::now() + std::chrono::milliseconds(50));
      if (!n) continue;
      auto m = decode(std::span<const std::byte>(buf).first(*n), Direction::kRequest, Path::kRing);
      REQUIRE(m);
      {
        std::lock_guard l(mu);
        seen.emplace_back(op_name(m->header.opcode));
      }
      if (holding) {  // something behind the held Poll: answer it now (empty), then what came
        CHECK(send_response(zone.channel.tx(), held, 0, CtlPollRsp{0, 0}) == Error::kOk);
        holding = false;
      }
      switch (m->op()) {
        case Op::CtlHello:
          CHECK(send_response(zone.channel.tx(), m->header, 0, CtlHelloRsp{kCtlProtocolVersion, 1, 0}) == Error::kOk);
          break;
        case Op::CtlPoll: {
          std::lock_guard l(mu);
          if (!poll_held) {
            poll_held = holding = true;
            held = m->header;
            cv.notify_all();
          } else {
            CHECK(send_response(zone.channel.tx(), m->header, 0, CtlPollRsp{0, 0}) == Error::kOk);
          }
          break;
        }
        case Op::CtlSignal:
          CHECK(send_response(zone.channel.tx(), m->header, 0, Empty{}) == Error::kOk);
          break;
        default:
          break;  // the Nop: a post, nothing to answer
      }
    }
  });
  {
    auto zc = ZoneControl::over(std::move(pair.shim), ZoneEvents{}, std::chrono::milliseconds(2'000));
    REQUIRE(std::holds_alternative<std::unique_ptr<ZoneControl>>(zc));
    auto& ctl = *std::get<std::unique_ptr<ZoneControl>>(zc);
    {
      std::unique_lock l(mu);
      REQUIRE(cv.wait_for(l, std::chrono::seconds(10), [&] { return poll_held; }));
    }
    CHECK(ctl.signal(4, 15, false) == 0);
    CHECK(ctl.healthy());
  }
  done = true;
  peer.join();
  std::lock_guard l(mu);
  REQUIRE(seen.size() >= 4);
  CHECK(seen[0] == "CtlHello");
  CHECK(seen[1] == "CtlPoll");
  CHECK(seen[2] == "Nop");
  CHECK(seen[3] == "CtlSignal");
}

TEST_CASE("an OCI process's set-up: gids, rlimits, capabilities, noNewPrivileges, oomScoreAdj") {
  const auto process = nlohmann::json::parse(R"({"args":["/bin/sh"],"cwd":"/",
      "user":{"uid":1000,"gid":100,"additionalGids":[10,20]},
      "rlimits":[{"type":"RLIMIT_NOFILE","hard":4096,"soft":1024},{"type":"RLIMIT_CORE","hard":0,"soft":0}],
      "capabilities":{"bounding":["CAP_CHOWN","CAP_KILL","CAP_NET_BIND_SERVICE","CAP_NO_SUCH_THING"],
        "effective":["CAP_KILL"],"permitted":["CAP_KILL","CAP_NET_BIND_SERVICE"],
        "inheritable":["CAP_NET_BIND_SERVICE"],"ambient":["CAP_NET_BIND_SERVICE"]},
      "noNewPrivileges":true,"oomScoreAdj":-998})");
  auto s = zone_start_for(process, "h", "z");
  REQUIRE(std::holds_alternative<ZoneStart>(s));
  const ZoneStart& z = std::get<ZoneStart>(s);
  CHECK(z.groups == std::vector<uint32_t>{10, 20});
  REQUIRE(z.rlimits.size() == 2);
  CHECK(z.rlimits[0].resource == RLIMIT_NOFILE);
  CHECK(z.rlimits[0].soft == 1024);
  CHECK(z.rlimits[0].hard == 4096);
  CHECK(z.rlimits[1].resource == RLIMIT_CORE);
  const uint64_t chown = 1ull << CAP_CHOWN, kill = 1ull << CAP_KILL, nbs = 1ull << CAP_NET_BIND_SERVICE;
  CHECK(z.caps.bounding == (chown | kill | nbs));  // the unknown name ignored, as runc does
  CHECK(z.caps.effective == kill);
  CHECK(z.caps.permitted == (kill | nbs));
  CHECK(z.caps.inheritable == nbs);
  CHECK(z.caps.ambient == nbs);
  CHECK(z.no_new_privs);
  CHECK(z.oom_score_adj == -998);
  // No capabilities object: none (runc's rule for a root process); no rlimits; no_new_privs off.
  auto bare = zone_start_for(nlohmann::json::parse(R"({"args":["a"]})"), "", "z");
  REQUIRE(std::holds_alternative<ZoneStart>(bare));
  CHECK(std::get<ZoneStart>(bare).caps.bounding == 0);
  CHECK(std::get<ZoneStart>(bare).rlimits.empty());
  CHECK(!std::get<ZoneStart>(bare).no_new_privs);
  CHECK(!std::get<ZoneStart>(bare).oom_score_adj);
  // Refused, each with a reason: what runc or the kernel would refuse.
  for (const char* bad : {
           R"({"args":["a"],"rlimits":[{"type":"RLIMIT_BOGUS","hard":1,"soft":1}]})",
           R"({"args":["a"],"rlimits":[{"type":"RLIMIT_NOFILE","hard":1,"soft":2}]})",
           R"({"args":["a"],"rlimits":[{"type":"RLIMIT_NOFILE","hard":1,"soft":1},{"type":"RLIMIT_NOFILE","hard":2,"soft":2}]})",
           R"({"args":["a"],"rlimits":[{"type":"RLIMIT_NOFILE","hard":-1,"soft":1}]})",
           R"({"args":["a"],"rlimits":"x"})",
           R"({"args":["a"],"capabilities":{"effective":["CAP_KILL"],"permitted":[]}})",
           R"({"args":["a"],"capabilities":{"bounding":[],"inheritable":["CAP_KILL"]}})",
           R"({"args":["a"],"capabilities":{"bounding":["CAP_KILL"],"permitted":["CAP_KILL"],"ambient":["CAP_KILL"]}})",
           R"({"args":["a"],"capabilities":{"bounding":"CAP_KILL"}})",
           R"({"args":["a"],"noNewPrivileges":"yes"})",
           R"({"args":["a"],"oomScoreAdj":1001})",
           R"({"args":["a"],"user":{"uid":0,"gid":0,"additionalGids":[-1]}})",
       }) {
    auto e = zone_start_for(nlohmann::json::parse(bad), "", "z");
    CHECK_MESSAGE(std::holds_alternative<std::string>(e), bad);
  }
  std::string many = R"({"args":["a"],"user":{"uid":0,"gid":0,"additionalGids":[)";
  for (int i = 0; i <= 64; ++i) many += (i ? "," : "") + std::to_string(i);
  many += "]}}";
  CHECK(std::holds_alternative<std::string>(zone_start_for(nlohmann::json::parse(many), "", "z")));
}

TEST_CASE("capability and rlimit names are the kernel's numbers") {
  CHECK(capability_number("CAP_CHOWN") == CAP_CHOWN);
  CHECK(capability_number("CAP_NET_RAW") == CAP_NET_RAW);
  CHECK(capability_number("CAP_SYS_ADMIN") == CAP_SYS_ADMIN);
  CHECK(capability_number("CAP_SETFCAP") == CAP_SETFCAP);
  CHECK(capability_number("CAP_AUDIT_READ") == CAP_AUDIT_READ);
  CHECK(capability_number("CAP_CHECKPOINT_RESTORE") == CAP_CHECKPOINT_RESTORE);
  CHECK(CAP_LAST_CAP + 1 == xg::idm::kCtlCapCount);
  CHECK(!capability_number("CHOWN"));
  CHECK(rlimit_number("RLIMIT_NOFILE") == RLIMIT_NOFILE);
  CHECK(rlimit_number("RLIMIT_NPROC") == RLIMIT_NPROC);
  CHECK(rlimit_number("RLIMIT_RTTIME") == RLIMIT_RTTIME);
  CHECK(rlimit_number("RLIMIT_MEMLOCK") == RLIMIT_MEMLOCK);
  CHECK(!rlimit_number("NOFILE"));
}

TEST_CASE("an Update's resources: limits as at Create, -1 lifts one, what is left out stays") {
  using namespace xg::idm;
  auto u = zone_update_for(nlohmann::json::parse(R"({"memory":{"limit":67108864},"cpu":{"quota":-1,"period":100000},
                                                     "pids":{"limit":-1}})"));
  REQUIRE(std::holds_alternative<ZoneUpdate>(u));
  CHECK(std::get<ZoneUpdate>(u).resources.memory_max == 64u << 20);
  CHECK(std::get<ZoneUpdate>(u).resources.cpu_quota_us == 0);
  CHECK(std::get<ZoneUpdate>(u).resources.cpu_period_us == 0);  // no period without a quota
  CHECK(std::get<ZoneUpdate>(u).unlimit == (kCtlUnlimitCpu | kCtlUnlimitPids));
  u = zone_update_for(nlohmann::json::parse(R"({"cpu":{"shares":1024}})"));
  REQUIRE(std::holds_alternative<ZoneUpdate>(u));
  CHECK(std::get<ZoneUpdate>(u).resources.memory_max == 0);  // left as it is
  CHECK(std::get<ZoneUpdate>(u).resources.cpu_weight == cpu_weight_from_shares(1024));
  CHECK(std::get<ZoneUpdate>(u).unlimit == 0);
  // The same refusals as at Create (kubelet's CPU manager asks for cpusets: a zone cannot pin).
  u = zone_update_for(nlohmann::json::parse(R"({"cpu":{"cpus":"0-1"}})"));
  REQUIRE(std::holds_alternative<std::string>(u));
  CHECK(std::get<std::string>(u).find("cpu.cpus") != std::string::npos);
  CHECK(std::holds_alternative<std::string>(zone_update_for(nlohmann::json::parse("[1]"))));
  // Onto a not-yet-started container's limits: set fields replace, lifted ones become "not limited", the rest stays.
  CtlResources limits{64u << 20, 50'000, 100'000, 100, 20, 0};
  apply_update(limits, ZoneUpdate{CtlResources{32u << 20, 0, 0, 0, 0, 0}, kCtlUnlimitCpu});
  CHECK(limits.memory_max == 32u << 20);
  CHECK(limits.cpu_quota_us == 0);
  CHECK(limits.cpu_period_us == 0);
  CHECK(limits.pids_max == 100);
  CHECK(limits.cpu_weight == 20);
}

TEST_CASE("linux.resources become the zone's cgroup limits; what a zone cannot do is refused by name") {
  auto spec = nlohmann::json::parse(R"({"linux":{"resources":{
      "memory":{"limit":50331648,"swap":50331648,"kernel":0},
      "cpu":{"shares":512,"quota":25000,"period":100000},
      "pids":{"limit":100},
      "devices":[{"allow":false,"access":"rwm"}],
      "hugepageLimits":[{"pageSize":"2MB","limit":0}]}}})");
  auto r = zone_resources_for(spec);
  REQUIRE(std::holds_alternative<xg::idm::CtlResources>(r));
  const auto& l = std::get<xg::idm::CtlResources>(r);
  CHECK(l.memory_max == 50331648);
  CHECK(l.cpu_quota_us == 25000);
  CHECK(l.cpu_period_us == 100000);
  CHECK(l.cpu_weight == 20);  // runc: 1 + (512 - 2) * 9999 / 262142
  CHECK(l.pids_max == 100);
  CHECK(xg::idm::valid_ctl_resources(l));
  CHECK(cpu_weight_from_shares(2) == 1);
  CHECK(cpu_weight_from_shares(1024) == 39);
  CHECK(cpu_weight_from_shares(262144) == 10000);
  CHECK(cpu_weight_from_shares(1) == 1);
  CHECK(cpu_weight_from_shares(1u << 30) == 10000);
  // Unlimited spellings: -1 and 0 mean none.
  auto unl = zone_resources_for(nlohmann::json::parse(
      R"({"linux":{"resources":{"memory":{"limit":-1},"cpu":{"quota":-1,"period":100000},"pids":{"limit":0}}}})"));
  REQUIRE(std::holds_alternative<xg::idm::CtlResources>(unl));
  CHECK(std::get<xg::idm::CtlResources>(unl).memory_max == 0);
  CHECK(std::get<xg::idm::CtlResources>(unl).cpu_quota_us == 0);
  CHECK(std::get<xg::idm::CtlResources>(unl).cpu_period_us == 0);
  CHECK(std::holds_alternative<xg::idm::CtlResources>(zone_resources_for(nlohmann::json::parse(R"({})"))));
  for (const char* bad : {
           R"({"linux":{"resources":{"cpu":{"cpus":"0-1"}}}})",
           R"({"linux":{"resources":{"cpu":{"realtimeRuntime":1000}}}})",
           R"({"linux":{"resources":{"cpu":{"quota":500}}}})",
           R"({"linux":{"resources":{"cpu":{"quota":50000,"period":10}}}})",
           R"({"linux":{"resources":{"cpu":{"shares":"lots"}}}})",
           R"({"linux":{"resources":{"memory":{"reservation":1048576}}}})",
           R"({"linux":{"resources":{"memory":{"disableOOMKiller":true}}}})",
           R"({"linux":{"resources":{"memory":{"limit":1.5}}}})",
           R"({"linux":{"resources":{"blockIO":{"weight":100}}}})",
           R"({"linux":{"resources":{"hugepageLimits":[{"pageSize":"2MB","limit":2097152}]}}})",
           R"({"linux":{"resources":{"unified":{"memory.high":"1G"}}}})",
           R"({"linux":{"resources":{"pids":{"limit":99999999}}}})",
           R"({"linux":{"resources":"x"}})",
       }) {
    auto e = zone_resources_for(nlohmann::json::parse(bad));
    REQUIRE_MESSAGE(std::holds_alternative<std::string>(e), bad);
    CHECK_MESSAGE(std::get<std::string>(e).find("linux.resources") != std::string::npos, std::get<std::string>(e));
  }
}

namespace {

xg::idm::CtlStatsRsp sample_stats() {
  using namespace xg::idm;
  CtlStatsRsp s{};
  s.present = kCtlStatsCpu | kCtlStatsCpuThrottle | kCtlStatsMemory | kCtlStatsPids | kCtlStatsIo;
  s.cpu_usage_usec = 123456;
  s.cpu_user_usec = 100000;
  s.cpu_system_usec = 23456;
  s.cpu_nr_periods = 50;
  s.cpu_nr_throttled = 5;
  s.cpu_throttled_usec = 777;
  s.memory_current = 40 << 20;
  s.memory_max = kCtlUnlimited;
  s.memory_stat[0] = 10 << 20;   // anon
  s.memory_stat[13] = 8 << 20;   // inactive_file
  s.memory_stat[9] = 4242;       // pgfault
  s.memory_events[4] = 2;        // oom_kill
  s.pids_current = 3;
  s.pids_max = 100;
  s.io_rbytes = 4096;
  s.io_wios = 9;
  return s;
}

}  // namespace

TEST_CASE("ZoneControl::stats: figures become containerd's v2 Metrics; garbage, oversized and lying answers fail") {
  using namespace xg::idm;
  namespace m2 = io::containerd::cgroups::v2;
  const CtlStatsRsp good = sample_stats();
  const auto good_bytes = bytes_of(good);
  CtlStatsRsp lying = good;
  lying.cpu_nr_throttled = lying.cpu_nr_periods + 1;
  enum Kind { kGood, kLying, kOversized, kShort, kAbsentButFilled };
  for (Kind kind : {kGood, kLying, kOversized, kShort, kAbsentButFilled}) {
    CAPTURE(static_cast<int>(kind));
    auto pair = zone_channel_pair();
    ScriptedZone zone(std::move(pair.zone));
    auto bytes = [](const auto& b) { return std::vector<std::byte>(b.begin(), b.end()); };
    switch (kind) {
      case kGood: zone.answer_stats(bytes(good_bytes)); break;
      case kLying: zone.answer_stats(bytes(bytes_of(lying))); break;
      case kOversized:  // a tail where the table allows none
        zone.answer_stats(bytes(good_bytes), std::vector<std::byte>(64, std::byte{1}));
        break;
      case kShort: zone.answer_stats(std::vector<std::byte>(good_bytes.begin(), good_bytes.begin() + 40)); break;
      case kAbsentButFilled: {
        CtlStatsRsp b = good;
        b.present &= ~uint32_t{kCtlStatsPids};
        zone.answer_stats(bytes(bytes_of(b)));
        break;
      }
    }
    auto zc = ZoneControl::over(std::move(pair.shim), ZoneEvents{}, std::chrono::milliseconds(3'000));
    REQUIRE(std::holds_alternative<std::unique_ptr<ZoneControl>>(zc));
    auto& ctl = *std::get<std::unique_ptr<ZoneControl>>(zc);
    CtlStatsRsp got{};
    const int e = ctl.stats(7, got);
    if (kind != kGood) {
      CHECK(e == EPIPE);
      CHECK(!ctl.healthy());
      CHECK(ctl.stats(7, got) == EPIPE);  // every later call fails at once
      continue;
    }
    REQUIRE(e == 0);
    CHECK(ctl.healthy());
    m2::Metrics m;
    REQUIRE(m.ParseFromString(metrics_from_zone(got).SerializeAsString()));
    CHECK(m.cpu().usage_usec() == 123456);
    CHECK(m.cpu().user_usec() == 100000);
    CHECK(m.cpu().system_usec() == 23456);
    CHECK(m.cpu().nr_periods() == 50);
    CHECK(m.cpu().nr_throttled() == 5);
    CHECK(m.cpu().throttled_usec() == 777);
    CHECK(m.memory().usage() == 40u << 20);
    CHECK(m.memory().usage_limit() == UINT64_MAX);  // "max", as containerd itself reports it
    CHECK(m.memory().anon() == 10u << 20);
    CHECK(m.memory().inactive_file() == 8u << 20);
    CHECK(m.memory().pgfault() == 4242);
    // containerd's CRI working set: usage - inactive_file.
    CHECK(m.memory().usage() - m.memory().inactive_file() == 32u << 20);
    CHECK(m.memory_events().oom_kill() == 2);
    CHECK(m.pids().current() == 3);
    CHECK(m.pids().limit() == 100);
    REQUIRE(m.io().usage_size() == 1);
    CHECK(m.io().usage(0).rbytes() == 4096);
    CHECK(m.io().usage(0).wios() == 9);
  }
  // Groups the zone did not report are absent from the message.
  CtlStatsRsp only_cpu{};
  only_cpu.present = kCtlStatsCpu;
  only_cpu.cpu_usage_usec = 5;
  const auto m = metrics_from_zone(only_cpu);
  CHECK(m.has_cpu());
  CHECK(!m.has_memory());
  CHECK(!m.has_pids());
  CHECK(!m.has_io());
  CHECK(m.cpu().nr_periods() == 0);
}
