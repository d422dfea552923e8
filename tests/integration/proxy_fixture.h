// Integration-test fixtures: a real gpu-proxy daemon process (stub mode: --driver sim) in a private directory,
// and a raw protocol zone that speaks IDM directly (so tests can also send what a real libvgpu never would).
#pragma once

#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "gpu-proxy/admin_client.h"
#include "idm/codec.h"
#include "cuda/cuda_abi.h"
#include "idm/transport_shm.h"

namespace xg::test {

class ProxyProcess {
 public:
  explicit ProxyProcess(std::vector<std::string> extra = {}) {
    dir_ = "/tmp/xg-proxy-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++);
    ::mkdir(dir_.c_str(), 0700);
    std::vector<std::string> args = {XG_GPU_PROXY_BIN, "--driver", "sim", "--socket", zone_socket(),
                                     "--admin-socket", admin_socket()};
    args.insert(args.end(), extra.begin(), extra.end());
    const std::string log = dir_ + "/proxy.log";
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // a crashed test must not leave its proxy behind
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      FILE* f = std::freopen(log.c_str(), "w", stderr);
      (void)f;
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    for (int i = 0; i < 500 && ::access(admin_socket().c_str(), F_OK) != 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ~ProxyProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  [[nodiscard]] std::string zone_socket() const { return dir_ + "/zone.sock"; }
  [[nodiscard]] std::string admin_socket() const { return dir_ + "/admin.sock"; }
  [[nodiscard]] std::string log() const {
    std::string out;
    if (FILE* f = std::fopen((dir_ + "/proxy.log").c_str(), "r")) {
      char buf[4096];
      size_t n;
      while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
      std::fclose(f);
    }
    return out;
  }
  [[nodiscard]] bool alive() const { return pid_ > 0 && ::kill(pid_, 0) == 0 && !reaped(); }
  [[nodiscard]] pid_t pid() const { return pid_; }
  // The admin socket's answer to `zones`.
  [[nodiscard]] std::string zones() const {
    std::string err;
    auto a = proxy::AdminClient::connect(admin_socket(), err);
    if (!a) return "";
    return a->request("zones").value_or("");
  }

 private:
  bool reaped() const {
    int st;
    return ::waitpid(pid_, &st, WNOHANG) == pid_;
  }
  static int& counter() {
    static int c = 0;
    return c;
  }
  std::string dir_;
  pid_t pid_ = -1;
};

// A zone speaking raw IDM: calls return the CUresult and the response payload.
class RawZone {
 public:
  RawZone(const std::string& socket, const std::string& name) {
    auto zc = idm::connect_zone(socket, name, 0, std::chrono::seconds(10));
    if (zc) conn_ = std::move(zc.value());
    rx_.resize(64 * 1024);
  }
  [[nodiscard]] bool ok() const { return conn_.endpoint != nullptr; }
  idm::Channel& channel() { return conn_.endpoint->channel; }
  [[nodiscard]] uint32_t zone_id() const { return conn_.zone_id; }

  struct Answer {
    CUresult result = CUDA_ERROR_UNKNOWN;
    std::vector<std::byte> payload;
    template <typename T>
    T as() const {
      T v{};
      if (!payload.empty()) std::memcpy(&v, payload.data(), std::min(sizeof v, payload.size()));
      return v;
    }
  };

  template <idm::Op op>
  Answer call(const typename idm::OpTraits<op>::Request& r, std::span<const std::byte> tail = {}) {
    const uint32_t seq = seq_++;
    if (idm::send_request<op>(channel().tx(), seq, r, tail, deadline()) != idm::Error::kOk) return {};
    return wait(seq);
  }
  template <idm::Op op>
  bool post(const typename idm::OpTraits<op>::Request& r, std::span<const std::byte> tail = {}) {
    return idm::send_request<op>(channel().tx(), seq_++, r, tail, deadline()) == idm::Error::kOk;
  }
  // Raw bytes onto the request ring (hostile tests).
  bool raw(std::span<const std::byte> bytes) { return channel().tx().push(bytes, deadline()) == idm::Error::kOk; }
  Answer wait(uint32_t seq) {
    for (;;) {
      auto n = channel().rx().pop(rx_, deadline());
      if (!n) return {};
      auto m = idm::decode(std::span(rx_).first(*n), idm::Direction::kResponse, idm::Path::kRing);
      if (!m) return {};
      if (m->header.seq != seq) continue;  // answer to an earlier raw request
      Answer a;
      a.result = static_cast<CUresult>(m->header.result);
      a.payload.assign(m->payload.begin(), m->payload.end());
      return a;
    }
  }

  // Conveniences for the common set-up.
  uint64_t ctx = 0;
  bool init() {
    if (call<idm::Op::Init>({0, 0}).result != CUDA_SUCCESS) return false;
    auto a = call<idm::Op::PrimaryCtxRetain>({0, 0});
    ctx = a.as<idm::CtxRsp>().ctx;
    return a.result == CUDA_SUCCESS;
  }
  std::pair<CUresult, uint64_t> alloc(uint64_t bytes) {
    auto a = call<idm::Op::MemAlloc>({ctx, bytes});
    return {a.result, a.as<idm::U64Rsp>().value};
  }
  CUresult htod(uint64_t dst, std::span<const std::byte> bytes) {
    return call<idm::Op::MemcpyHtoD>({ctx, 0, dst, bytes.size(), 0, 0, 0, 0}, bytes).result;
  }
  std::pair<CUresult, std::vector<std::byte>> dtoh(uint64_t src, uint64_t bytes) {
    auto a = call<idm::Op::MemcpyDtoH>({ctx, 0, src, bytes, 0, 0, 0, 0});
    return {a.result, a.payload};
  }

 private:
  static std::chrono::steady_clock::time_point deadline() {
    return std::chrono::steady_clock::now() + std::chrono::seconds(20);
  }
  idm::ZoneConnection conn_;
  std::vector<std::byte> rx_;
  uint32_t seq_ = 1;
};

}  // namespace xg::test
