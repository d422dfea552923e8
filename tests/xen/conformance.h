// IDM conformance traffic over any transport's Endpoint (shm or Xen), used by the real-Xen VM job.
//   serve():           the proxy side: decode, dispatch, answer (Ping, Echo, Nop, BulkPut), until the peer goes.
//   run_conformance(): the zone side: Ping round trips, Echo with tails of many sizes (wrapping the rings many
//                      times), 1M+ fire-and-forget Nops checked in order and summed, BulkPut through the data area,
//                      and the error answers for invalid requests.
//   run_bench():       Ping RTT p50/p99 and Nop posts/s.
// Results are printed one line per check: "CHECK PASS|FAIL <name>: <detail>" (the VM harness counts them).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include <vector>

#include "idm/channel.h"
#include "idm/codec.h"
#include "idm/result.h"

namespace xg::xentest {

struct ServeStats {
  uint64_t pings = 0, echos = 0, nops = 0, nop_sum = 0, bulk = 0, error_replies = 0, rejected = 0;
  bool nop_order_ok = true;
  std::chrono::steady_clock::time_point last_rx{};
  idm::Error end = idm::Error::kOk;  // why serving stopped
};

// Serves until the peer is gone or breaks the ring contract. Never throws, never trusts the peer.
ServeStats serve(idm::Endpoint& ep);
[[nodiscard]] std::string to_string(const ServeStats& s);

// Prints and counts check lines.
class Checks {
 public:
  explicit Checks(std::string prefix) : prefix_(std::move(prefix)) {}
  bool check(bool ok, const std::string& name, const std::string& detail = {});
  [[nodiscard]] int failed() const noexcept { return failed_; }
  [[nodiscard]] int passed() const noexcept { return passed_; }

 private:
  std::string prefix_;
  int passed_ = 0, failed_ = 0;
};

struct ConformanceOptions {
  uint64_t nops = 1'100'000;
  int pings = 2000;
  int echos = 400;
  int bulks = 64;
};
// Zone side. Returns the number of failed checks.
int run_conformance(idm::Endpoint& ep, Checks& checks, const ConformanceOptions& opts);

struct BenchFigures {
  double ping_p50_us = 0, ping_p99_us = 0, nop_per_s = 0;
};
[[nodiscard]] idm::Result<BenchFigures> run_bench(idm::Endpoint& ep, int pings, uint64_t nops);

// Sends traffic (pings, echos, nops) until the channel fails or `limit` passes; returns how it ended.
idm::Error run_soak(idm::Endpoint& ep, std::chrono::seconds limit, uint64_t* messages);

// The shm transport in this machine: a forked proxy process serving a zone (this process) over a memfd.
// Runs run_bench() over it. (Baseline for the Xen figures in the same VM.)
[[nodiscard]] idm::Result<BenchFigures> run_shm_bench(int pings, uint64_t nops);

// One synchronous call: request, wait for the matching response, decode it into `rsp_buf`.
struct CallResult {
  uint32_t result = 0;  // CUresult carried back
  std::span<const std::byte> payload;
};
template <idm::Op op>
[[nodiscard]] idm::Result<CallResult> call(idm::Endpoint& ep, uint32_t seq, const typename idm::OpTraits<op>::Request& req,
                                           std::span<const std::byte> tail, std::vector<std::byte>& rsp_buf,
                                           std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  using namespace idm;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  if (Error e = send_request<op>(ep.channel.tx(), seq, req, tail, deadline); e != Error::kOk) return e;
  rsp_buf.resize(ep.channel.geometry().max_payload);
  auto n = ep.channel.rx().pop(rsp_buf, deadline);
  if (!n) return n.error();
  auto m = decode(std::span<const std::byte>(rsp_buf).first(*n), Direction::kResponse, Path::kRing);
  if (!m) return m.error();
  if (m->header.seq != seq || m->op() != op) return Error::kInvalidField;
  return CallResult{m->header.result, m->payload};
}

}  // namespace xg::xentest
