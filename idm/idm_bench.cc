// idm-bench: the shm transport against bare baselines measured between the same two processes in the same run.
//   RTT      bare spin ping-pong, bare futex ping-pong, pipe ping-pong, IDM Ping over a channel
//   one-way  fire-and-forget Nop posts per second
//   bulk     BulkPut through the data area into a 64 MiB "device" buffer vs a plain memcpy of the same bytes
//   threads  two guest threads: one shared channel (mutex) vs one channel each
// Prints every figure and the ratios the targets are judged on.
#include <fcntl.h>
#include <sched.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "idm/testing/bench_stats.h"
#include "idm/testing/transport_peer.h"
#include "idm/futex_doorbell.h"
#include "idm/transport_shm.h"

using namespace xg::idm;
using namespace xg::idm::bench;
using namespace std::chrono_literals;

namespace {

struct alignas(64) Line {
  std::atomic<uint32_t> v{0};
};
struct PingPongPage {
  Line ping, pong;
};

// Client and server run on fixed, different CPUs for every figure, so baselines and IDM see the same placement
// (on a VM the hypervisor may otherwise put the two on SMT siblings for one phase and not for the next).
void pin_to(int cpu) {
  if (::sysconf(_SC_NPROCESSORS_ONLN) < 2) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  ::sched_setaffinity(0, sizeof set, &set);
}

template <typename Fn>
pid_t fork_child(Fn fn) {
  pid_t pid = ::fork();
  if (pid == 0) {
    pin_to(1);
    ::_exit(fn());
  }
  return pid;
}

void reap(pid_t pid) { ::waitpid(pid, nullptr, 0); }

PingPongPage* shared_page() {
  void* p = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  return new (p) PingPongPage;
}

Percentiles spin_pingpong(int n) {
  auto* pg = shared_page();
  pid_t pid = fork_child([&] {
    for (uint32_t i = 1; i <= uint32_t(n); ++i) {
      while (pg->ping.v.load(std::memory_order_acquire) != i) __builtin_ia32_pause();
      pg->pong.v.store(i, std::memory_order_release);
    }
    return 0;
  });
  std::vector<double> rtt;
  rtt.reserve(n);
  for (uint32_t i = 1; i <= uint32_t(n); ++i) {
    auto t0 = clock_type::now();
    pg->ping.v.store(i, std::memory_order_release);
    while (pg->pong.v.load(std::memory_order_acquire) != i) __builtin_ia32_pause();
    rtt.push_back(us_since(t0));
  }
  reap(pid);
  return percentiles(rtt);
}

Percentiles futex_pingpong(int n) {
  auto* pg = shared_page();
  pid_t pid = fork_child([&] {
    for (uint32_t i = 1; i <= uint32_t(n); ++i) {
      while (pg->ping.v.load(std::memory_order_acquire) != i) futex_wait_shared(pg->ping.v, i - 1, 1s);
      pg->pong.v.store(i, std::memory_order_release);
      futex_wake_shared(pg->pong.v);
    }
    return 0;
  });
  std::vector<double> rtt;
  for (uint32_t i = 1; i <= uint32_t(n); ++i) {
    auto t0 = clock_type::now();
    pg->ping.v.store(i, std::memory_order_release);
    futex_wake_shared(pg->ping.v);
    while (pg->pong.v.load(std::memory_order_acquire) != i) futex_wait_shared(pg->pong.v, i - 1, 1s);
    rtt.push_back(us_since(t0));
  }
  reap(pid);
  return percentiles(rtt);
}

Percentiles pipe_pingpong(int n) {
  int a[2], b[2];
  if (::pipe(a) || ::pipe(b)) return {};
  pid_t pid = fork_child([&] {
    uint32_t x;
    for (int i = 0; i < n; ++i)
      if (::read(a[0], &x, 4) != 4 || ::write(b[1], &x, 4) != 4) return 1;
    return 0;
  });
  std::vector<double> rtt;
  for (uint32_t i = 0; i < uint32_t(n); ++i) {
    auto t0 = clock_type::now();
    uint32_t x = i;
    if (::write(a[1], &x, 4) != 4 || ::read(b[0], &x, 4) != 4) break;
    rtt.push_back(us_since(t0));
  }
  reap(pid);
  for (int fd : {a[0], a[1], b[0], b[1]}) ::close(fd);
  return percentiles(rtt);
}

// A proxy process serving conformance traffic on every zone that connects to `path` (one thread each).
pid_t start_server(const std::string& path, int zones) {
  auto lfd = listen_unix(path);
  if (!lfd) {
    std::fprintf(stderr, "cannot listen on %s\n", path.c_str());
    std::exit(1);
  }
  int fd = lfd->release();
  return fork_child([fd, zones] {
    std::vector<std::byte> device(64 << 20);
    std::vector<std::thread> threads;
    for (int z = 0; z < zones; ++z) {
      UniqueFd conn(::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC));
      auto reg = read_hello(std::move(conn), 5s);
      if (!reg) return 1;
      auto ep = welcome_zone(*reg, z + 1, ChannelGeometry{});
      if (!ep) return 2;
      threads.emplace_back([ep = std::move(ep.value()), &device, z]() mutable {
        std::atomic<bool> stop{false};
        (void)serve_conformance(ep->channel, stop, z == 0 ? std::span(device) : std::span<std::byte>{});
      });
    }
    for (auto& t : threads) t.join();
    return 0;
  });
}

