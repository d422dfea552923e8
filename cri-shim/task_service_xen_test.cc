// The task service's Xen mode without Xen. Up to where it needs Xen: the mode is chosen from the config, a pod's
// settings are checked before anything is started, and a domain that cannot be made leaves nothing behind (xl
// here is a real program that refuses: /bin/false; no Xen is pretended). Then the whole Xen half against a
// scripted zone: a test PodDomain (pod_domain.h) whose control channel is an in-memory channel pair, the zone
// init's end driven by test_scripted_zone.h. First a zone that keeps the contract (a CRI pod's life: sandbox,
// container, output into its FIFO, exit, delete, the domain destroyed); then zones that do not: silent, answering
// garbage, lying about exits, flooding output. Whatever the zone does, every call returns in bounded time, the
// pod is reclaimed (its processes reported killed, the domain destroyed) when the zone breaks the contract, and
// Delete still cleans up.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cri-shim/pod_domain.h"
#include "cri-shim/proto/shim.pb.h"
#include "cri-shim/task_service.h"
#include "cri-shim/test_reaper.h"
#include "cri-shim/test_scripted_zone.h"

using namespace xg::shim;
using namespace xg::shim::test;
namespace idm = xg::idm;
namespace task = containerd::task::v2;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kCallTimeout = 400ms;  // the test domain's per-call bound (the real one: 10 s)

// The test's domain: no guest; its control channel leads to a ScriptedZone.
class TestDomain final : public PodDomain {
 public:
  explicit TestDomain(std::unique_ptr<idm::Endpoint> shim_end) : shim_end_(std::move(shim_end)) {}
  uint32_t domid() const override { return 7; }
  const std::string& name() const override { return name_; }
  bool alive() const override { return destroyed == 0; }
  std::optional<std::string> attach_disk(uint32_t index, const std::string& image) override {
    std::lock_guard l(mu);
    disks.push_back(std::to_string(index) + " " + image);
    return std::nullopt;
  }
  void detach_disk(uint32_t index) override {
    std::lock_guard l(mu);
    detached.push_back(index);
  }
  std::variant<std::unique_ptr<ZoneControl>, std::string> connect(ZoneEvents events) override {
    if (!shim_end_) return std::string("connected twice");
    return ZoneControl::over(std::move(shim_end_), std::move(events), kCallTimeout);
  }
  void destroy() override { ++destroyed; }

  std::atomic<int> destroyed{0};
  std::mutex mu;
  std::vector<std::string> disks;
  std::vector<uint32_t> detached;

 private:
  std::string name_ = "ml.web";
  std::unique_ptr<idm::Endpoint> shim_end_;
};

struct Pod {
  std::shared_ptr<TestDomain> domain;
  std::unique_ptr<ScriptedZone> zone;
};

Pod make_pod() {
  auto pair = zone_channel_pair();
  return {std::make_shared<TestDomain>(std::move(pair.shim)), std::make_unique<ScriptedZone>(std::move(pair.zone))};
}

bool have_mkfs_erofs() {
  return ::access("/usr/bin/mkfs.erofs", X_OK) == 0 || ::access("/sbin/mkfs.erofs", X_OK) == 0;
}

