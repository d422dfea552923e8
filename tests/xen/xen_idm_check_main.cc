// xen-idm-check: the programs the real-Xen VM job runs (thin: the logic is in conformance.cc / hostile.cc and
// idm/xen/: frontend.cc, backend.cc).
//   backend  --serve DOMID:SESSIONS ... [--devid N]   serve zones' channels, one target after the other
//   frontend [--backend-domid D] [--devid N] --mode conformance|bench|soak
//   hostile  [--backend-domid D] [--devid N]          hostile-frontend cases, then a clean conformance run
//   fpu      [--seconds S] [--seed N]                  do vector registers survive switches between domains?
#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>
#include <vector>

#include "idm/log.h"
#include "idm/xen/backend.h"
#include "idm/xen/frontend.h"
#include "tests/xen/conformance.h"
#include "tests/xen/fpu_check.h"
#include "tests/xen/hostile.h"

namespace {

using namespace xg;
using namespace xg::idm;
using namespace xg::idm::xen;
using Clock = std::chrono::steady_clock;

int run_backend(const std::vector<std::string>& targets, uint32_t devid, int timeout_s) {
  const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  int rc = 0;
  for (const std::string& t : targets) {
    const auto colon = t.find(':');
    auto domid = parse_u32(std::string_view(t).substr(0, colon));
    auto sessions = colon == std::string::npos ? std::optional<uint32_t>(1) : parse_u32(t.substr(colon + 1));
    if (!domid || !sessions) {
      std::fprintf(stderr, "bad --serve %s\n", t.c_str());
      return 2;
    }
    auto b = Backend::create(BackendOptions{*domid, devid});
    if (!b) return 1;
    std::printf("BACKEND ready domid=%u devid=%u\n", *domid, devid);
    std::fflush(stdout);
    uint32_t rejected = 0;
    for (uint32_t k = 1; k <= *sessions;) {
      auto ep = (*b)->accept(deadline);
      if (!ep) {
        if (ep.error() == Error::kInvalidField) {
          ++rejected;
          continue;
        }
        std::printf("SESSION domid=%u session=%u end=%s (before connecting)\n", *domid, k,
                    std::string(error_name(ep.error())).c_str());
        if (ep.error() != Error::kPeerGone) rc = 1;
        break;
      }
      std::printf("BACKEND connected domid=%u session=%u\n", *domid, k);
      std::fflush(stdout);
      const xentest::ServeStats st = xentest::serve(**ep);
      const auto end = Clock::now();
      ep->reset();  // unmaps every grant and unbinds the event channel
      const bool alive = (*b)->domain_alive();
      const double silence_ms =
          std::chrono::duration<double, std::milli>(end - (st.last_rx.time_since_epoch().count() ? st.last_rx : end))
              .count();
      std::printf("SESSION domid=%u session=%u %s silence_ms=%.0f domain_alive=%d unmapped=1\n", *domid, k,
                  xentest::to_string(st).c_str(), silence_ms, alive ? 1 : 0);
      std::fflush(stdout);
      ++k;
      if (!alive) break;
      if (!(*b)->reset()) {
        if ((*b)->domain_alive()) rc = 1;  // a dying domain's nodes may be refused: not an error
        break;
      }
    }
    std::printf("BACKEND done domid=%u rejected_handshakes=%u\n", *domid, rejected);
    std::fflush(stdout);
  }
  return rc;
}

int run_frontend(uint32_t backend_domid, uint32_t devid, const std::string& mode, uint64_t nops, int pings, int soak_s,
                 const std::string& prefix) {
  FrontendOptions fo;
  fo.backend_domid = backend_domid;
  fo.devid = devid;
  xentest::Checks checks(prefix);
  const auto t0 = Clock::now();
  auto ep = connect_frontend(fo);
  if (!checks.check(ep.ok(), "connect", ep ? "handshake " + std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count()) + " ms"
                                           : std::string(error_name(ep.error()))))
    return 1;
  if (mode == "conformance") {
    xentest::ConformanceOptions o;
    o.nops = nops;
    xentest::run_conformance(**ep, checks, o);
  } else if (mode == "bench") {
    auto x = xentest::run_bench(**ep, pings, nops);
    ep->reset();
    auto s = xentest::run_shm_bench(pings, nops);
    if (x && s) {
      std::printf("BENCH xen  ping_p50_us=%.1f ping_p99_us=%.1f nop_per_s=%.0f\n", x->ping_p50_us, x->ping_p99_us,
                  x->nop_per_s);
      std::printf("BENCH shm  ping_p50_us=%.1f ping_p99_us=%.1f nop_per_s=%.0f\n", s->ping_p50_us, s->ping_p99_us,
                  s->nop_per_s);
      std::printf("BENCH xen/shm  ping_p50 x%.2f  ping_p99 x%.2f  nop_rate x%.2f\n", x->ping_p50_us / s->ping_p50_us,
                  x->ping_p99_us / s->ping_p99_us, x->nop_per_s / s->nop_per_s);
    }
    checks.check(x.ok() && s.ok(), "bench",
                 x && s ? "figures above (TCG: indicative only)"
                        : std::string("xen ") + std::string(error_name(x.error())) + ", shm " +
                              std::string(error_name(s.error())));
  } else if (mode == "soak") {
    uint64_t msgs = 0;
    const Error e = xentest::run_soak(**ep, std::chrono::seconds(soak_s), &msgs);
    std::printf("SOAK end=%s messages=%llu\n", std::string(error_name(e)).c_str(), (unsigned long long)msgs);
  } else {
    std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
    return 2;
  }
  std::fflush(stdout);
  return checks.failed() > 0;
}

