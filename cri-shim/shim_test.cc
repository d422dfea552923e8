// Unit tests of the shim's pieces that need no containerd: ttrpc framing and envelopes, annotations to zone,
// the spec changes a pod's containers get, the config file.
#include <doctest/doctest.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <condition_variable>
#include <cstring>
#include <fstream>
#include <mutex>
#include <thread>

#include "cri-shim/bundle.h"
#include "cri-shim/pod_zone.h"
#include "cri-shim/proto/shim.pb.h"
#include "cri-shim/proto/ttrpc.pb.h"
#include "cri-shim/shim_config.h"
#include "cri-shim/ttrpc_frame.h"
#include "cri-shim/ttrpc_server.h"
#include "tests/support/bytes.h"

using namespace xg::shim;

using xg::test::bytes;

TEST_CASE("ttrpc frames: header layout, split delivery, several frames, oversize closes") {
  const std::string f1 = encode_ttrpc_frame(1, TtrpcType::kRequest, "hello");
  REQUIRE(f1.size() == 15);
  CHECK(f1.substr(0, 10) == std::string("\0\0\0\5\0\0\0\1\1\0", 10));  // big-endian length, stream, type, flags
  const std::string two = f1 + encode_ttrpc_frame(3, TtrpcType::kRequest, "");
  TtrpcFrameReader r;
  for (char c : two) {  // one byte at a time
    r.feed(bytes(std::string(1, c)));
    if (auto f = r.next()) {
      CHECK((f->stream_id == 1 || f->stream_id == 3));
      CHECK(f->body == (f->stream_id == 1 ? "hello" : ""));
    }
  }
  CHECK(!r.failed());
  TtrpcFrameReader big;
  auto h = encode_ttrpc_header(kTtrpcMaxMessageBytes + 1, 5, TtrpcType::kRequest);
  big.feed(h);
  CHECK(!big.next());
  CHECK(big.failed());
}

TEST_CASE("ttrpc envelope: status on error, payload on success, malformed request") {
  ::ttrpc::Request req;
  req.set_service("containerd.task.v2.Task");
  req.set_method("Checkpoint");
  RpcHandler h = [](const std::string& s, const std::string& m, const std::string& p) {
    if (m == "Checkpoint") return rpc_error(RpcCode::kUnimplemented, "no");
    return RpcReply{RpcCode::kOk, "", "xyz"};
  };
  ::ttrpc::Response resp;
  REQUIRE(resp.ParseFromString(serve_ttrpc_request(req.SerializeAsString(), h)));
  CHECK(resp.status().code() == 12);
  req.set_method("State");
  REQUIRE(resp.ParseFromString(serve_ttrpc_request(req.SerializeAsString(), h)));
  CHECK(resp.status().code() == 0);
  CHECK(resp.payload() == "xyz");
  REQUIRE(resp.ParseFromString(serve_ttrpc_request(std::string("\xff\xff\xff", 3), h)));
  CHECK(resp.status().code() == 3);
}

TEST_CASE("unknown fields survive a parse and reserialization") {
  containerd::task::v2::StateRequest s;
  s.set_id("c1");
  std::string wire = s.SerializeAsString();
  wire += std::string("\xa2\x06\x03" "abc", 6);  // field 100, length-delimited: a field from a newer containerd
  containerd::task::v2::StateRequest back;
  REQUIRE(back.ParseFromString(wire));
  CHECK(back.id() == "c1");
  CHECK(back.SerializeAsString() == wire);
}

TEST_CASE("annotations to zone: defaults, values, and errors that name the annotation") {
  ShimConfig cfg;
  cfg.default_memory = 2ull << 30;
  cfg.default_weight = 3;
  auto d = zone_spec_for({}, "default", "ctr1", cfg);
  REQUIRE(std::holds_alternative<ZoneSpec>(d));
  CHECK(std::get<ZoneSpec>(d).name == "default.ctr1");
  CHECK(std::get<ZoneSpec>(d).quota == (2ull << 30));
  CHECK(std::get<ZoneSpec>(d).weight == 3);
  auto k = zone_spec_for({{kAnnotationSandboxNamespace, "ml"}, {kAnnotationSandboxName, "train-0"},
                          {kAnnotationMemory, "4GiB"}, {kAnnotationWeight, "7"}},
                         "k8s.io", "abc", cfg);
  REQUIRE(std::holds_alternative<ZoneSpec>(k));
  CHECK(std::get<ZoneSpec>(k).name == "ml.train-0");
  CHECK(std::get<ZoneSpec>(k).quota == (4ull << 30));
  CHECK(std::get<ZoneSpec>(k).weight == 7);
  auto bad = zone_spec_for({{kAnnotationMemory, "lots"}}, "default", "x", cfg);
  REQUIRE(std::holds_alternative<std::string>(bad));
  CHECK(std::get<std::string>(bad).find("xen-gpu.io/memory") != std::string::npos);
  auto badw = zone_spec_for({{kAnnotationWeight, "0"}}, "default", "x", cfg);
  REQUIRE(std::holds_alternative<std::string>(badw));
  CHECK(std::get<std::string>(badw).find("xen-gpu.io/weight") != std::string::npos);
  auto lng = zone_spec_for({{kAnnotationSandboxNamespace, std::string(63, 'n')}, {kAnnotationSandboxName, std::string(200, 'p')}},
                           "k8s.io", "abc", cfg);
  CHECK(std::get<ZoneSpec>(lng).name.size() == 63);
  auto odd = zone_spec_for({}, "a/b", "c d", cfg);
  CHECK(std::get<ZoneSpec>(odd).name == "a_b.c_d");
}

