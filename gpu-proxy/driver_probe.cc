#include "gpu-proxy/driver_probe.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <sstream>

#include "gpu-proxy/driver_api.h"
#include "idm/unique_fd.h"

namespace xg::proxy {

int probe_main(const std::string& driver_path) {
  std::string why;
  auto d = DriverApi::load(driver_path, why);
  if (!d) {
    std::fprintf(stderr, "probe: cannot load the driver: %s\n", why.c_str());
    return 1;
  }
  if (d->Init(0) != CUDA_SUCCESS) return 2;
  CUdevice dev = 0;
  if (d->DeviceGet(&dev, 0) != CUDA_SUCCESS) return 3;
  DriverFacts f;
  size_t total = 0;
  if (d->DeviceTotalMem) d->DeviceTotalMem(&total, dev);
  f.total_mem = total;
  char name[256] = {};
  if (d->DeviceGetName) d->DeviceGetName(name, sizeof name - 1, dev);
  f.name = name;
  if (d->DriverGetVersion) d->DriverGetVersion(&f.driver_version);
  // cuMemGetInfo needs a current context: the first one only makes asking possible; the second one's cost is the
  // figure (a process's first context may carry one-time costs a program pays once, whatever it does).
  CUcontext a = nullptr, b = nullptr;
  size_t free_a = 0, free_b = 0, t = 0;
  if (d->CtxCreate(&a, 0, dev) != CUDA_SUCCESS || d->MemGetInfo(&free_a, &t) != CUDA_SUCCESS) return 4;
  if (d->CtxCreate(&b, 0, dev) != CUDA_SUCCESS || d->MemGetInfo(&free_b, &t) != CUDA_SUCCESS) return 5;
  f.context_overhead = free_a > free_b ? free_a - free_b : 0;
  d->CtxDestroy(b);
  d->CtxDestroy(a);
  std::printf("total=%llu overhead=%llu version=%d name=%s\n", static_cast<unsigned long long>(f.total_mem),
              static_cast<unsigned long long>(f.context_overhead), f.driver_version, f.name.c_str());
  return 0;
}

std::optional<DriverFacts> parse_probe_line(const std::string& line) {
  DriverFacts f;
  unsigned long long total = 0, overhead = 0;
  int version = 0, name_at = -1;
  if (std::sscanf(line.c_str(), "total=%llu overhead=%llu version=%d name=%n", &total, &overhead, &version,
                  &name_at) != 3 ||
      name_at < 0)
    return std::nullopt;
  f.total_mem = total;
  f.context_overhead = overhead;
  f.driver_version = version;
  f.name = line.substr(static_cast<size_t>(name_at));
  while (!f.name.empty() && (f.name.back() == '\n' || f.name.back() == '\r')) f.name.pop_back();
  return f;
}

std::optional<DriverFacts> probe_driver(const std::string& self_exe, const std::string& driver_path,
                                        std::string& error) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) {
    error = "pipe";
    return std::nullopt;
  }
  idm::UniqueFd rd(p[0]), wr(p[1]);
  const pid_t pid = ::fork();
  if (pid < 0) {
    error = "fork";
    return std::nullopt;
  }
  if (pid == 0) {
    ::dup2(wr.get(), 1);
    const char* argv[] = {self_exe.c_str(), "--probe", "--driver", driver_path.c_str(), nullptr};
    ::execv(self_exe.c_str(), const_cast<char* const*>(argv));
    ::_exit(127);
  }
  wr.reset();
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  char buf[512];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd pfd{rd.get(), POLLIN, 0};
    if (left.count() <= 0 || ::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) {
      ::kill(pid, SIGKILL);
      error = "the driver probe did not finish within 60 s";
      break;
    }
    const ssize_t n = ::read(rd.get(), buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    if (error.empty()) error = "the driver probe failed (status " + std::to_string(status) + ")";
    return std::nullopt;
  }
  auto f = parse_probe_line(out);
  if (!f) error = "the driver probe answered '" + out + "'";
  return f;
}

}  // namespace xg::proxy
