// The shim's three modes: `start`, `delete`, and serving. See shim_main.cc.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include <google/protobuf/any.pb.h>
#include <google/protobuf/stubs/logging.h>

#include "cri-shim/bundle.h"
#include "cri-shim/pod_zone.h"
#include "cri-shim/proto/runtimeoptions.pb.h"
#include "cri-shim/proto/shim.pb.h"
#include "cri-shim/reaper.h"
#include "cri-shim/runc_client.h"
#include "cri-shim/shim_config.h"
#include "cri-shim/shim_main.h"
#include "cri-shim/task_service.h"
#include "cri-shim/ttrpc_server.h"
#include "cri-shim/xen_pod.h"

namespace xg::shim {
namespace {

// Where a started shim remembers the config file it was given (runtime options arrive on `start`'s stdin only),
// so that `delete` after a crash reads the same settings. Lives in the bundle, like everything we keep.
constexpr const char* kConfigPathFile = "xen-gpu-shim-config";
constexpr int kListenFd = 3;  // the ttrpc socket, from `start` to the shim it starts

struct Args {
  std::map<std::string, std::string> flags;
  std::string command;
  std::string get(const std::string& k) const {
    auto it = flags.find(k);
    return it == flags.end() ? "" : it->second;
  }
};

// Go's flag syntax, as containerd writes it: -name value, -name=value, --name value; -debug takes no value.
Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string s = argv[i];
    if (s.size() > 1 && s[0] == '-') {
      s.erase(0, s[1] == '-' ? 2 : 1);
      if (auto eq = s.find('='); eq != std::string::npos) {
        a.flags[s.substr(0, eq)] = s.substr(eq + 1);
      } else if (s == "debug" || s == "v") {
        a.flags[s] = "true";
      } else if (i + 1 < argc) {
        a.flags[s] = argv[++i];
      }
    } else if (a.command.empty()) {
      a.command = s;
    }
  }
  return a;
}

std::string cwd() {
  char buf[PATH_MAX];
  return ::getcwd(buf, sizeof buf) ? buf : ".";
}

std::string slurp(std::istream& in, size_t max) {
  std::string s;
  char buf[4096];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    s.append(buf, static_cast<size_t>(in.gcount()));
    if (s.size() > max) break;
  }
  return s;
}

// The shim's ttrpc socket for a pod: one per (containerd, namespace, pod), as containerd's own shims name theirs.
std::string socket_address(const ShimConfig& cfg, const std::string& address, const std::string& ns,
                           const std::string& group) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a: a name, not a secret
  for (unsigned char c : address + "/" + ns + "/" + group) h = (h ^ c) * 1099511628211ull;
  char name[32];
  std::snprintf(name, sizeof name, "xg-%016llx", static_cast<unsigned long long>(h));
  return "unix://" + cfg.socket_dir + "/" + name;
}

std::string socket_path(const std::string& address) { return address.substr(7); }

bool can_connect(const std::string& path) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.size() >= sizeof sa.sun_path) return false;
  std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  idm::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
}

idm::UniqueFd listen_stream(const std::string& path, std::string& error) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.size() >= sizeof sa.sun_path) {
    error = "socket path too long: " + path;
    return {};
  }
  std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  idm::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM, 0));  // no CLOEXEC: the serving shim inherits it
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(fd.get(), 64) != 0) {
    error = "listen on " + path + ": " + std::strerror(errno);
    return {};
  }
  ::chmod(path.c_str(), 0600);  // containerd's, nobody else's
  return fd;
}

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::trunc);
  f << text;
  return static_cast<bool>(f);
}

