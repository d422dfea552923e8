#include "gpu-proxy/worker/worker_main.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <string>

#include "gpu-proxy/control.h"
#include "gpu-proxy/worker/worker.h"
#include "idm/log.h"
#include "idm/transport_shm.h"

namespace xg::proxy {
namespace {

std::atomic<bool> g_stop{false};
void on_term(int) { g_stop.store(true); }

bool wait_byte(int fd, char& out, int timeout_ms) {
  idm::UniqueFd none;
  std::array<std::byte, 1> b{};
  auto n = idm::recv_packet(fd, b, nullptr, std::chrono::milliseconds(timeout_ms));
  if (!n || *n != 1) return false;
  out = static_cast<char>(b[0]);
  return true;
}

}  // namespace

int worker_main(const std::string& driver_path) {
  // Keep the worker's rights small: it dies with the daemon, never gains privileges through exec.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  struct sigaction sa{};
  sa.sa_handler = on_term;
  ::sigaction(SIGTERM, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  void* p = ::mmap(nullptr, kControlPageBytes, PROT_READ | PROT_WRITE, MAP_SHARED, kWorkerPageFd, 0);
  if (p == MAP_FAILED) return 2;
  auto* page = static_cast<ControlPage*>(p);
  ::close(kWorkerPageFd);

  // 1. The zone's Hello: hostile bytes, parsed here and not in the daemon.
  auto reg = idm::read_hello(idm::UniqueFd(kWorkerZoneFd), std::chrono::seconds(5));
  if (!reg) return 3;
  std::memset(page->name, 0, sizeof page->name);
  std::memcpy(page->name, reg->name.data(), std::min(reg->name.size(), sizeof page->name - 1));
  page->zone_pid.store(reg->hello.pid);
  page->requested_quota.store(reg->hello.requested_quota);
  page->state.store(static_cast<uint32_t>(WorkerState::kRegistered));
  const char r = kRegistered;
  if (idm::send_packet(kWorkerControlFd, std::as_bytes(std::span(&r, 1))) != idm::Error::kOk) return 4;

  // 2. The daemon's decision.
  char decision = 0;
  if (!wait_byte(kWorkerControlFd, decision, 5000) || decision != kAccept) {
    idm::log_line("zone '" + reg->name + "' refused by policy");
    return 5;
  }
  WorkerLimits limits{page->quota_bytes.load(), page->zone_id.load()};
  idm::set_log_prefix("gpu-proxy[zone " + std::to_string(limits.zone_id) + " " + reg->name + "]");

  // 3. The driver, then the channel (a zone is welcomed only if its worker can serve it).
  std::string why;
  auto driver = DriverApi::load(driver_path, why);
  if (!driver) {
    idm::log_line("cannot load the driver: " + why);
    return 6;
  }
  const int zone_socket = reg->socket.get();
  auto ep = idm::welcome_zone(*reg, limits.zone_id, idm::ChannelGeometry{});
  if (!ep) {
    idm::log_line("cannot create the channel");
    return 7;
  }
  Worker worker(*driver, (*ep)->channel, zone_socket, limits, page);
  if (CUresult e = worker.start(); e != CUDA_SUCCESS) {
    idm::log_line("cuInit failed: " + std::to_string(e));
    return 8;
  }
  page->state.store(static_cast<uint32_t>(WorkerState::kServing));
  idm::log_line("serving (quota " + std::to_string(limits.quota_bytes) + " bytes, driver " + driver_path + ")");
  const idm::Error why_stopped = worker.serve(g_stop);
  page->state.store(static_cast<uint32_t>(WorkerState::kEnded));
  idm::log_line("zone ended: " + std::string(idm::error_name(why_stopped)) + "; " +
                std::to_string(worker.handles().live_count()) + " handles and " +
                std::to_string(worker.used_bytes()) + " bytes reclaimed with the worker");
  return 0;
}

}  // namespace xg::proxy
