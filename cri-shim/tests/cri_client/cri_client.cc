// xg-cri-client: a few of kubelet's CRI calls, for tests: talks gRPC to containerd's CRI plugin as kubelet does.
//   xg-cri-client -e unix:///run/containerd/containerd.sock POD-FLAGS run-pod               -> prints the pod id
//   ... POD-FLAGS create POD_ID NAME IMAGE [CONTAINER-FLAGS]... -- CMD ARGS...             -> prints the container id
//   ... start CID | exec CID CMD ARGS... | status CID | stop CID | rm CID | stop-pod POD_ID | rm-pod POD_ID
//   ... stats CID          -> "cpu_usage_core_nano_seconds=N memory_working_set_bytes=N" (CRI ContainerStats)
//   ... update CID [--memory BYTES] [--cpu-quota US] [--cpu-period US] [--cpu-shares N]  (UpdateContainerResources)
// CONTAINER-FLAGS: --env K=V, --memory BYTES, --cpu-quota US, --cpu-period US, --cpu-shares N, --cap-add CAP,
// --cap-drop CAP (CRI's names: CHOWN, ALL), --group GID (supplemental), --no-new-privs,
// --seccomp runtime-default|unconfined (the container's seccomp profile, as kubelet asks for it),
// --mount HOST:CONTAINER[:ro] (a CRI mount: a host file or directory bound at CONTAINER, read-only with :ro).
// POD-FLAGS (the pod's sandbox config, sent again with each CreateContainer as kubelet does): --name N
// --namespace NS [--uid U] [--annotation K=V]... [--log-dir DIR] [--handler xen-gpu]. Pods use the host's network
// (no CNI in tests). exec prints the command's stdout, its stderr to stderr, and exits with its exit code.
#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "cri_api.grpc.pb.h"