// `start`: containerd runs it in the new container's bundle and reads our stdout for the shim's address.
int cmd_start(const Args& a) {
  const std::string ns = a.get("namespace"), id = a.get("id"), address = a.get("address");
  // Runtime options on stdin (Any): our config file may be named there.
  std::string config_path;
  const std::string in = slurp(std::cin, 1 << 20);
  google::protobuf::Any any;
  if (!in.empty() && any.ParseFromString(in) && any.type_url().ends_with("runtimeoptions.v1.Options")) {
    runtimeoptions::v1::Options o;
    if (o.ParseFromString(any.value())) config_path = o.config_path();
  }
  ShimConfig cfg;
  std::string error;
  if (!load_shim_config_for(config_path, cfg, error)) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return 1;
  }
  if (config_path.empty()) {
    if (const char* env = std::getenv("XEN_GPU_SHIM_CONFIG")) config_path = env;
  }
  (void)write_file(kConfigPathFile, config_path);
  // One shim per pod: a pod's containers go to the shim of its sandbox.
  std::string group = id;
  if (auto spec = read_spec(cwd(), error)) {
    const auto ann = spec_annotations(*spec);
    auto type = ann.find(kAnnotationContainerType), sb = ann.find(kAnnotationSandboxId);
    if (type != ann.end() && type->second == "container" && sb != ann.end()) group = sb->second;
  }
  const std::string addr = socket_address(cfg, address, ns, group);
  const std::string path = socket_path(addr);
  if (can_connect(path)) {
    (void)write_file("address", addr);
    std::printf("%s", addr.c_str());
    return 0;
  }
  ::mkdir(cfg.socket_dir.c_str(), 0711);
  ::unlink(path.c_str());  // nobody answers there: a dead shim's
  idm::UniqueFd l = listen_stream(path, error);
  if (!l.valid()) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return 1;
  }
  char self[PATH_MAX] = {};
  if (::readlink("/proc/self/exe", self, sizeof self - 1) <= 0) return 1;
  const pid_t pid = ::fork();
  if (pid < 0) return 1;
  if (pid == 0) {
    ::setsid();
    ::dup2(l.get(), kListenFd);
    const int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    for (int fd = kListenFd + 1; fd < 1024; ++fd) ::close(fd);
    if (!config_path.empty()) ::setenv("XEN_GPU_SHIM_CONFIG", config_path.c_str(), 1);
    std::vector<std::string> args = {self, "-namespace", ns, "-id", id, "-address", address, "-publish-binary",
                                     a.get("publish-binary")};
    std::vector<char*> argv;
    for (auto& s : args) argv.push_back(s.data());
    argv.push_back(nullptr);
    ::execv(self, argv.data());
    ::_exit(127);
  }
  (void)write_file("address", addr);
  std::printf("%s", addr.c_str());
  return 0;
}

// `delete`: the shim of this container died (or never answered). Everything needed is in the bundle, runc's
// root and gpu-proxy: remove the runc container (killing what is left of it), unmount its rootfs, end the pod's
// zone if this was the pod's sandbox (in Xen mode also destroying its domain, found by the zone's name); answer
// a DeleteResponse on stdout.
int cmd_delete(const Args& a) {
  Reaper::block_sigchld();
  Reaper::instance().start();
  const std::string bundle = a.get("bundle").empty() ? cwd() : a.get("bundle");
  const std::string id = a.get("id"), ns = a.get("namespace");
  std::string config_path, error;
  {
    std::ifstream f(bundle + "/" + kConfigPathFile);
    std::getline(f, config_path);
  }
  ShimConfig cfg;
  if (!load_shim_config_for(config_path, cfg, error)) std::fprintf(stderr, "%s (using defaults)\n", error.c_str());
  Runc runc(cfg.runc, cfg.runc_root + "/" + ns);
  const RuncResult rr = runc.remove(id, true);
  if (!rr.ok) std::fprintf(stderr, "runc delete %s: %s\n", id.c_str(), rr.error.c_str());
  unmount_rootfs(bundle);
  // The dead shim's socket (`start` wrote its address into the bundle), unless a live shim still answers there.
  {
    std::ifstream f(bundle + "/address");
    std::string addr;
    if (std::getline(f, addr) && addr.rfind("unix://", 0) == 0 && !can_connect(socket_path(addr)))
      ::unlink(socket_path(addr).c_str());
  }
  if (auto spec = read_spec(bundle, error)) {
    const auto ann = spec_annotations(*spec);
    auto type = ann.find(kAnnotationContainerType);
    const bool pod_owner = type == ann.end() || type->second == "sandbox";
    if (pod_owner) {
      // The zone's name as Create computed it (the same function, the same annotations).
      auto zs = zone_spec_for(ann, ns, id, cfg);
      if (auto* s = std::get_if<ZoneSpec>(&zs)) {
        // Xen mode: the pod's domain bears the zone's name; a dead shim left it running.
        if (resolve_mode(cfg.mode) == ShimMode::kXen) {
          if (auto domain = XenPod::adopt(s->name, cfg.xl)) {
            std::fprintf(stderr, "destroying domain %s (%u), left by a dead shim\n", s->name.c_str(), domain->domid());
            domain->destroy();
          }
        }
        destroy_zone(cfg.admin_socket, s->name);
      }
    }
  }
  containerd::task::v2::DeleteResponse resp;
  resp.set_exit_status(128 + SIGKILL);
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  resp.mutable_exited_at()->set_seconds(std::chrono::duration_cast<std::chrono::seconds>(now).count());
  const std::string out = resp.SerializeAsString();
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  std::fflush(stderr);
  // Not a return from main: the reaper thread is still inside the static Reaper that exit() would destroy.
  ::_exit(0);
}