// A temporary directory with a CRI sandbox's bundle and one container's bundle (its rootfs a plain directory:
// containerd's mounts are none here) and the container's stdout FIFO.
struct Dirs {
  std::string root;
  Dirs() {
    char tmpl[] = "/tmp/xg-ts-zone-XXXXXX";
    REQUIRE(::mkdtemp(tmpl));
    root = tmpl;
    write_bundle("sandbox", R"({"io.kubernetes.cri.container-type":"sandbox","io.kubernetes.cri.sandbox-id":"pod1",)"
                            R"("io.kubernetes.cri.sandbox-name":"web","io.kubernetes.cri.sandbox-namespace":"ml"})");
    // The container has one of the spec's mounts that Xen mode copies into a mount image: a host file.
    std::ofstream(root + "/host.conf") << "from the host\n";
    write_bundle("app", R"({"io.kubernetes.cri.container-type":"container","io.kubernetes.cri.sandbox-id":"pod1"})",
                 R"([{"destination":"/etc/app.conf","type":"bind","source":")" + root +
                     R"(/host.conf","options":["rbind","ro"]}])");
    std::ofstream(root + "/app/rootfs/hello") << "a file in the image\n";
    REQUIRE(::mkfifo((root + "/app.out").c_str(), 0600) == 0);
  }
  ~Dirs() { std::system(("rm -rf '" + root + "'").c_str()); }
  void write_bundle(const std::string& name, const std::string& annotations, const std::string& mounts = "[]",
                    bool terminal = false) {
    ::mkdir((root + "/" + name).c_str(), 0700);
    ::mkdir((root + "/" + name + "/rootfs").c_str(), 0700);
    std::ofstream(root + "/" + name + "/config.json")
        << R"({"ociVersion":"1.0.2","process":{"terminal":)" << (terminal ? "true" : "false")
        << R"(,"args":["/bin/app"],"env":["PATH=/bin"],"cwd":"/"},)"
        << R"("root":{"path":"rootfs"},"mounts":)" << mounts << R"(,"annotations":)" << annotations << "}";
  }
};

ShimConfig xen_config(const std::string& xl = "/nonexistent/xl") {
  ShimConfig cfg;
  cfg.mode = ShimMode::kXen;
  cfg.xl = xl;
  cfg.admin_socket = "/nonexistent/admin.sock";  // a test domain declares no zone on gpu-proxy
  return cfg;
}

// A lone container's bundle (outside CRI) with these annotations.
struct OciBundle {
  std::string dir;
  explicit OciBundle(const std::string& annotations_json) {
    char tmpl[] = "/tmp/xg-xen-bundle-XXXXXX";
    REQUIRE(::mkdtemp(tmpl));
    dir = tmpl;
    std::ofstream f(dir + "/config.json");
    f << R"({"ociVersion":"1.0.2","process":{"args":["/bin/saxpy"],"env":["PATH=/bin"],"cwd":"/"},)"
      << R"("root":{"path":"rootfs"},"annotations":)" << annotations_json << "}";
  }
  ~OciBundle() { std::system(("rm -rf '" + dir + "'").c_str()); }
};


template <class Req>
RpcReply call(TaskService& ts, const char* method, const Req& r) {
  return ts.dispatch(kTaskService, method, r.SerializeAsString());
}

RpcReply create(TaskService& ts, const std::string& id, const std::string& bundle, const std::string& out = "",
                bool terminal = false) {
  task::CreateTaskRequest r;
  r.set_id(id);
  r.set_bundle(bundle);
  r.set_stdout(out);
  r.set_terminal(terminal);
  return call(ts, "Create", r);
}

RpcReply update(TaskService& ts, const std::string& id, const std::string& resources_json) {
  task::UpdateTaskRequest r;
  r.set_id(id);
  r.mutable_resources()->set_type_url("types.containerd.io/opencontainers/runtime-spec/1/LinuxResources");
  r.mutable_resources()->set_value(resources_json);
  return call(ts, "Update", r);
}

RpcReply resize(TaskService& ts, const std::string& id, uint32_t cols, uint32_t rows) {
  task::ResizePtyRequest r;
  r.set_id(id);
  r.set_width(cols);
  r.set_height(rows);
  return call(ts, "ResizePty", r);
}

// A method whose request names only the container.
template <class Req>
RpcReply call_for(TaskService& ts, const char* method, const std::string& id) {
  Req r;
  r.set_id(id);
  return call(ts, method, r);
}

RpcReply start(TaskService& ts, const std::string& id) { return call_for<task::StartRequest>(ts, "Start", id); }

RpcReply state_reply(TaskService& ts, const std::string& id) { return call_for<task::StateRequest>(ts, "State", id); }

