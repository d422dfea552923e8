// The task service's Xen mode up to where it needs Xen: the mode is chosen from the config, a pod's settings are
// checked before anything is started, and a domain that cannot be made leaves nothing behind (xl here is a real
// program that refuses: /bin/false; no Xen is pretended).
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "cri-shim/proto/shim.pb.h"
#include "cri-shim/test_reaper.h"
#include "cri-shim/task_service.h"

using namespace xg::shim;

namespace {


struct Bundle {
  std::string dir;
  explicit Bundle(const std::string& annotations_json) {
    char tmpl[] = "/tmp/xg-xen-bundle-XXXXXX";
    REQUIRE(::mkdtemp(tmpl));
    dir = tmpl;
    std::ofstream f(dir + "/config.json");
    f << R"({"ociVersion":"1.0.2","process":{"args":["/bin/saxpy"],"env":["PATH=/bin"],"cwd":"/"},)"
      << R"("root":{"path":"rootfs"},"annotations":)" << annotations_json << "}";
  }
  ~Bundle() { std::system(("rm -rf '" + dir + "'").c_str()); }
};

RpcReply create(TaskService& ts, const std::string& id, const std::string& bundle) {
  containerd::task::v2::CreateTaskRequest r;
  r.set_id(id);
  r.set_bundle(bundle);
  return ts.dispatch(kTaskService, "Create", r.SerializeAsString());
}

RpcReply state(TaskService& ts, const std::string& id) {
  containerd::task::v2::StateRequest r;
  r.set_id(id);
  return ts.dispatch(kTaskService, "State", r.SerializeAsString());
}

ShimConfig xen_config(const std::string& xl) {
  ShimConfig cfg;
  cfg.mode = ShimMode::kXen;
  cfg.xl = xl;
  cfg.admin_socket = "/nonexistent/admin.sock";
  return cfg;
}

}  // namespace

TEST_CASE("Xen mode: a domain xl refuses fails Create with xl's word, and leaves no pod behind") {
  start_reaper_for_tests();
  Bundle b("{}");
  TaskService ts(ShimIdentity{"default", "", ""}, xen_config("/bin/false"), [] {});
  for (int attempt = 0; attempt < 2; ++attempt) {  // the second finds no half-made pod in its way
    const RpcReply r = create(ts, "xpod", b.dir);
    CHECK(r.code == RpcCode::kUnavailable);
    CHECK(r.message.find("booting the pod's domain") != std::string::npos);
    CHECK(r.message.find("xl create") != std::string::npos);
    CHECK(state(ts, "xpod").code == RpcCode::kNotFound);
  }
  // The domain's config was written into the bundle for xl, with the pod's zone name and the defaults.
  std::ifstream cfg(b.dir + "/domain.cfg");
  std::string text((std::istreambuf_iterator<char>(cfg)), std::istreambuf_iterator<char>());
  CHECK(text.find("name = \"default.xpod\"") != std::string::npos);
  CHECK(text.find("memory = 256") != std::string::npos);
  ts.finish();
}

TEST_CASE("Xen mode: a bad zone annotation is refused with its name before a domain is tried") {
  start_reaper_for_tests();
  Bundle b(R"({"xen-gpu.io/zone-vcpus":"0"})");
  TaskService ts(ShimIdentity{"default", "", ""}, xen_config("/nonexistent/xl"), [] {});
  const RpcReply r = create(ts, "xpod", b.dir);
  CHECK(r.code == RpcCode::kInvalidArgument);
  CHECK(r.message.find("xen-gpu.io/zone-vcpus") != std::string::npos);
  CHECK(::access((b.dir + "/domain.cfg").c_str(), F_OK) != 0);
  ts.finish();
}

TEST_CASE("stub mode stays stub mode: mode = stub never runs xl") {
  start_reaper_for_tests();
  Bundle b("{}");
  ShimConfig cfg = xen_config("/nonexistent/xl");
  cfg.mode = ShimMode::kStub;
  TaskService ts(ShimIdentity{"default", "", ""}, cfg, [] {});
  const RpcReply r = create(ts, "spod", b.dir);
  CHECK(r.code == RpcCode::kUnavailable);
  CHECK(r.message.find("gpu-proxy is not reachable") != std::string::npos);  // stub mode's first step
  CHECK(::access((b.dir + "/domain.cfg").c_str(), F_OK) != 0);
  ts.finish();
}