struct Zone {
  ZoneConnection conn;
  std::unique_ptr<ConformanceClient> client;
};

Zone connect(const std::string& path) {
  auto zc = connect_zone(path, "bench", 0, 5s);
  if (!zc) {
    std::fprintf(stderr, "connect failed: %s\n", std::string(error_name(zc.error())).c_str());
    std::exit(1);
  }
  Zone z{std::move(zc.value()), nullptr};
  z.client = std::make_unique<ConformanceClient>(z.conn.endpoint->channel);
  return z;
}

Percentiles idm_rtt(ConformanceClient& cl, int n) {
  std::vector<double> rtt;
  rtt.reserve(n);
  for (int i = 0; i < n; ++i) {
    auto t0 = clock_type::now();
    if (!cl.ping(i).ok()) break;
    rtt.push_back(us_since(t0));
  }
  return percentiles(rtt);
}

double idm_oneway(ConformanceClient& cl, int n) {
  auto t0 = clock_type::now();
  for (int i = 0; i < n; ++i)
    if (cl.post_nop(i) != Error::kOk) return 0;
  if (!cl.ping(0).ok()) return 0;  // the last post has been consumed once this returns
  return n / (us_since(t0) / 1e6);
}

// GB/s of a plain memcpy of `total` bytes in `chunk`-sized pieces from a 64 MiB source to a 64 MiB destination.
double memcpy_gbps(size_t total, size_t chunk) {
  std::vector<std::byte> src(64 << 20, std::byte{1}), dst(64 << 20);
  auto t0 = clock_type::now();
  for (size_t done = 0; done < total; done += chunk) {
    const size_t at = done % src.size();
    std::memcpy(dst.data() + at, src.data() + at, chunk);
  }
  return total / (us_since(t0) * 1e3);
}

// The zone copies chunks from its 64 MiB source into data-area slots and posts BulkPut; the proxy copies each
// slot into its 64 MiB device buffer. `depth` slots in flight.
double bulk_gbps(Zone& z, size_t total, size_t chunk, int depth) {
  std::vector<std::byte> src(64 << 20, std::byte{1});
  auto data = z.conn.endpoint->channel.data();
  const size_t slots = std::min<size_t>(depth, data.size() / chunk);
  auto t0 = clock_type::now();
  size_t in_flight = 0, i = 0;
  for (size_t done = 0; done < total; done += chunk, ++i) {
    if (in_flight == slots) {
      if (!z.client->receive().ok()) return 0;
      --in_flight;
    }
    const size_t slot = (i % slots) * chunk;
    std::memcpy(data.data() + slot, src.data() + done % src.size(), chunk);
    if (z.client->send<Op::BulkPut>(BulkPutReq{slot, chunk, 0, 0}) != Error::kOk) return 0;
    ++in_flight;
  }
  while (in_flight--)
    if (!z.client->receive().ok()) return 0;
  return total / (us_since(t0) * 1e3);
}

// Two guest threads making calls: sharing one channel under a mutex, or one channel each.
double calls_per_sec_two_threads(std::vector<Zone*> zones, int calls_each) {
  std::mutex mu;
  auto t0 = clock_type::now();
  std::vector<std::thread> ts;
  for (int t = 0; t < 2; ++t) {
    ts.emplace_back([&, t] {
      Zone* z = zones[zones.size() == 1 ? 0 : t];
      for (int i = 0; i < calls_each; ++i) {
        if (zones.size() == 1) {
          std::lock_guard g(mu);
          (void)z->client->ping(i);
        } else {
          (void)z->client->ping(i);
        }
      }
    });
  }
  for (auto& t : ts) t.join();
  return 2.0 * calls_each / (us_since(t0) / 1e6);
}