task::StateResponse state(TaskService& ts, const std::string& id) {
  const RpcReply rr = state_reply(ts, id);
  REQUIRE(rr.code == RpcCode::kOk);
  task::StateResponse s;
  REQUIRE(s.ParseFromString(rr.payload));
  return s;
}

RpcReply remove(TaskService& ts, const std::string& id) { return call_for<task::DeleteRequest>(ts, "Delete", id); }

RpcReply pids(TaskService& ts, const std::string& id) { return call_for<task::PidsRequest>(ts, "Pids", id); }

RpcReply kill(TaskService& ts, const std::string& id, uint32_t sig) {
  task::KillRequest r;
  r.set_id(id);
  r.set_signal(sig);
  return call(ts, "Kill", r);
}

// containerd's Wait, bounded here: the exit status, or -1 when it did not return within `limit`.
int wait_exit(TaskService& ts, const std::string& id, std::chrono::milliseconds limit) {
  auto f = std::async(std::launch::async, [&ts, id] {
    task::WaitRequest r;
    r.set_id(id);
    const RpcReply rr = call(ts, "Wait", r);
    task::WaitResponse w;
    return rr.code == RpcCode::kOk && w.ParseFromString(rr.payload) ? int(w.exit_status()) : -2;
  });
  if (f.wait_for(limit) != std::future_status::ready) {
    // Wait blocks until the process ends: end it for good (the pod's end reports it killed) so the thread returns.
    (void)kill(ts, "pod1", 9);
    (void)remove(ts, "pod1");
    f.wait();
    return -1;
  }
  return f.get();
}

// Reads the FIFO until every writer has gone (the shim closes its end when the process exits).
struct FifoReader {
  std::string path, got;
  std::thread t;
  std::atomic<bool> done{false};
  explicit FifoReader(const std::string& p) : path(p) {
    t = std::thread([this] {
      const int fd = ::open(path.c_str(), O_RDONLY);
      char b[65536];
      for (ssize_t n; fd >= 0 && (n = ::read(fd, b, sizeof b)) > 0;) got.append(b, size_t(n));
      if (fd >= 0) ::close(fd);
      done = true;
    });
  }
  ~FifoReader() {
    // A test that failed before the shim opened the FIFO: a writer that comes and goes ends the reader's open.
    if (!done) ::close(::open(path.c_str(), O_WRONLY | O_NONBLOCK));
    if (t.joinable()) t.join();
  }
};

// The booter hands out `pod`'s domain.
TaskService make_service(Pod& pod) {
  return TaskService(ShimIdentity{"k8s.io", "", ""}, xen_config(), [] {},
                     [d = pod.domain](const XenPodSpec&, const ZoneSpec&) {
                       return std::variant<std::shared_ptr<PodDomain>, std::string>(std::shared_ptr<PodDomain>(d));
                     });
}

// Whether the Xen half can be driven here (mkfs.erofs builds the images); starts the shim's reaper.
bool xen_half_testable() {
  start_reaper_for_tests();
  return have_mkfs_erofs();
}

// A CRI pod against a scripted zone: the sandbox "pod1" created and started, its container "app" created and
// (unless asked not to) started, its stdout FIFO read (unless asked not to: then nobody reads it).
struct PodUnderTest {
  Dirs dirs;
  Pod pod = make_pod();
  TaskService ts = make_service(pod);
  std::optional<FifoReader> out;
  explicit PodUnderTest(bool read_output = true, bool start_app = true) {
    if (read_output) out.emplace(dirs.root + "/app.out");
    REQUIRE(create(ts, "pod1", dirs.root + "/sandbox").code == RpcCode::kOk);
    REQUIRE(start(ts, "pod1").code == RpcCode::kOk);
    const RpcReply c = create(ts, "app", dirs.root + "/app", dirs.root + "/app.out");
    REQUIRE_MESSAGE(c.code == RpcCode::kOk, c.message);
    if (!start_app) return;
    const RpcReply st = start(ts, "app");
    REQUIRE_MESSAGE(st.code == RpcCode::kOk, st.message);
  }
};

