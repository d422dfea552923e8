// libFuzzer: the proxy's request path end to end — decode, validate, translate handles, check ranges, call the
// (simulated) driver — on arbitrary request bytes, inside one worker. Responses are drained after each input.
//
// State across inputs stays bounded, so that growth a long run finds is the product's, not the harness's: the
// worker runs under small per-zone object limits (the product's own bounds, so their refusal paths are fuzzed
// too), and it is replaced by a fresh one every kInputsPerWorker inputs (its teardown gives every driver object
// back, and is fuzzed as well).
#include <sys/socket.h>

#include <atomic>
#include <memory>
#include <vector>

#include "gpu-proxy/worker/worker.h"
#include "idm/futex_doorbell.h"
#include "idm/transport_shm.h"

namespace {

struct Harness {
  std::unique_ptr<xg::proxy::DriverApi> driver;
  std::unique_ptr<xg::idm::Endpoint> zone_side, proxy_side;
  std::unique_ptr<xg::proxy::Worker> worker;
  xg::idm::UniqueFd sock_a, sock_b;
  std::vector<std::byte> sink;

  Harness() {
    std::string why;
    driver = xg::proxy::DriverApi::load(XG_SIM_LIB, why);
    if (!driver) __builtin_trap();
    xg::idm::ChannelGeometry g;
    g.data_pages = 256;
    auto mem = xg::idm::ShmMemory::create(g.total_bytes(), "fuzz");
    auto mem2 = xg::idm::ShmMemory::map(xg::idm::UniqueFd(::dup((*mem)->fd())), g.total_bytes());
    proxy_side = xg::idm::make_endpoint(std::move(mem.value()), std::make_unique<xg::idm::FutexDoorbell>(), g,
                                        xg::idm::Role::kProxy)
                     .value();
    zone_side = xg::idm::make_endpoint(std::move(mem2.value()), std::make_unique<xg::idm::FutexDoorbell>(), g,
                                       xg::idm::Role::kZone)
                    .value();
    int sv[2];
    ::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv);
    sock_a.reset(sv[0]);
    sock_b.reset(sv[1]);
    proxy_side->proxy_pages = xg::idm::memfd_proxy_pages(sock_a.get());  // pinned memory's memfds go to sock_b
    sink.resize(g.max_payload);
    new_worker();
  }
  void new_worker() {
    worker.reset();  // gives back what the previous one held
    xg::proxy::WorkerLimits limits;
    limits.quota_bytes = 64ull << 20;
    limits.zone_id = 1;
    limits.pinned_bytes = 64ull << 20;
    using xg::proxy::Limit;
    for (auto [l, n] : {std::pair{Limit::contexts, 4u}, {Limit::streams, 8u}, {Limit::events, 32u},
                        {Limit::modules, 8u}, {Limit::functions, 64u}, {Limit::host_allocs, 8u},
                        {Limit::async_ops, 256u}})
      limits.objects[l] = n;
    worker = std::make_unique<xg::proxy::Worker>(*driver, *proxy_side, limits, nullptr);
    if (worker->start() != CUDA_SUCCESS) __builtin_trap();
    inputs = 0;
  }
  static constexpr int kInputsPerWorker = 4096;
  int inputs = 0;
  void drain() {
    while (zone_side->channel.rx().try_pop(sink).ok()) {
    }
    std::array<std::byte, 64> b{};
    xg::idm::UniqueFd fd;
    while (xg::idm::recv_packet(sock_b.get(), b, &fd, std::chrono::milliseconds(0)).ok()) fd.reset();
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Deliberately never destroyed: at exit the C runtime runs thread-local destructors (the driver's per-thread
  // context stack among them) before static ones, so a static Harness would call into a half-torn-down driver.
  // The real worker destroys its Worker before returning from worker_main(), while everything is alive.
  static Harness* const h = new Harness();  // NOLINT(cppcoreguidelines-owning-memory): intentionally leaked
  if (++h->inputs > Harness::kInputsPerWorker) h->new_worker();
  (void)h->worker->handle_message(std::as_bytes(std::span(data, size)));
  h->drain();
  return 0;
}