const char* verdict(bool ok) { return ok ? "MEETS" : "MISSES"; }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"idm-bench: shm transport vs bare baselines, same processes, same run"};
  int rtt_n = 200'000, slow_n = 20'000, oneway_n = 5'000'000;
  size_t bulk_mib = 1024, chunk_kib = 256;
  int depth = 4;
  app.add_option("--rtt-iterations", rtt_n, "round trips for spin and IDM RTT");
  app.add_option("--slow-iterations", slow_n, "round trips for futex and pipe baselines");
  app.add_option("--oneway-messages", oneway_n, "Nop posts for one-way throughput");
  app.add_option("--bulk-mib", bulk_mib, "MiB moved in the bulk test");
  app.add_option("--chunk-kib", chunk_kib, "bulk chunk size");
  app.add_option("--depth", depth, "bulk chunks in flight");
  CLI11_PARSE(app, argc, argv);

  const std::string path = "/tmp/xg-idm-bench-" + std::to_string(::getpid()) + ".sock";
  std::printf("idm-bench (shm transport; spin budget %lld us before sleeping)\n",
              static_cast<long long>(SpinPolicy::from_env().spin.count()));

  pin_to(0);
  auto fut = futex_pingpong(slow_n);
  auto pip = pipe_pingpong(slow_n);

  pid_t server = start_server(path, 1);
  Zone z = connect(path);
  (void)idm_rtt(*z.client, 10'000);  // warm-up
  // Spin baseline and IDM round trips in interleaved blocks, so both see the same conditions.
  constexpr int kBlocks = 10;
  std::vector<double> spin_p50s, idm_p50s, block_ratios;
  Percentiles spin{}, idm{};
  for (int b = 0; b < kBlocks; ++b) {
    auto sp = spin_pingpong(rtt_n / kBlocks);
    auto id = idm_rtt(*z.client, rtt_n / kBlocks);
    spin_p50s.push_back(sp.p50);
    idm_p50s.push_back(id.p50);
    block_ratios.push_back(id.p50 / sp.p50);
    spin.p99 = std::max(spin.p99, sp.p99);
    idm.p99 = std::max(idm.p99, id.p99);
  }
  spin.p50 = percentiles(spin_p50s).p50;
  idm.p50 = percentiles(idm_p50s).p50;
  const double median_block_ratio = percentiles(block_ratios).p50;
  const double oneway = idm_oneway(*z.client, oneway_n);
  const size_t total = bulk_mib << 20, chunk = chunk_kib << 10;
  const double plain = memcpy_gbps(total, chunk);
  const double bulk = bulk_gbps(z, total, chunk, depth);
  z = Zone{};
  reap(server);

  std::printf("\n%-34s %10s %10s\n", "round trip (4-8 byte token)", "p50 us", "p99 us");
  std::printf("(spin and IDM rows: median of %d interleaved blocks' p50, worst block's p99; client on CPU 0,\n"
              " server on CPU 1)\n", kBlocks);
  std::printf("%-34s %10.3f %10.3f\n", "baseline: bare spin ping-pong", spin.p50, spin.p99);
  std::printf("%-34s %10.3f %10.3f\n", "baseline: bare futex ping-pong", fut.p50, fut.p99);
  std::printf("%-34s %10.3f %10.3f\n", "baseline: pipe ping-pong", pip.p50, pip.p99);
  std::printf("%-34s %10.3f %10.3f\n", "IDM Ping over shm channel", idm.p50, idm.p99);
  const double rtt_ratio = median_block_ratio;
  std::printf("ratio IDM/spin p50 (median over blocks) = %.2fx   (target <= 1.2x: %s); IDM/futex p50 = %.3fx; IDM/pipe p50 = %.3fx\n",
              rtt_ratio, verdict(rtt_ratio <= 1.2), idm.p50 / fut.p50, idm.p50 / pip.p50);
  std::printf("\none-way small messages (Nop posts): %.2f M msgs/s   (target >= 5 M/s: %s)\n", oneway / 1e6,
              verdict(oneway >= 5e6));
  std::printf("\nbulk through the data area (%zu MiB in %zu KiB chunks, %d in flight)\n", bulk_mib, chunk_kib, depth);
  std::printf("  baseline: plain memcpy %.2f GB/s;  IDM BulkPut %.2f GB/s;  ratio %.2fx   (target >= 0.8x: %s)\n",
              plain, bulk, bulk / plain, verdict(bulk / plain >= 0.8));

  // Threads -> channels: two guest threads, shared channel vs one each.
  const std::string path2 = path + ".mt";
  pid_t s1 = start_server(path2, 1);
  Zone shared = connect(path2);
  const double one_ch = calls_per_sec_two_threads({&shared}, rtt_n / 4);
  shared = Zone{};
  reap(s1);
  pid_t s2 = start_server(path2, 2);
  Zone a = connect(path2), b = connect(path2);
  const double two_ch = calls_per_sec_two_threads({&a, &b}, rtt_n / 4);
  a = Zone{};
  b = Zone{};
  reap(s2);
  std::printf("\ntwo guest threads, synchronous calls: one shared channel %.0f calls/s; a channel each %.0f calls/s "
              "(%.2fx)\n", one_ch, two_ch, two_ch / one_ch);
  ::unlink(path.c_str());
  ::unlink(path2.c_str());
  return 0;
}
