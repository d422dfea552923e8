#include "gpu-proxy/worker/worker_main.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <optional>
#include <cstring>
#include <string>

#include "gpu-proxy/control.h"
#include "gpu-proxy/op_profile.h"
#include "gpu-proxy/worker/worker.h"
#include "gpu-proxy/worker/worker_sandbox.h"
#include "gpu-proxy/zone_page.h"
#include "idm/log.h"
#include "idm/transport.h"
#include "idm/unix_socket.h"

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

// The daemon's answer to Registered, bounded: the zone page it carries when it is Accept (mapped), or null (Refuse,
// no answer, an Accept without a page).
ZonePage* wait_accept(int fd, std::chrono::milliseconds timeout) {
  std::array<std::byte, 8> b{};
  idm::UniqueFd page_fd;
  auto n = idm::recv_packet(fd, b, &page_fd, timeout);
  if (!n || decode_control(std::span(b).first(*n), Sender::kDaemon) != ControlMessage::kAccept || !page_fd.valid())
    return nullptr;
  void* p = ::mmap(nullptr, kZonePageBytes, PROT_READ | PROT_WRITE, MAP_SHARED, page_fd.get(), 0);
  if (p == MAP_FAILED) return nullptr;
  auto* zone = static_cast<ZonePage*>(p);
  if (zone->magic != kZonePageMagic) return nullptr;
  return zone;
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
  // What the daemon started us for: a Xen zone (it set XG_WORKER_XEN_DOMID; no zone socket) or an shm zone
  // whose registration socket is fd 3. The transport (idm/transport.h) decides how the zone connects.
  const char* xen_domid = std::getenv("XG_WORKER_XEN_DOMID");
  const char* xen_devid = std::getenv("XG_WORKER_XEN_DEVID");
  auto acceptor = idm::open_zone_acceptor(kWorkerZoneFd, xen_domid != nullptr ? xen_domid : "",
                                          xen_devid != nullptr ? xen_devid : "0");
  if (!acceptor) return 2;
  idm::ZoneAcceptor& zone = **acceptor;

  // 1. Who the zone is: its own introduction (shm: the Hello, hostile bytes parsed here and not in the daemon),
  // for the daemon to decide on; or nothing, when the daemon filled the page before starting us (Xen). Either
  // way the daemon's Accept brings the zone page: the zone's quota, weight and ledger, shared with its other
  // programs' workers.
  auto intro = zone.introduction(std::chrono::seconds(5));
  if (!intro) return 3;
  if (intro->has_value()) {
    const idm::ZoneIntroduction& zi = **intro;
    std::memset(page->name, 0, sizeof page->name);
    std::memcpy(page->name, zi.name.data(), std::min(zi.name.size(), sizeof page->name - 1));
    page->zone_pid.store(zi.pid);
    page->requested_quota.store(zi.requested_quota);
    page->state.store(static_cast<uint32_t>(WorkerState::kRegistered));
    if (idm::send_packet(kWorkerControlFd, encode_control(ControlMessage::kRegistered)) != idm::Error::kOk) return 4;
  } else {
    page->state.store(static_cast<uint32_t>(WorkerState::kRegistered));
  }
  ZonePage* zone_page = wait_accept(kWorkerControlFd, std::chrono::seconds(5));
  const int slot = page->zone_slot.load();
  if (zone_page == nullptr || slot < 0 || static_cast<size_t>(slot) >= kMaxProgramsPerZone) {
    idm::log_line("zone refused by policy");
    return 5;
  }
  if (intro->has_value()) zone_page->slots[slot].zone_pid.store((*intro)->pid);
  char name_buf[sizeof page->name + 1] = {};
  std::memcpy(name_buf, page->name, sizeof page->name);
  const std::string name = intro->has_value() ? (*intro)->name : std::string(name_buf);
  WorkerLimits limits{zone_page->quota_bytes.load(), zone_page->zone_id.load()};
  limits.objects = load_limits(*page);
  idm::set_log_prefix("gpu-proxy[zone " + std::to_string(limits.zone_id) + " " + name + zone.log_label() + "]");

  // 2. The driver, then the channel (a zone is connected only if its worker can serve it).
  std::string why;
  auto driver = DriverApi::load(driver_path, why);
  if (!driver) {
    idm::log_line("cannot load the driver: " + why);
    return 6;
  }
  auto ep = zone.accept(limits.zone_id, g_stop);
  if (!ep) {
    if (ep.error() == idm::Error::kPeerGone) {  // the zone went away before a program connected (logged)
      page->state.store(static_cast<uint32_t>(WorkerState::kEnded));
      return 0;
    }
    if (ep.error() == idm::Error::kTimeout) return 0;  // SIGTERM
    idm::log_line("cannot create the channel");
    return 7;
  }
  auto worker = std::make_unique<Worker>(*driver, **ep, limits, page, zone_page, slot);
  if (CUresult e = worker->start(); e != CUDA_SUCCESS) {
    idm::log_line("cuInit failed: " + std::to_string(e));
    return 8;
  }
  restrict_syscalls();
  page->state.store(static_cast<uint32_t>(WorkerState::kServing));
  zone_page->slots[slot].serving.store(1);  // a program of the zone from now on (zone_usage counts it)
  idm::log_line("serving " + zone.serving_what() + "(program slot " + std::to_string(slot) + ", zone quota " +
                std::to_string(zone_page->quota_bytes.load()) + " bytes, driver " + driver_path + ")");

  // 3. Until the program's channel ends; then the zone may live on for its next program (Xen).
  const idm::Error why_stopped = worker->serve(g_stop);
  const bool lives_on = !g_stop.load() && zone.zone_lives_on();
  if (!lives_on) page->state.store(static_cast<uint32_t>(WorkerState::kEnded));
  log_profile(*page, name);
  idm::log_line(std::string(lives_on ? "program ended: " : "zone ended: ") +
                std::string(idm::error_name(why_stopped)) + "; " + std::to_string(worker->handles().live_count()) +
                " handles and " + std::to_string(worker->used_bytes()) + " bytes reclaimed");
  worker.reset();  // gives every driver object back; unregisters and unmaps pinned pages
  ep->reset();     // unmap, unbind: the peer sees the channel close
  if (!lives_on) return 0;
  zone.await_peer_closed();
  page->state.store(static_cast<uint32_t>(WorkerState::kEnded));
  return kWorkerNextProgram;  // the daemon starts the next worker, which rewrites the device nodes
}

}  // namespace xg::proxy
