// The operator's views from synthetic snapshots: `xen-gpu zones` and `top` frames (zone_view.h), durations
// (units.h), the profile table as JSON, and the Prometheus text the metrics endpoint serves (metrics.h), parsed
// back into names, labels and values.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "gpu-proxy/metrics.h"
#include "gpu-proxy/units.h"
#include "gpu-proxy/zone_view.h"
#include "idm/protocol.h"

using namespace xg::proxy;

namespace {

ZoneSnapshot zone(std::string name, double share, double calls_per_s) {
  ZoneSnapshot z;
  z.id = 1;
  z.name = std::move(name);
  z.state = "serving";
  z.weight = 2;
  z.quota_bytes = 512ull << 20;
  z.used_bytes = 12ull << 20;
  z.overhead_bytes = 2ull << 20;
  z.peak_bytes = 20ull << 20;
  z.gpu_ns = 90'400'000'000;  // 1m30s
  z.gpu_share = share;
  z.calls_per_s = calls_per_s;
  z.calls = 1234;
  z.programs.resize(3);
  return z;
}

ProxySnapshot two_zones() {
  ProxySnapshot s;
  s.interval_s = 1;
  s.gpu.name = "Simulated GPU";
  s.gpu.memory_total_bytes = 16ull << 30;
  s.zones.push_back(zone("alpha", 0.10, 40));
  s.zones.push_back(zone("beta", 0.625, 1234));
  s.zones[1].pod = "ml/trainer";
  s.zones[1].weight = 7;
  return s;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

std::vector<std::string> fields_of(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  for (std::string f; in >> f;) out.push_back(f);
  return out;
}

// Prometheus text, sample lines only: "name{label="v",...}" -> value; "# TYPE name kind" -> kind.
struct Scrape {
  std::map<std::string, double> samples;
  std::map<std::string, std::string> types;
};

Scrape parse_metrics(const std::string& text) {
  Scrape s;
  for (const std::string& l : lines_of(text)) {
    if (l.rfind("# TYPE ", 0) == 0) {
      const auto f = fields_of(l);
      REQUIRE(f.size() == 4);
      s.types[f[2]] = f[3];
      continue;
    }
    if (l.empty() || l[0] == '#') continue;
    const size_t sp = l.rfind(' ');
    REQUIRE(sp != std::string::npos);
    s.samples[l.substr(0, sp)] = std::stod(l.substr(sp + 1));
  }
  return s;
}

}  // namespace

TEST_CASE("format_duration: seconds for people, each unit up to where the next one starts") {
  CHECK(format_duration(0) == "0s");
  CHECK(format_duration(-1) == "0s");
  CHECK(format_duration(0.00042) == "420us");
  CHECK(format_duration(0.0123) == "12.3ms");
  CHECK(format_duration(0.25) == "250ms");
  CHECK(format_duration(0.9999) == "1.00s");
  CHECK(format_duration(4.2) == "4.20s");
  CHECK(format_duration(42.25) == "42.2s");
  CHECK(format_duration(59.97) == "1m00s");
  CHECK(format_duration(425) == "7m05s");
  CHECK(format_duration(3599.7) == "1h00m");
  CHECK(format_duration(7380) == "2h03m");
  CHECK(format_duration(3 * 86400 + 4 * 3600 + 59) == "3d04h");
}

TEST_CASE("xen-gpu zones: one row per zone in the snapshot's order, sizes and durations for people") {
  const auto lines = lines_of(render_zones(two_zones()));
  REQUIRE(lines.size() == 3);
  CHECK(fields_of(lines[0]) == std::vector<std::string>{"ZONE", "STATE", "POD", "PROGRAMS", "WEIGHT", "MEMORY",
                                                       "OVERHEAD", "GPU%", "CALLS/S", "GPU_TIME"});
  CHECK(fields_of(lines[1]) == std::vector<std::string>{"alpha", "serving", "-", "3", "2", "12.0MiB/512.0MiB",
                                                       "2.0MiB", "10.0%", "40", "1m30s"});
  CHECK(fields_of(lines[2]) == std::vector<std::string>{"beta", "serving", "ml/trainer", "3", "7",
                                                       "12.0MiB/512.0MiB", "2.0MiB", "62.5%", "1.2k", "1m30s"});
  // Columns line up: every row's GPU% ends where the header's does.
  const size_t end = lines[0].find("GPU%") + 4;
  CHECK(lines[1].substr(end - 5, 5) == "10.0%");
  CHECK(lines[2].substr(end - 5, 5) == "62.5%");
}

TEST_CASE("xen-gpu top: busiest zone first, GPU facts only where known, lines cut to the terminal") {
  ProxySnapshot s = two_zones();
  std::string frame = render_top(s);
  auto lines = lines_of(frame);
  REQUIRE(lines.size() == 5);
  CHECK(lines[0] == "GPU: Simulated GPU, memory 16GiB");  // no NVML: no utilisation, temperature or driver
  CHECK(lines[1].find("2 zone(s), 6 program(s)") == 0);
  CHECK(lines[1].find("GPU 72.5%") != std::string::npos);
  CHECK(fields_of(lines[2])[0] == "ZONE");
  CHECK(fields_of(lines[3])[0] == "beta");  // 62.5% before 10%, though the snapshot lists alpha first
  CHECK(fields_of(lines[4])[0] == "alpha");

  s.zones[0].gpu_share = s.zones[1].gpu_share;  // a tie: calls/s decides
  lines = lines_of(render_top(s));
  CHECK(fields_of(lines[3])[0] == "beta");

  s.gpu.utilization = 0.37;
  s.gpu.memory_used_bytes = 3ull << 30;
  s.gpu.temperature_celsius = 41;
  s.gpu.driver_version = "580.159.04";
  CHECK(lines_of(render_top(s))[0] == "GPU: Simulated GPU, util 37.0%, memory 3GiB/16GiB, 41C, driver 580.159.04");

  for (const std::string& l : lines_of(render_top(s, 30))) CHECK(l.size() <= 30);
}

TEST_CASE("xen-gpu profile --json: the daemon's table as objects; anything else refused") {
  const std::string table =
      "ZONE                 OPCODE                          CALLS    MEAN_US   P50_US<=   P99_US<=     TOTAL_MS\n"
      "train                LaunchKernel                     1000       2.50        2.0       16.0         2.50\n"
      "train                MemAlloc                            3      10.00        8.0       16.0         0.03\n";
  const auto json = profile_table_to_json(table);
  REQUIRE(json);
  const auto j = nlohmann::json::parse(*json);
  REQUIRE(j.size() == 2);
  CHECK(j[0]["zone"] == "train");
  CHECK(j[0]["opcode"] == "LaunchKernel");
  CHECK(j[0]["calls"] == 1000);
  CHECK(j[0]["mean_us"] == doctest::Approx(2.5));
  CHECK(j[1]["p99_us_le"] == doctest::Approx(16.0));
  CHECK(profile_table_to_json("ZONE OPCODE\n")->find("[]") == 0);  // a header alone: no rows
  CHECK(!profile_table_to_json("train LaunchKernel 1000\n"));       // no header
  CHECK(!profile_table_to_json(std::string(table) + "train X 1 2 3 4 5 6\n"));  // a column too many
}

TEST_CASE("metrics: Prometheus text of a snapshot, parsed back") {
  if (!metrics_available()) {
    MESSAGE("built without prometheus-cpp: no metrics text");
    CHECK(metrics_text(two_zones()).empty());
    return;
  }
  ProxySnapshot s = two_zones();
  const auto ops = xg::idm::all_ops();
  REQUIRE(ops.size() > 3);
  s.zones[1].calls_by_op[0] = 5;
  s.zones[1].calls_by_op[3] = 7;
  s.zones[1].errors_by_result[2] = 4;  // CUDA_ERROR_OUT_OF_MEMORY
  s.zones[1].oom_refusals = 4;
  const Scrape m = parse_metrics(metrics_text(s));
  const std::string beta = "zone=\"beta\"";
  CHECK(m.samples.at("xen_gpu_zone_memory_quota_bytes{zone=\"alpha\"}") == double(512ull << 20));
  CHECK(m.samples.at("xen_gpu_zone_memory_used_bytes{" + beta + "}") == double(12ull << 20));
  CHECK(m.samples.at("xen_gpu_zone_memory_overhead_bytes{" + beta + "}") == double(2ull << 20));
  CHECK(m.samples.at("xen_gpu_zone_gpu_time_seconds_total{" + beta + "}") == doctest::Approx(90.4));
  CHECK(m.samples.at("xen_gpu_zone_programs{" + beta + "}") == 3);
  CHECK(m.samples.at("xen_gpu_zone_weight{" + beta + "}") == 7);
  CHECK(m.samples.at("xen_gpu_zone_oom_refusals_total{" + beta + "}") == 4);
  CHECK(m.samples.at("xen_gpu_zone_calls_total{" + beta + ",op=\"" + ops[0].name + "\"}") == 5);
  CHECK(m.samples.at("xen_gpu_zone_calls_total{" + beta + ",op=\"" + ops[3].name + "\"}") == 7);
  CHECK(m.samples.count("xen_gpu_zone_calls_total{" + beta + ",op=\"" + ops[1].name + "\"}") == 0);  // never called
  CHECK(m.samples.at("xen_gpu_zone_errors_total{" + beta + ",result=\"CUDA_ERROR_OUT_OF_MEMORY\"}") == 4);
  CHECK(m.types.at("xen_gpu_zone_gpu_time_seconds_total") == "counter");
  CHECK(m.types.at("xen_gpu_zone_calls_total") == "counter");
  CHECK(m.types.at("xen_gpu_zone_memory_used_bytes") == "gauge");
  // The GPU: memory total from the driver probe; NVML's values absent, not zero.
  CHECK(m.samples.at("xen_gpu_gpu_memory_total_bytes{gpu=\"0\"}") == double(16ull << 30));
  CHECK(m.types.count("xen_gpu_gpu_utilization_ratio") == 0);
  CHECK(m.types.count("xen_gpu_gpu_temperature_celsius") == 0);
  CHECK(m.types.count("xen_gpu_gpu_memory_used_bytes") == 0);
  CHECK(m.types.count("xen_gpu_driver_info") == 0);

  s.gpu.utilization = 0.5;
  s.gpu.temperature_celsius = 40;
  s.gpu.memory_used_bytes = 1ull << 30;
  s.gpu.driver_version = "580.159.04";
  const Scrape n = parse_metrics(metrics_text(s));
  CHECK(n.samples.at("xen_gpu_gpu_utilization_ratio{gpu=\"0\"}") == 0.5);
  CHECK(n.samples.at("xen_gpu_gpu_temperature_celsius{gpu=\"0\"}") == 40);
  CHECK(n.samples.at("xen_gpu_gpu_memory_used_bytes{gpu=\"0\"}") == double(1ull << 30));
  CHECK(n.samples.at("xen_gpu_driver_info{version=\"580.159.04\"}") == 1);
}

TEST_CASE("metrics: a bad address is refused with a reason, and so is a port in use") {
  std::string error;
  CHECK(!MetricsServer::start("9400", error));
  CHECK(!error.empty());
  error.clear();
  CHECK(!MetricsServer::start("example.com:9400", error));
  CHECK(!error.empty());
  error.clear();
  CHECK(!MetricsServer::start("127.0.0.1:99999", error));
  CHECK(!error.empty());
  if (!metrics_available()) return;
  // A port another socket listens on.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(fd, 1) == 0);
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  error.clear();
  CHECK(!MetricsServer::start("127.0.0.1:" + std::to_string(ntohs(a.sin_port)), error));
  CHECK(error.find("cannot serve metrics") != std::string::npos);
  ::close(fd);
}
