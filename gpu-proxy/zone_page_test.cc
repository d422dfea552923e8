// The zone page's ledger across processes: programs charging one quota at once, a program's death, a worker that
// dies holding the ledger's lock and one that never lets go of it.
#include "gpu-proxy/zone_page.h"

#include <doctest/doctest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <new>
#include <vector>
#include <csignal>

namespace xg::proxy {
namespace {

// A zone page in shared anonymous memory, as forked processes see it.
struct SharedZonePage {
  ZonePage* page = nullptr;
  SharedZonePage() {
    void* p = ::mmap(nullptr, kZonePageBytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE(p != MAP_FAILED);
    page = ::new (p) ZonePage();
    init_zone_page(*page);
  }
  ~SharedZonePage() { ::munmap(page, kZonePageBytes); }
};

constexpr uint64_t kMiB = 1 << 20;

// Runs `body` in `n` child processes at once and returns how many exited 0.
template <typename F>
int in_processes(int n, F body) {
  std::vector<pid_t> pids;
  for (int i = 0; i < n; ++i) {
    const pid_t pid = ::fork();
    if (pid == 0) ::_exit(body(i));
    pids.push_back(pid);
  }
  int ok = 0;
  for (pid_t pid : pids) {
    int st = 0;
    ::waitpid(pid, &st, 0);
    ok += WIFEXITED(st) && WEXITSTATUS(st) == 0;
  }
  return ok;
}

TEST_CASE("8 programs charging one zone at once never exceed its quota, and use all of it") {
  SharedZonePage z;
  z.page->quota_bytes.store(100 * kMiB);
  int slots[8];
  for (int& s : slots) {
    s = claim_slot(*z.page);
    z.page->slots[s].serving.store(1);
  }
  const int ok = in_processes(8, [&](int i) {
    for (;;) {
      const ChargeResult r = charge_zone(*z.page, slots[i], ChargeKind::kDevice, kMiB);
      if (r == ChargeResult::kOverQuota) return 0;
      if (r != ChargeResult::kOk) return 1;
    }
  });
  CHECK(ok == 8);
  const ZoneUsage u = zone_usage(*z.page);
  CHECK(u.programs == 8);
  CHECK(u.total() == 100 * kMiB);
}

TEST_CASE("a program's end returns exactly its bytes; overhead counts against the quota") {
  SharedZonePage z;
  z.page->quota_bytes.store(10 * kMiB);
  const int a = claim_slot(*z.page), b = claim_slot(*z.page);
  CHECK(charge_zone(*z.page, a, ChargeKind::kOverhead, 2 * kMiB) == ChargeResult::kOk);
  CHECK(charge_zone(*z.page, a, ChargeKind::kDevice, 3 * kMiB) == ChargeResult::kOk);
  CHECK(charge_zone(*z.page, b, ChargeKind::kDevice, 5 * kMiB) == ChargeResult::kOk);
  CHECK(charge_zone(*z.page, b, ChargeKind::kDevice, 1) == ChargeResult::kOverQuota);
  release_slot(*z.page, a);
  CHECK(zone_usage(*z.page).total() == 5 * kMiB);
  CHECK(zone_usage(*z.page).overhead_bytes == 0);
  CHECK(charge_zone(*z.page, b, ChargeKind::kDevice, 5 * kMiB) == ChargeResult::kOk);
  // A reused slot starts empty.
  const int c = claim_slot(*z.page);
  CHECK(c == a);
  CHECK(z.page->slots[c].device_bytes.load() == 0);
  uncharge_zone(*z.page, b, ChargeKind::kDevice, 100 * kMiB);  // never below zero
  CHECK(zone_usage(*z.page).total() == 0);
}

TEST_CASE("a quota lowered below use refuses new charges and takes nothing back") {
  SharedZonePage z;
  z.page->quota_bytes.store(8 * kMiB);
  const int a = claim_slot(*z.page);
  CHECK(charge_zone(*z.page, a, ChargeKind::kDevice, 6 * kMiB) == ChargeResult::kOk);
  z.page->quota_bytes.store(4 * kMiB);
  CHECK(charge_zone(*z.page, a, ChargeKind::kDevice, 1) == ChargeResult::kOverQuota);
  CHECK(zone_usage(*z.page).total() == 6 * kMiB);
  uncharge_zone(*z.page, a, ChargeKind::kDevice, 3 * kMiB);
  CHECK(charge_zone(*z.page, a, ChargeKind::kDevice, kMiB) == ChargeResult::kOk);
}

TEST_CASE("a worker that dies holding the ledger's lock does not stop its zone; one that holds it forever costs "
          "only a refusal") {
  SharedZonePage z;
  z.page->quota_bytes.store(8 * kMiB);
  const int a = claim_slot(*z.page);
  CHECK(in_processes(1, [&](int) { return ::pthread_mutex_lock(&z.page->lock) == 0 ? 0 : 1; }) == 1);
  CHECK(charge_zone(*z.page, a, ChargeKind::kDevice, kMiB) == ChargeResult::kOk);  // EOWNERDEAD, recovered
  CHECK(charge_zone(*z.page, a, ChargeKind::kDevice, kMiB) == ChargeResult::kOk);

  int go[2];
  REQUIRE(::pipe(go) == 0);
  const pid_t holder = ::fork();
  if (holder == 0) {
    ::pthread_mutex_lock(&z.page->lock);
    char c = 1;
    (void)::write(go[1], &c, 1);
    ::pause();
    ::_exit(0);
  }
  char c = 0;
  REQUIRE(::read(go[0], &c, 1) == 1);
  CHECK(charge_zone(*z.page, a, ChargeKind::kDevice, kMiB, std::chrono::milliseconds(50)) == ChargeResult::kLockTimeout);
  ::kill(holder, SIGKILL);
  ::waitpid(holder, nullptr, 0);
  CHECK(charge_zone(*z.page, a, ChargeKind::kDevice, kMiB) == ChargeResult::kOk);
  CHECK(zone_usage(*z.page).total() == 3 * kMiB);
  ::close(go[0]);
  ::close(go[1]);
}

}  // namespace
}  // namespace xg::proxy