// The pod ends as containerd ends it: the container deleted, then the sandbox. Both must succeed whatever the
// zone did, and the domain is destroyed.
void end_pod(TaskService& ts, Pod& pod) {
  const RpcReply a = remove(ts, "app");
  CHECK_MESSAGE(a.code == RpcCode::kOk, a.message);
  // The sandbox runs nothing: its Kill ends it (a reclaimed pod's sandbox is already reported killed).
  if (state(ts, "pod1").status() == containerd::v1::types::RUNNING) CHECK(kill(ts, "pod1", 9).code == RpcCode::kOk);
  const RpcReply s = remove(ts, "pod1");
  CHECK_MESSAGE(s.code == RpcCode::kOk, s.message);
  CHECK(pod.domain->destroyed >= 1);
  ts.finish();
}

}  // namespace

TEST_CASE("Xen mode: a domain xl refuses fails Create with xl's word, and leaves no pod behind") {
  start_reaper_for_tests();
  OciBundle b("{}");
  TaskService ts(ShimIdentity{"default", "", ""}, xen_config("/bin/false"), [] {});
  for (int attempt = 0; attempt < 2; ++attempt) {  // the second finds no half-made pod in its way
    const RpcReply r = create(ts, "xpod", b.dir);
    CHECK(r.code == RpcCode::kUnavailable);
    CHECK(r.message.find("booting the pod's domain") != std::string::npos);
    CHECK(r.message.find("xl create") != std::string::npos);
    CHECK(state_reply(ts, "xpod").code == RpcCode::kNotFound);
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
  OciBundle b(R"({"xen-gpu.io/zone-vcpus":"0"})");
  TaskService ts(ShimIdentity{"default", "", ""}, xen_config("/nonexistent/xl"), [] {});
  const RpcReply r = create(ts, "xpod", b.dir);
  CHECK(r.code == RpcCode::kInvalidArgument);
  CHECK(r.message.find("xen-gpu.io/zone-vcpus") != std::string::npos);
  CHECK(::access((b.dir + "/domain.cfg").c_str(), F_OK) != 0);
  ts.finish();
}

TEST_CASE("stub mode stays stub mode: mode = stub never runs xl") {
  start_reaper_for_tests();
  OciBundle b("{}");
  ShimConfig cfg = xen_config("/nonexistent/xl");
  cfg.mode = ShimMode::kStub;
  TaskService ts(ShimIdentity{"default", "", ""}, cfg, [] {});
  const RpcReply r = create(ts, "spod", b.dir);
  CHECK(r.code == RpcCode::kUnavailable);
  CHECK(r.message.find("gpu-proxy is not reachable") != std::string::npos);  // stub mode's first step
  CHECK(::access((b.dir + "/domain.cfg").c_str(), F_OK) != 0);
  ts.finish();
}

TEST_CASE("Xen mode against a zone that keeps the contract: a CRI pod's life, the domain destroyed at its end") {
  if (!xen_half_testable()) {
    WARN_MESSAGE(false, "SKIP: mkfs.erofs not installed (erofs-utils)");
    return;
  }
  PodUnderTest setup;
  auto& [dirs, pod, ts, out] = setup;
  CHECK(state(ts, "app").pid() == 101);  // the zone's pid for proc 1
  {
    // The images the shim hot-plugs are its own, in the container's bundle: the rootfs and the mount image.
    std::lock_guard l(pod.domain->mu);
    REQUIRE(pod.domain->disks.size() == 2);
    CHECK(pod.domain->disks[0] == "0 " + dirs.root + "/app/rootfs.erofs");
    CHECK(pod.domain->disks[1] == "1 " + dirs.root + "/app/xg-mounts.erofs");
  }
  // What the zone was asked to start: the container's image and its mounts (one from the mount image).
  const auto started = pod.zone->last<idm::Op::CtlStart>();
  REQUIRE(started);
  CHECK(started->proc_id == 1);
  CHECK(started->container_proc == 0);
  CHECK(started->rootfs_disk == 0);
  CHECK(started->mounts_disk == 1);
  CHECK(started->nmounts >= 1);
  const RpcReply p = pids(ts, "app");
  REQUIRE(p.code == RpcCode::kOk);
  task::PidsResponse pr;
  REQUIRE(pr.ParseFromString(p.payload));
  REQUIRE(pr.processes_size() == 1);
  CHECK(pr.processes(0).pid() == 101);
  pod.zone->output(1, "hello from the zone\n");
  pod.zone->exit(1, 3);
  CHECK(wait_exit(ts, "app", 5s) == 3);
  out->t.join();
  CHECK(out->got == "hello from the zone\n");
  CHECK(pod.domain->destroyed == 0);  // a container's end is not the pod's
  end_pod(ts, pod);
  CHECK(pod.zone->saw(idm::Op::CtlRemove));
  CHECK(pod.zone->saw(idm::Op::CtlShutdown));
  std::lock_guard l(pod.domain->mu);
  CHECK(pod.domain->detached == std::vector<uint32_t>{0, 1});
}

TEST_CASE("a zone that stops answering: calls fail in bounded time, the pod is reclaimed and deletes cleanly") {
  if (!xen_half_testable()) return;
  PodUnderTest setup;
  auto& [dirs, pod, ts, out] = setup;
  pod.zone->go_silent();
  const auto t0 = Clock::now();
  const RpcReply k = kill(ts, "app", 15);
  CHECK(k.code != RpcCode::kOk);  // no answer: the channel failed
  CHECK(Clock::now() - t0 < 3s);
  // The watcher reclaims the pod: the container is reported killed, the domain destroyed.
  CHECK(wait_exit(ts, "app", 10s) == 137);
  for (int i = 0; i < 100 && pod.domain->destroyed == 0; ++i) std::this_thread::sleep_for(20ms);
  CHECK(pod.domain->destroyed >= 1);
  out->t.join();  // the FIFO was closed: containerd's reader sees EOF
  CHECK(pids(ts, "app").code == RpcCode::kOk);  // nothing runs in the zone any more: an empty list
  const auto t1 = Clock::now();
  end_pod(ts, pod);
  CHECK(Clock::now() - t1 < 5s);  // no call waits on the silent zone again
}

TEST_CASE("a zone that goes silent before a container's Start: Start fails in bounded time, the pod is reclaimed") {
  if (!xen_half_testable()) return;
  PodUnderTest setup(false, false);
  auto& [dirs, pod, ts, out] = setup;
  pod.zone->go_silent();
  const auto t0 = Clock::now();
  CHECK(start(ts, "app").code == RpcCode::kInternal);
  CHECK(Clock::now() - t0 < 3s);
  for (int i = 0; i < 250 && pod.domain->destroyed == 0; ++i) std::this_thread::sleep_for(20ms);
  CHECK(pod.domain->destroyed >= 1);
  CHECK(state(ts, "pod1").status() == containerd::v1::types::STOPPED);
  end_pod(ts, pod);
}

TEST_CASE("a zone that answers garbage, or an exit status no process has: the channel fails and the pod is reclaimed") {
  if (!xen_half_testable()) return;
  for (const bool garbage : {true, false}) {
    CAPTURE(garbage);
    PodUnderTest setup;
    auto& [dirs, pod, ts, out] = setup;
    if (garbage) pod.zone->garbage_next_poll();
    else pod.zone->exit(1, 300);  // past 255: not a status a shell reports
    CHECK(wait_exit(ts, "app", 10s) == 137);
    for (int i = 0; i < 100 && pod.domain->destroyed == 0; ++i) std::this_thread::sleep_for(20ms);
    CHECK(pod.domain->destroyed >= 1);
    CHECK(start(ts, "app").code != RpcCode::kOk);
    out->t.join();
    end_pod(ts, pod);
  }
}

TEST_CASE("a zone that lies about exits: unknown processes, processes not started, a second exit, all dropped") {
  if (!xen_half_testable()) return;
  PodUnderTest setup;
  auto& [dirs, pod, ts, out] = setup;
  dirs.write_bundle("idle", R"({"io.kubernetes.cri.container-type":"container","io.kubernetes.cri.sandbox-id":"pod1"})");
  REQUIRE(create(ts, "idle", dirs.root + "/idle").code == RpcCode::kOk);  // proc 2: created, never started
  pod.zone->exit(99, 0);      // a process the shim never named
  pod.zone->output(99, "not yours\n");
  pod.zone->exit(2, 0);       // one not started
  pod.zone->output(1, "mine\n");
  pod.zone->exit(1, 7);       // the real one
  pod.zone->exit(1, 0);       // and a second, different exit for it
  pod.zone->output(1, "after the end\n");
  CHECK(wait_exit(ts, "app", 5s) == 7);
  out->t.join();
  CHECK(out->got == "mine\n");
  // Every event sent, and the shim back for more: it has handled them all.
  for (int i = 0; i < 500 && pod.zone->events_queued() > 0; ++i) std::this_thread::sleep_for(10ms);
  REQUIRE(pod.zone->events_queued() == 0);
  const size_t polls = pod.zone->count(idm::Op::CtlPoll);
  for (int i = 0; i < 500 && pod.zone->count(idm::Op::CtlPoll) <= polls; ++i) std::this_thread::sleep_for(10ms);
  CHECK(pod.zone->count(idm::Op::CtlPoll) > polls);
  CHECK(state(ts, "app").exit_status() == 7);  // the first exit stands
  CHECK(state(ts, "idle").status() == containerd::v1::types::CREATED);
  CHECK(pod.domain->destroyed == 0);  // lies about its own processes harm only the pod: not a broken channel
  CHECK(remove(ts, "idle").code == RpcCode::kOk);
  end_pod(ts, pod);
}

TEST_CASE("a zone that floods output: the FIFO gets it all and the pod's calls still answer at once") {
  if (!xen_half_testable()) return;
  PodUnderTest setup;
  auto& [dirs, pod, ts, out] = setup;
  constexpr size_t kFlood = 16u << 20;
  pod.zone->flood(1, kFlood);
  // A call every 5 ms while the flood lasts (at most 60 s): each answered at once.
  auto worst = Clock::duration::zero();
  int calls = 0;
  for (const auto until = Clock::now() + 60s; pod.zone->flood_left() > 0 && Clock::now() < until; ++calls) {
    const auto t = Clock::now();
    REQUIRE(pids(ts, "app").code == RpcCode::kOk);
    worst = std::max(worst, Clock::now() - t);
    std::this_thread::sleep_for(5ms);
  }
  CAPTURE(calls);
  CHECK(pod.zone->flood_left() == 0);
  CHECK(worst < 1s);
  pod.zone->exit(1, 0);
  CHECK(wait_exit(ts, "app", 10s) == 0);
  out->t.join();
  CHECK(out->got.size() == kFlood);
  end_pod(ts, pod);
}

TEST_CASE("a zone that floods output nobody reads: the drop is bounded and the pod still ends") {
  if (!xen_half_testable()) return;
  PodUnderTest setup(false);  // nobody opens app.out for reading: the shim's own read-write end keeps it open
  auto& [dirs, pod, ts, out] = setup;
  pod.zone->flood(1, 1u << 20);
  std::this_thread::sleep_for(200ms);
  const auto t = Clock::now();
  CHECK(pids(ts, "app").code == RpcCode::kOk);  // the poller is stuck on the FIFO, the channel is not
  CHECK(Clock::now() - t < 1s);
  pod.zone->exit(1, 0);
  const auto t1 = Clock::now();
  CHECK(remove(ts, "app").code == RpcCode::kFailedPrecondition);  // still running until its exit comes through
  CHECK(kill(ts, "pod1", 9).code == RpcCode::kOk);
  CHECK(remove(ts, "pod1").code == RpcCode::kOk);  // the pod ends; what was left is reported killed
  CHECK(Clock::now() - t1 < 15s);
  CHECK(pod.domain->destroyed == 1);
  CHECK(remove(ts, "app").code == RpcCode::kOk);
  ts.finish();
}

TEST_CASE("a terminal: the zone is asked for one, ResizePty reaches it; a mismatch or a resize without one refused") {
  if (!xen_half_testable()) return;
  PodUnderTest setup;  // "app": no terminal
  auto& [dirs, pod, ts, out] = setup;
  const std::string ann = R"({"io.kubernetes.cri.container-type":"container","io.kubernetes.cri.sandbox-id":"pod1"})";
  dirs.write_bundle("tty", ann, "[]", true);
  // The request and the spec must agree (containerd sets both; the IO it made follows the request).
  CHECK(create(ts, "tty", dirs.root + "/tty", "", false).code == RpcCode::kInvalidArgument);
  REQUIRE(create(ts, "tty", dirs.root + "/tty", "", true).code == RpcCode::kOk);
  CHECK(resize(ts, "tty", 120, 50).code == RpcCode::kFailedPrecondition);  // not started yet
  REQUIRE(start(ts, "tty").code == RpcCode::kOk);
  const auto started = pod.zone->last<idm::Op::CtlStart>();
  REQUIRE(started);
  CHECK(started->proc_id == 2);
  CHECK((started->flags & idm::kCtlStartTerminal) != 0);
  CHECK(resize(ts, "tty", 120, 50).code == RpcCode::kOk);
  const auto rs = pod.zone->last<idm::Op::CtlResize>();
  REQUIRE(rs);
  CHECK(rs->proc_id == 2);
  CHECK(rs->cols == 120);
  CHECK(rs->rows == 50);
  CHECK(resize(ts, "app", 80, 24).code == RpcCode::kFailedPrecondition);  // no terminal
  CHECK(resize(ts, "tty", 70000, 24).code == RpcCode::kInvalidArgument);   // past the terminal's 16 bits
  pod.zone->exit(2, 0);
  CHECK(wait_exit(ts, "tty", 5s) == 0);
  CHECK(remove(ts, "tty").code == RpcCode::kOk);
  pod.zone->exit(1, 0);
  CHECK(wait_exit(ts, "app", 5s) == 0);
  end_pod(ts, pod);
}

TEST_CASE("Update: a running container's limits reach the zone; a created one's go with its start; refusals") {
  if (!xen_half_testable()) return;
  PodUnderTest setup;
  auto& [dirs, pod, ts, out] = setup;
  const std::string ann = R"({"io.kubernetes.cri.container-type":"container","io.kubernetes.cri.sandbox-id":"pod1"})";
  dirs.write_bundle("later", ann);
  CHECK(update(ts, "app", R"({"memory":{"limit":33554432},"cpu":{"quota":50000,"period":100000},"pids":{"limit":-1}})")
            .code == RpcCode::kOk);
  const auto u = pod.zone->last<idm::Op::CtlUpdate>();
  REQUIRE(u);
  CHECK(u->proc_id == 1);
  CHECK(u->resources.memory_max == 32u << 20);
  CHECK(u->resources.cpu_quota_us == 50'000);
  CHECK(u->unlimit == idm::kCtlUnlimitPids);
  CHECK(update(ts, "app", R"({"cpu":{"cpus":"0"}})").code == RpcCode::kInvalidArgument);  // a zone cannot pin
  CHECK(update(ts, "app", "not json").code == RpcCode::kInvalidArgument);
  CHECK(update(ts, "pod1", R"({"memory":{"limit":33554432}})").code == RpcCode::kFailedPrecondition);
  // Created, not started: its CtlStart carries the new limit.
  REQUIRE(create(ts, "later", dirs.root + "/later").code == RpcCode::kOk);
  CHECK(update(ts, "later", R"({"memory":{"limit":16777216}})").code == RpcCode::kOk);
  REQUIRE(start(ts, "later").code == RpcCode::kOk);
  const auto st = pod.zone->last<idm::Op::CtlStart>();
  REQUIRE(st);
  CHECK(st->proc_id == 2);
  CHECK(st->resources.memory_max == 16u << 20);
  pod.zone->exit(2, 0);
  CHECK(wait_exit(ts, "later", 5s) == 0);
  CHECK(remove(ts, "later").code == RpcCode::kOk);
  pod.zone->exit(1, 0);
  CHECK(wait_exit(ts, "app", 5s) == 0);
  CHECK(update(ts, "app", R"({"memory":{"limit":33554432}})").code == RpcCode::kFailedPrecondition);  // exited
  end_pod(ts, pod);
}

TEST_CASE("Pause and Resume: the zone freezes and thaws the container; state and refusals follow") {
  if (!xen_half_testable()) return;
  PodUnderTest setup;
  auto& [dirs, pod, ts, out] = setup;
  CHECK(call_for<task::ResumeRequest>(ts, "Resume", "app").code == RpcCode::kFailedPrecondition);  // not paused
  REQUIRE(call_for<task::PauseRequest>(ts, "Pause", "app").code == RpcCode::kOk);
  auto fr = pod.zone->last<idm::Op::CtlFreeze>();
  REQUIRE(fr);
  CHECK(fr->proc_id == 1);
  CHECK(fr->freeze == 1);
  CHECK(state(ts, "app").status() == containerd::v1::types::PAUSED);
  CHECK(call_for<task::PauseRequest>(ts, "Pause", "app").code == RpcCode::kFailedPrecondition);  // already
  CHECK(pids(ts, "app").code == RpcCode::kOk);  // a paused container still lists its processes
  CHECK(remove(ts, "app").code == RpcCode::kFailedPrecondition);  // nor is it deleted
  REQUIRE(call_for<task::ResumeRequest>(ts, "Resume", "app").code == RpcCode::kOk);
  fr = pod.zone->last<idm::Op::CtlFreeze>();
  REQUIRE(fr);
  CHECK(fr->freeze == 0);
  CHECK(state(ts, "app").status() == containerd::v1::types::RUNNING);
  CHECK(call_for<task::PauseRequest>(ts, "Pause", "pod1").code == RpcCode::kFailedPrecondition);  // runs nothing
  // A pause the zone cannot do (its freeze timed out there and was undone): the container stays RUNNING.
  pod.zone->answer_errno(idm::Op::CtlFreeze, ETIMEDOUT);
  CHECK(call_for<task::PauseRequest>(ts, "Pause", "app").code == RpcCode::kInternal);
  CHECK(state(ts, "app").status() == containerd::v1::types::RUNNING);
  // An exec created while the container runs cannot start while it is paused (it would be frozen at once).
  task::ExecProcessRequest ex;
  ex.set_id("app");
  ex.set_exec_id("e1");
  ex.mutable_spec()->set_value(R"({"args":["/bin/true"],"cwd":"/"})");
  REQUIRE(call(ts, "Exec", ex).code == RpcCode::kOk);
  REQUIRE(call_for<task::PauseRequest>(ts, "Pause", "app").code == RpcCode::kOk);
  task::StartRequest se;
  se.set_id("app");
  se.set_exec_id("e1");
  CHECK(call(ts, "Start", se).code == RpcCode::kFailedPrecondition);
  REQUIRE(call_for<task::ResumeRequest>(ts, "Resume", "app").code == RpcCode::kOk);
  CHECK(call(ts, "Start", se).code == RpcCode::kOk);
  pod.zone->exit(2, 0);
  task::WaitRequest we;
  we.set_id("app");
  we.set_exec_id("e1");
  CHECK(call(ts, "Wait", we).code == RpcCode::kOk);
  task::DeleteRequest de;
  de.set_id("app");
  de.set_exec_id("e1");
  CHECK(call(ts, "Delete", de).code == RpcCode::kOk);
  pod.zone->exit(1, 0);
  CHECK(wait_exit(ts, "app", 5s) == 0);
  end_pod(ts, pod);
}
