#include "gpu-proxy/worker/worker_main.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

#include "gpu-proxy/control.h"
#include "gpu-proxy/op_profile.h"
#include "gpu-proxy/worker/worker.h"
#include "gpu-proxy/worker/worker_sandbox.h"
#include "idm/log.h"
#include "idm/transport_shm.h"
#ifdef XG_HAVE_XEN_TRANSPORT
#include "idm/xen/transport_xen.h"
#include "idm/xen/xen_c.h"
#endif

namespace xg::proxy {
namespace {

std::atomic<bool> g_stop{false};
void on_term(int) { g_stop.store(true); }

// From here on the worker parses the program's requests: the system-call filter goes on first. It comes after
// cuInit because a driver may start helpers there (the NVIDIA driver can exec nvidia-modprobe to create missing
// device files); the filter refuses that from now on.
void restrict_syscalls() {
  if (install_worker_syscall_filter())
    idm::log_line("system-call filter on (no exec, fork, ptrace, mounts, namespaces, module loading, bpf, io_uring)");
  else
    idm::log_line("warning: no system-call filter (seccomp unavailable here); serving without it");
}

bool wait_byte(int fd, char& out, int timeout_ms) {
  idm::UniqueFd none;
  std::array<std::byte, 1> b{};
  auto n = idm::recv_packet(fd, b, nullptr, std::chrono::milliseconds(timeout_ms));
  if (!n || *n != 1) return false;
  out = static_cast<char>(b[0]);
  return true;
}

// XG_LOG_PROFILE=1 (the daemon's environment; `make bench-gpu` sets it): the worker's per-opcode profile, most
// time first, in the log when its program ends.
void log_profile(const ControlPage& page, std::string_view zone) {
  const char* on = std::getenv("XG_LOG_PROFILE");
  if (on == nullptr || std::string_view(on) != "1") return;
  const std::string table = format_profile(page, zone, 12);
  for (size_t at = 0, nl; (nl = table.find('\n', at)) != std::string::npos; at = nl + 1)
    idm::log_line("profile: " + table.substr(at, nl - at));
}

#ifdef XG_HAVE_XEN_TRANSPORT
// A Xen zone (the daemon set XG_WORKER_XEN_DOMID): no Hello; the daemon filled name, quota, weight and zone id
// in the control page before starting us. We are the Xen backend of device 0 of that domain: one program of the
// zone connects at a time (libvgpu's connect_frontend). When that program's channel ends while the domain
// lives on, we exit with kWorkerNextProgram and the daemon starts a fresh worker for the next program (fresh
// driver state, exactly as for a new shm zone process); when the domain is gone, we exit 0.
int xen_worker_main(const std::string& driver_path, uint32_t domid, ControlPage* page) {
  char name_buf[sizeof page->name + 1] = {};
  std::memcpy(name_buf, page->name, sizeof page->name);
  WorkerLimits limits{page->quota_bytes.load(), page->zone_id.load()};
  limits.objects = load_limits(*page);
  idm::set_log_prefix("gpu-proxy[zone " + std::to_string(limits.zone_id) + " " + name_buf + " domid " +
                      std::to_string(domid) + "]");
  std::string why;
  auto driver = DriverApi::load(driver_path, why);
  if (!driver) {
    idm::log_line("cannot load the driver: " + why);
    return 6;
  }
  idm::xen::BackendOptions bo;
  bo.frontend_domid = domid;
  bo.devid = 0;
  // Creating the nodes right after the previous program's teardown has been seen to fail once in a while on
  // xenstored (a late write of the old frontend racing our rewrite): retry briefly.
  auto domain_exists = [&] {
    auto xs = idm::xen::xs_connect();
    return !xs || ::xs_is_domain_introduced(xs.get(), domid);  // false once the domain is being destroyed
  };
  auto backend = idm::xen::Backend::create(bo);
  for (int i = 0; !backend && i < 30 && !g_stop.load(); ++i) {
    if (!domain_exists()) {
      page->state.store(static_cast<uint32_t>(WorkerState::kEnded));
      idm::log_line("zone ended: domain " + std::to_string(domid) + " is gone");
      return 0;
    }
    ::usleep(100'000);
    backend = idm::xen::Backend::create(bo);
  }
  if (!backend) {
    idm::log_line("cannot create the xenstore nodes for domain " + std::to_string(domid));
    return 9;
  }
  page->state.store(static_cast<uint32_t>(WorkerState::kRegistered));
  std::unique_ptr<idm::Endpoint> ep;
  while (!g_stop.load()) {
    auto r = (*backend)->accept(idm::xen::Clock::now() + std::chrono::milliseconds(500));
    if (r) {
      ep = std::move(r.value());
      break;
    }
    if (r.error() == idm::Error::kPeerGone) {
      page->state.store(static_cast<uint32_t>(WorkerState::kEnded));
      idm::log_line("zone ended: domain " + std::to_string(domid) + " is gone");
      return 0;
    }
    // kTimeout: nobody yet; kInvalidField: a rejected handshake (logged, nodes reset): wait for the next one.
  }
  if (!ep) return 0;  // SIGTERM
  // No zone socket over Xen: pinned host memory is pages the zone lends (granted), mapped by ep's borrower.
  auto worker = std::make_unique<Worker>(*driver, *ep, /*zone_socket=*/-1, limits, page);
  if (CUresult e = worker->start(); e != CUDA_SUCCESS) {
    idm::log_line("cuInit failed: " + std::to_string(e));
    return 8;
  }
  restrict_syscalls();
  page->state.store(static_cast<uint32_t>(WorkerState::kServing));
  idm::log_line("serving a program of domain " + std::to_string(domid) + " over Xen (quota " +
                std::to_string(limits.quota_bytes) + " bytes, driver " + driver_path + ")");
  const idm::Error why_stopped = worker->serve(g_stop);
  const bool alive = (*backend)->domain_alive();
  log_profile(*page, name_buf);
  idm::log_line(std::string(alive ? "program ended: " : "zone ended: ") +
                std::string(idm::error_name(why_stopped)) + "; " + std::to_string(worker->handles().live_count()) +
                " handles and " + std::to_string(worker->used_bytes()) + " bytes reclaimed");
  worker.reset();  // unregisters and unmaps the pages the program lent
  ep.reset();      // unmap, unbind: the frontend sees Closing -> Closed
  if (!alive || g_stop.load()) {
    page->state.store(static_cast<uint32_t>(WorkerState::kEnded));
    return 0;
  }
  // Let the old frontend finish closing (bounded) so that its late "Closed" cannot land on the next nodes.
  const std::string fe = (*backend)->paths().frontend;
  if (auto xs = idm::xen::xs_connect()) {
    for (int i = 0; i < 40; ++i) {
      const idm::xen::LinkState s = idm::xen::xs_state(xs.get(), fe);
      if (s == idm::xen::LinkState::kClosed || s == idm::xen::LinkState::kUnknown) break;
      ::usleep(25'000);
    }
  }
  page->state.store(static_cast<uint32_t>(WorkerState::kEnded));
  return kWorkerNextProgram;  // ~Backend removes both nodes; the daemon starts the next worker, which rewrites them
}
#endif

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
  if (const char* xd = std::getenv("XG_WORKER_XEN_DOMID"); xd != nullptr && *xd != '\0') {
#ifdef XG_HAVE_XEN_TRANSPORT
    char* end = nullptr;
    const unsigned long domid = std::strtoul(xd, &end, 10);
    if (*end != '\0' || domid > 0x7FEFu) return 2;
    ::close(kWorkerPageFd);
    return xen_worker_main(driver_path, static_cast<uint32_t>(domid), page);
#else
    idm::log_line("this gpu-proxy was built without the Xen transport (libxen-dev)");
    return 2;
#endif
  }
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
  limits.objects = load_limits(*page);
  idm::set_log_prefix("gpu-proxy[zone " + std::to_string(limits.zone_id) + " " + reg->name + "]");

  // 3. The driver, then the channel (a zone is welcomed only if its worker can serve it).
  std::string why;
  auto driver = DriverApi::load(driver_path, why);
  if (!driver) {
    idm::log_line("cannot load the driver: " + why);
    return 6;
  }
  const int zone_socket = reg->socket.get();
  // XG_SHM_DATA_PAGES (tests): a smaller data area, e.g. 256 pages = the Xen channel's 1 MiB, so that bulk copies
  // reuse data-area regions inside one copy as they do over Xen.
  idm::ChannelGeometry geometry{};
  if (const char* dp = std::getenv("XG_SHM_DATA_PAGES"); dp != nullptr && *dp != '\0') {
    const unsigned long pages = std::strtoul(dp, nullptr, 10);
    if (pages >= 16 && pages <= geometry.data_pages) geometry.data_pages = static_cast<uint32_t>(pages);
  }
  auto ep = idm::welcome_zone(*reg, limits.zone_id, geometry);
  if (!ep) {
    idm::log_line("cannot create the channel");
    return 7;
  }
  Worker worker(*driver, **ep, zone_socket, limits, page);
  if (CUresult e = worker.start(); e != CUDA_SUCCESS) {
    idm::log_line("cuInit failed: " + std::to_string(e));
    return 8;
  }
  restrict_syscalls();
  page->state.store(static_cast<uint32_t>(WorkerState::kServing));
  idm::log_line("serving (quota " + std::to_string(limits.quota_bytes) + " bytes, driver " + driver_path + ")");
  const idm::Error why_stopped = worker.serve(g_stop);
  page->state.store(static_cast<uint32_t>(WorkerState::kEnded));
  log_profile(*page, reg->name);
  idm::log_line("zone ended: " + std::string(idm::error_name(why_stopped)) + "; " +
                std::to_string(worker.handles().live_count()) + " handles and " +
                std::to_string(worker.used_bytes()) + " bytes reclaimed with the worker");
  return 0;
}

}  // namespace xg::proxy
