// Xen mode's pieces that need no Xen: the new config keys, the pod annotations that size a zone, the OCI process
// made into a ZoneStart, the CtlPoll answers of the fuzz corpus, and ZoneControl against zones that misbehave
// (silent, or answering out of turn) over an in-memory channel pair.
#include <doctest/doctest.h>

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
#include "idm/codec.h"
#include "idm/futex_doorbell.h"
#include "idm/messages.h"
#include "idm/transport_shm.h"

using namespace xg::shim;

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

// Both ends of one channel in this process: the shim's (Role::kZone: it calls) and the zone init's.
struct ChannelPair {
  std::unique_ptr<xg::idm::Endpoint> shim, zone;
};
ChannelPair channel_pair() {
  using namespace xg::idm;
  const ChannelGeometry g;
  auto a = ShmMemory::create(g.total_bytes(), "zone-control-test");
  REQUIRE(a);
  Channel::format(a.value()->bytes(), g);
  auto b = ShmMemory::map(UniqueFd(::dup(a.value()->fd())), g.total_bytes());
  REQUIRE(b);
  auto shim = make_endpoint(std::move(a.value()), std::make_unique<FutexDoorbell>(), g, Role::kZone);
  auto zone = make_endpoint(std::move(b.value()), std::make_unique<FutexDoorbell>(), g, Role::kProxy);
  REQUIRE(shim);
  REQUIRE(zone);
  return {std::move(shim.value()), std::move(zone.value())};
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
  CHECK(std::holds_alternative<std::string>(zone_start_for(nlohmann::json::parse(R"({"args":["a"],"terminal":true})"), "", "z")));
  CHECK(std::holds_alternative<std::string>(zone_start_for(nlohmann::json::parse(R"({"args":["a"],"user":{"uid":-1}})"), "", "z")));
  CHECK(std::holds_alternative<std::string>(zone_start_for(nlohmann::json(), "", "z")));
  // Fields of the wrong type are refused, never thrown over.
  CHECK(std::holds_alternative<std::string>(zone_start_for(nlohmann::json::parse(R"({"args":["a"],"terminal":"yes"})"), "", "z")));
  CHECK(std::holds_alternative<std::string>(zone_start_for(nlohmann::json::parse(R"({"args":["a"],"cwd":5})"), "", "z")));
  CHECK(std::holds_alternative<std::string>(zone_start_for(nlohmann::json::parse(R"({"args":["a"],"env":"x"})"), "", "z")));
  CHECK(std::holds_alternative<ZoneStart>(zone_start_for(nlohmann::json::parse(R"({"args":["a"],"terminal":false})"), "", "z")));
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
  auto pair = channel_pair();
  auto zc = ZoneControl::over(std::move(pair.shim), ZoneEvents{}, std::chrono::milliseconds(200));
  REQUIRE(std::holds_alternative<std::string>(zc));
  CHECK(std::get<std::string>(zc).find("CtlHello") != std::string::npos);
}

TEST_CASE("ZoneControl: an answer out of turn, or in another protocol, fails the connect") {
  using namespace xg::idm;
  for (const bool wrong_seq : {true, false}) {
    auto pair = channel_pair();
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
  auto pair = channel_pair();
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