// The shim proper.
int cmd_serve(const Args& a) {
  // A malformed request is answered INVALID_ARGUMENT; protobuf's own log line for it (per bad string) would let
  // any client of the socket fill containerd's log.
  google::protobuf::SetLogHandler(nullptr);
  Reaper::block_sigchld();
  ::signal(SIGPIPE, SIG_IGN);
  // Containers' processes are reparented to us when runc exits, so we can wait for them.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  // containerd reads our log from the bundle's "log" FIFO (it opened the reading end before running `start`).
  const int log = ::open("log", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (log >= 0) {
    ::fcntl(log, F_SETFL, 0);
    ::dup2(log, 2);
    ::close(log);
  }
  Reaper::instance().start();
  ShimConfig cfg;
  std::string error;
  if (!load_shim_config_for("", cfg, error)) {
    std::fprintf(stderr, "xen-gpu shim: %s\n", error.c_str());
    return 1;
  }
  TtrpcServer* server_ptr = nullptr;
  TaskService service({a.get("namespace"), a.get("address"), a.get("publish-binary")}, cfg,
                      [&] { if (server_ptr) server_ptr->stop(); });
  TtrpcServer server(idm::UniqueFd(kListenFd),
                     [&](const std::string& s, const std::string& m, const std::string& p) { return service.dispatch(s, m, p); });
  server_ptr = &server;
  server.serve();
  service.finish();
  // Our socket goes with us; calls still in flight on other threads end with the process.
  char path[PATH_MAX] = {};
  sockaddr_un sa{};
  socklen_t len = sizeof sa;
  if (::getsockname(kListenFd, reinterpret_cast<sockaddr*>(&sa), &len) == 0) std::snprintf(path, sizeof path, "%s", sa.sun_path);
  if (path[0]) ::unlink(path);
  std::fflush(stderr);
  ::_exit(0);
}

}  // namespace

int shim_main(int argc, char** argv) {
  const Args a = parse_args(argc, argv);
  if (a.command == "start") return cmd_start(a);
  if (a.command == "delete") return cmd_delete(a);
  if (a.command.empty() && !a.get("namespace").empty()) return cmd_serve(a);
  std::fprintf(stderr, "usage: containerd-shim-xen-gpu-v1 -namespace NS -address ADDR -publish-binary BIN -id ID "
                       "[-bundle DIR] start|delete\n(containerd runs this; see README.md, \"Kubernetes\")\n");
  return 2;
}

}  // namespace xg::shim