int run_hostile(uint32_t backend_domid, uint32_t devid) {
  xentest::Checks checks("hostile/");
  xentest::run_hostile({backend_domid, devid}, checks);
  // The backend must still serve a well-behaved frontend after all that.
  FrontendOptions fo;
  fo.backend_domid = backend_domid;
  fo.devid = devid;
  auto ep = connect_frontend(fo);
  if (checks.check(ep.ok(), "serves-after-hostile-connect")) {
    xentest::Checks after("hostile/after/");
    xentest::ConformanceOptions o;
    o.nops = 20'000;
    o.echos = 50;
    o.pings = 200;
    o.bulks = 8;
    checks.check(xentest::run_conformance(**ep, after, o) == 0, "serves-after-hostile");
  }
  return checks.failed() > 0;
}

int run_fpu(const std::string& prefix, int seconds, uint32_t seed) {
  xentest::Checks checks(prefix);
  const xentest::FpuCheckResult r = xentest::fpu_check(std::chrono::seconds(seconds), seed, 200'000);
  checks.check(r.bad_rounds == 0, "vector-registers-survive-domain-switches",
               std::to_string(r.rounds) + " rounds" + (r.ymm ? " (xmm and ymm)" : " (xmm)") + ", " +
                   std::to_string(r.bad_rounds) + " came back changed (" + std::to_string(r.bad_registers) +
                   " of their registers)");
  std::fflush(stdout);
  return checks.failed() > 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"xen-idm-check: IDM over the Xen transport (run inside the test VM)"};
  app.require_subcommand(1);
  uint32_t devid = 0, backend_domid = 0;
  std::vector<std::string> targets;
  int timeout_s = 240;
  auto* be = app.add_subcommand("backend", "serve zones (domid:sessions, in order)");
  be->add_option("--serve", targets, "DOMID:SESSIONS")->required();
  be->add_option("--devid", devid);
  be->add_option("--timeout", timeout_s, "overall seconds");
  std::string mode = "conformance", prefix;
  uint64_t nops = 1'100'000;
  int soak_s = 60;
  int pings = 3000;  // bench mode's round trips per transport
  auto* fe = app.add_subcommand("frontend", "run a zone's side");
  fe->add_option("--backend-domid", backend_domid);
  fe->add_option("--devid", devid);
  fe->add_option("--mode", mode)->check(CLI::IsMember({"conformance", "bench", "soak"}));
  fe->add_option("--nops", nops);
  fe->add_option("--pings", pings, "bench mode: Ping round trips per transport")->check(CLI::Range(100, 1000000));
  fe->add_option("--soak-seconds", soak_s);
  fe->add_option("--prefix", prefix, "check name prefix");
  auto* ho = app.add_subcommand("hostile", "hostile-frontend cases");
  ho->add_option("--backend-domid", backend_domid);
  ho->add_option("--devid", devid);
  int fpu_s = 10;
  uint32_t seed = 1;
  auto* fp = app.add_subcommand("fpu", "hold patterns in xmm/ymm0-15 across spins; report lost registers");
  fp->add_option("--seconds", fpu_s);
  fp->add_option("--seed", seed);
  fp->add_option("--prefix", prefix, "check name prefix");
  CLI11_PARSE(app, argc, argv);
  if (*fp) return run_fpu(prefix, fpu_s, seed);
  if (*be) {
    idm::set_log_prefix("xen-idm-check backend");
    return run_backend(targets, devid, timeout_s);
  }
  if (*fe) {
    idm::set_log_prefix("xen-idm-check frontend");
    return run_frontend(backend_domid, devid, mode, nops, pings, soak_s, prefix);
  }
  idm::set_log_prefix("xen-idm-check hostile");
  return run_hostile(backend_domid, devid);
}