namespace {

namespace cri = runtime::v1;

struct PodFlags {
  std::string name, ns, uid, log_dir, handler = "xen-gpu";
  std::vector<std::pair<std::string, std::string>> annotations;
};

cri::PodSandboxConfig pod_config(const PodFlags& f) {
  cri::PodSandboxConfig c;
  c.mutable_metadata()->set_name(f.name);
  c.mutable_metadata()->set_namespace_(f.ns);
  c.mutable_metadata()->set_uid(f.uid.empty() ? f.ns + "-" + f.name + "-uid" : f.uid);
  // No hostname: kubelet leaves it empty for host-network pods (there is no UTS namespace of the pod's own).
  c.set_log_directory(f.log_dir);
  for (const auto& [k, v] : f.annotations) (*c.mutable_annotations())[k] = v;
  // Host network: no CNI plugin in tests (kubelet does the same for hostNetwork pods).
  c.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_network(cri::NODE);
  return c;
}

bool split_kv(const std::string& s, std::pair<std::string, std::string>& kv) {
  const auto eq = s.find('=');
  if (eq == std::string::npos) return false;
  kv = {s.substr(0, eq), s.substr(eq + 1)};
  return true;
}

int fail(const grpc::Status& s, const char* what) {
  std::fprintf(stderr, "%s: %s\n", what, s.error_message().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> a(argv + 1, argv + argc);
  std::string endpoint;
  PodFlags pf;
  size_t i = 0;
  for (; i < a.size(); ++i) {
    const std::string& s = a[i];
    auto next = [&]() -> std::string { return i + 1 < a.size() ? a[++i] : ""; };
    if (s == "-e" || s == "--endpoint") endpoint = next();
    else if (s == "--name") pf.name = next();
    else if (s == "--namespace") pf.ns = next();
    else if (s == "--uid") pf.uid = next();
    else if (s == "--log-dir") pf.log_dir = next();
    else if (s == "--handler") pf.handler = next();
    else if (s == "--annotation") {
      std::pair<std::string, std::string> kv;
      if (!split_kv(next(), kv)) return 2;
      pf.annotations.push_back(kv);
    } else break;
  }
  if (endpoint.empty() || i >= a.size()) {
    std::fprintf(stderr, "usage: xg-cri-client -e ENDPOINT [POD-FLAGS] COMMAND ... (see the source's header)\n");
    return 2;
  }
  const std::string cmd = a[i++];
  auto channel = grpc::CreateChannel(endpoint, grpc::InsecureChannelCredentials());
  auto rt = cri::RuntimeService::NewStub(channel);
  grpc::ClientContext ctx;
  // kubelet's default --runtime-request-timeout: a Xen pod's first StartContainer waits for its zone to boot.
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  grpc::Status st;
  auto arg = [&](size_t k) { return i + k < a.size() ? a[i + k] : std::string(); };

  if (cmd == "run-pod") {
    cri::RunPodSandboxRequest req;
    *req.mutable_config() = pod_config(pf);
    req.set_runtime_handler(pf.handler);
    cri::RunPodSandboxResponse resp;
    if (!(st = rt->RunPodSandbox(&ctx, req, &resp)).ok()) return fail(st, "RunPodSandbox");
    std::printf("%s\n", resp.pod_sandbox_id().c_str());
    return 0;
  }
  if (cmd == "create") {
    cri::CreateContainerRequest req;
    req.set_pod_sandbox_id(arg(0));
    *req.mutable_sandbox_config() = pod_config(pf);
    auto* c = req.mutable_config();
    c->mutable_metadata()->set_name(arg(1));
    c->mutable_image()->set_image(arg(2));
    c->set_log_path(arg(1) + ".log");
    size_t k = i + 3;
    // Made only when a flag asks (unset, as before, otherwise).
    auto res = [&] { return c->mutable_linux()->mutable_resources(); };
    auto sec = [&] { return c->mutable_linux()->mutable_security_context(); };
    for (; k < a.size() && a[k] != "--"; ++k) {
      std::pair<std::string, std::string> kv;
      const std::string& f = a[k];
      const std::string v = k + 1 < a.size() ? a[k + 1] : "";
      if (f == "--no-new-privs") {
        sec()->set_no_new_privs(true);
        continue;
      }
      ++k;  // every other flag takes a value
      if (f == "--env" && split_kv(v, kv)) {
        auto* e = c->add_envs();
        e->set_key(kv.first);
        e->set_value(kv.second);
      } else if (f == "--memory") res()->set_memory_limit_in_bytes(std::stoll(v));
      else if (f == "--cpu-quota") res()->set_cpu_quota(std::stoll(v));
      else if (f == "--cpu-period") res()->set_cpu_period(std::stoll(v));
      else if (f == "--cpu-shares") res()->set_cpu_shares(std::stoll(v));
      else if (f == "--cap-add") sec()->mutable_capabilities()->add_add_capabilities(v);
      else if (f == "--cap-drop") sec()->mutable_capabilities()->add_drop_capabilities(v);
      else if (f == "--group") sec()->add_supplemental_groups(std::stoll(v));
      else if (f == "--seccomp" && v == "runtime-default")  // containerd's default profile, as kubelet asks for it
        sec()->mutable_seccomp()->set_profile_type(cri::SecurityProfile::RuntimeDefault);
      else if (f == "--seccomp" && v == "unconfined")
        sec()->mutable_seccomp()->set_profile_type(cri::SecurityProfile::Unconfined);
      else if (f == "--mount") {
        const size_t colon = v.find(':');
        if (colon == std::string::npos || colon == 0 || colon + 1 == v.size()) {
          std::fprintf(stderr, "--mount wants HOST:CONTAINER[:ro], not %s\n", v.c_str());
          return 2;
        }
        std::string dst = v.substr(colon + 1);
        bool ro = false;
        if (dst.size() > 3 && dst.compare(dst.size() - 3, 3, ":ro") == 0) {
          ro = true;
          dst.resize(dst.size() - 3);
        }
        auto* m = c->add_mounts();
        m->set_host_path(v.substr(0, colon));
        m->set_container_path(dst);
        m->set_readonly(ro);
      } else {
        std::fprintf(stderr, "unknown container flag %s\n", f.c_str());
        return 2;
      }
    }
    for (++k; k < a.size(); ++k) c->add_command(a[k]);
    cri::CreateContainerResponse resp;
    if (!(st = rt->CreateContainer(&ctx, req, &resp)).ok()) return fail(st, "CreateContainer");
    std::printf("%s\n", resp.container_id().c_str());
    return 0;
  }
  if (cmd == "start") {
    cri::StartContainerRequest req;
    req.set_container_id(arg(0));
    cri::StartContainerResponse resp;
    if (!(st = rt->StartContainer(&ctx, req, &resp)).ok()) return fail(st, "StartContainer");
    return 0;
  }
  if (cmd == "exec") {
    cri::ExecSyncRequest req;
    req.set_container_id(arg(0));
    for (size_t k = i + 1; k < a.size(); ++k) req.add_cmd(a[k]);
    req.set_timeout(60);
    cri::ExecSyncResponse resp;
    if (!(st = rt->ExecSync(&ctx, req, &resp)).ok()) return fail(st, "ExecSync");
    std::fwrite(resp.stdout().data(), 1, resp.stdout().size(), stdout);
    std::fwrite(resp.stderr().data(), 1, resp.stderr().size(), stderr);
    return resp.exit_code();
  }
  if (cmd == "update") {
    cri::UpdateContainerResourcesRequest req;
    req.set_container_id(arg(0));
    auto* res = req.mutable_linux();
    for (size_t k = i + 1; k + 1 < a.size(); k += 2) {
      const std::string& f = a[k];
      const long long v = std::stoll(a[k + 1]);
      if (f == "--memory") res->set_memory_limit_in_bytes(v);
      else if (f == "--cpu-quota") res->set_cpu_quota(v);
      else if (f == "--cpu-period") res->set_cpu_period(v);
      else if (f == "--cpu-shares") res->set_cpu_shares(v);
      else {
        std::fprintf(stderr, "unknown update flag %s\n", f.c_str());
        return 2;
      }
    }
    cri::UpdateContainerResourcesResponse resp;
    if (!(st = rt->UpdateContainerResources(&ctx, req, &resp)).ok()) return fail(st, "UpdateContainerResources");
    return 0;
  }
  if (cmd == "stats") {
    cri::ContainerStatsRequest req;
    req.set_container_id(arg(0));
    cri::ContainerStatsResponse resp;
    if (!(st = rt->ContainerStats(&ctx, req, &resp)).ok()) return fail(st, "ContainerStats");
    const auto& s = resp.stats();
    std::printf("cpu_usage_core_nano_seconds=%llu memory_working_set_bytes=%llu\n",
                static_cast<unsigned long long>(s.cpu().usage_core_nano_seconds().value()),
                static_cast<unsigned long long>(s.memory().working_set_bytes().value()));
    return 0;
  }
  if (cmd == "status") {
    cri::ContainerStatusRequest req;
    req.set_container_id(arg(0));
    cri::ContainerStatusResponse resp;
    if (!(st = rt->ContainerStatus(&ctx, req, &resp)).ok()) return fail(st, "ContainerStatus");
    std::printf("%s exit_code=%d reason=%s\n", cri::ContainerState_Name(resp.status().state()).c_str(),
                resp.status().exit_code(), resp.status().reason().c_str());
    return 0;
  }
  if (cmd == "stop") {
    cri::StopContainerRequest req;
    req.set_container_id(arg(0));
    req.set_timeout(5);
    cri::StopContainerResponse resp;
    if (!(st = rt->StopContainer(&ctx, req, &resp)).ok()) return fail(st, "StopContainer");
    return 0;
  }
  if (cmd == "rm") {
    cri::RemoveContainerRequest req;
    req.set_container_id(arg(0));
    cri::RemoveContainerResponse resp;
    if (!(st = rt->RemoveContainer(&ctx, req, &resp)).ok()) return fail(st, "RemoveContainer");
    return 0;
  }
  if (cmd == "stop-pod") {
    cri::StopPodSandboxRequest req;
    req.set_pod_sandbox_id(arg(0));
    cri::StopPodSandboxResponse resp;
    if (!(st = rt->StopPodSandbox(&ctx, req, &resp)).ok()) return fail(st, "StopPodSandbox");
    return 0;
  }
  if (cmd == "rm-pod") {
    cri::RemovePodSandboxRequest req;
    req.set_pod_sandbox_id(arg(0));
    cri::RemovePodSandboxResponse resp;
    if (!(st = rt->RemovePodSandbox(&ctx, req, &resp)).ok()) return fail(st, "RemovePodSandbox");
    return 0;
  }
  std::fprintf(stderr, "unknown command %s\n", cmd.c_str());
  return 2;
}
