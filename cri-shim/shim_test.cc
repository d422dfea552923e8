// Unit tests of the shim's pieces that need no containerd: ttrpc framing and envelopes, annotations to zone,
// the spec changes a pod's containers get, the config file.
#include <doctest/doctest.h>

#include <fstream>

#include "cri-shim/bundle.h"
#include "cri-shim/pod_zone.h"
#include "cri-shim/proto/shim.pb.h"
#include "cri-shim/proto/ttrpc.pb.h"
#include "cri-shim/shim_config.h"
#include "cri-shim/ttrpc_frame.h"
#include "cri-shim/ttrpc_server.h"

using namespace xg::shim;

namespace {
std::span<const std::byte> bytes(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }
}  // namespace

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