TEST_CASE("a pod container's spec gets the zone: mounts after the spec's own, our library first") {
  auto spec = nlohmann::json::parse(R"({"process":{"env":["PATH=/bin","LD_LIBRARY_PATH=/opt/lib","XEN_GPU_ZONE=evil"]},
                                        "mounts":[{"destination":"/run","type":"tmpfs","source":"tmpfs"}]})");
  add_zone_to_spec(spec, "/usr/lib/xen-gpu", "/run/xen-gpu/zones/p.sock", "ns.pod");
  CHECK(spec["mounts"].size() == 3);
  CHECK(spec["mounts"][0]["destination"] == "/run");
  CHECK(spec["mounts"][2]["source"] == "/run/xen-gpu/zones/p.sock");
  const auto& env = spec["process"]["env"];
  CHECK(std::find(env.begin(), env.end(), "LD_LIBRARY_PATH=/usr/lib/xen-gpu:/opt/lib") != env.end());
  CHECK(std::find(env.begin(), env.end(), "XEN_GPU_ZONE=evil") == env.end());
  CHECK(spec_zone(spec) == "ns.pod");
}

TEST_CASE("shim config: keys, bad values named, missing default file is fine") {
  const std::string path = "/tmp/xg-shim-test.conf";
  {
    std::ofstream f(path);
    f << "# comment\nadmin_socket = /tmp/a.sock\ndefault_memory = 512MiB\n";
  }
  ShimConfig cfg;
  std::string error;
  REQUIRE(load_shim_config(path, true, cfg, error));
  CHECK(cfg.admin_socket == "/tmp/a.sock");
  CHECK(cfg.default_memory == (512ull << 20));
  {
    std::ofstream f(path);
    f << "default_weight = heavy\n";
  }
  CHECK(!load_shim_config(path, true, cfg, error));
  CHECK(error.find("default_weight") != std::string::npos);
  CHECK(load_shim_config("/nonexistent/xg.conf", false, cfg, error));
  CHECK(!load_shim_config("/nonexistent/xg.conf", true, cfg, error));
}

namespace {

// A stream connection to a running TtrpcServer (socketpair: no file system needed).
struct ServerFixture {
  int client = -1;
  std::thread thread;
  std::unique_ptr<TtrpcServer> server;
  ServerFixture(RpcHandler h) {
    int l = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    const std::string path = "/tmp/xg-shim-test-" + std::to_string(::getpid()) + ".sock";
    ::unlink(path.c_str());
    std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
    REQUIRE(::bind(l, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    REQUIRE(::listen(l, 4) == 0);
    server = std::make_unique<TtrpcServer>(xg::idm::UniqueFd(l), std::move(h));
    thread = std::thread([this] { server->serve(); });
    client = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(::connect(client, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    ::unlink(path.c_str());
  }
  ~ServerFixture() {
    ::close(client);
    server->stop();
    thread.join();
  }
  void send(uint32_t stream, const std::string& method) {
    ::ttrpc::Request req;
    req.set_service("containerd.task.v2.Task");
    req.set_method(method);
    const std::string f = encode_ttrpc_frame(stream, TtrpcType::kRequest, req.SerializeAsString());
    REQUIRE(::write(client, f.data(), f.size()) == static_cast<ssize_t>(f.size()));
  }
  // The next response's stream id (0 when the connection closed).
  TtrpcFrameReader r;  // one reader: a read may bring more than one response
  uint32_t next_response() {
    for (;;) {
      if (auto f = r.next()) return f->stream_id;
      char buf[256];
      const ssize_t n = ::read(client, buf, sizeof buf);
      if (n <= 0) return 0;
      r.feed(bytes(std::string(buf, static_cast<size_t>(n))));
    }
  }
};

}  // namespace

TEST_CASE("ttrpc server: a blocked call (Wait) does not hold up the next one on the same connection") {
  std::mutex mu;
  std::condition_variable cv;
  bool released = false;
  ServerFixture fx([&](const std::string&, const std::string& method, const std::string&) {
    std::unique_lock lock(mu);
    if (method == "Wait") cv.wait(lock, [&] { return released; });
    return RpcReply{};
  });
  fx.send(1, "Wait");
  fx.send(3, "Kill");
  CHECK(fx.next_response() == 3);  // Kill answers while Wait still blocks...
  {
    std::lock_guard lock(mu);
    released = true;
  }
  cv.notify_all();
  CHECK(fx.next_response() == 1);  // ...and Wait answers once released
}

TEST_CASE("ttrpc server: a frame over the size bound closes the connection") {
  ServerFixture fx([](const std::string&, const std::string&, const std::string&) { return RpcReply{}; });
  const auto h = encode_ttrpc_header(kTtrpcMaxMessageBytes + 1, 1, TtrpcType::kRequest);
  REQUIRE(::write(fx.client, h.data(), h.size()) == static_cast<ssize_t>(h.size()));
  CHECK(fx.next_response() == 0);
}
