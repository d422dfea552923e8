#include "gpu-proxy/zone_snapshot.h"

#include <nlohmann/json.hpp>

#include <cstring>

#include "cuda/errors.h"
#include "idm/protocol.h"

namespace xg::proxy {
namespace {

using nlohmann::json;

template <typename T>
void put_opt(json& j, const char* key, const std::optional<T>& v) {
  if (v) j[key] = *v;
}
template <typename T>
void get_opt(const json& j, const char* key, std::optional<T>& v) {
  if (auto it = j.find(key); it != j.end() && !it->is_null()) v = it->get<T>();
}

std::string result_name(int32_t code) {
  const char* n = cuda::error_name(code);
  return n ? n : "CUresult_" + std::to_string(code);
}

json program_json(const ProgramSnapshot& p) {
  return {{"worker_pid", p.worker_pid}, {"zone_pid", p.zone_pid},         {"state", p.state},
          {"device_bytes", p.device_bytes}, {"overhead_bytes", p.overhead_bytes}, {"calls", p.calls},
          {"handles", p.handles}};
}

json zone_json(const ZoneSnapshot& z) {
  json j = {{"id", z.id},
            {"name", z.name},
            {"pod", z.pod},
            {"state", z.state},
            {"weight", z.weight},
            {"quota_bytes", z.quota_bytes},
            {"used_bytes", z.used_bytes},
            {"overhead_bytes", z.overhead_bytes},
            {"peak_bytes", z.peak_bytes},
            {"gpu_ns", z.gpu_ns},
            {"gpu_share", z.gpu_share},
            {"calls_per_s", z.calls_per_s},
            {"calls", z.calls},
            {"rejected", z.rejected},
            {"oom_refusals", z.oom_refusals}};
  put_opt(j, "xen_domid", z.xen_domid);
  // Opcodes and results by name, non-zero ones only: what a script greps for.
  json ops = json::object();
  const auto all = idm::all_ops();
  for (size_t i = 0; i < all.size() && i < z.calls_by_op.size(); ++i)
    if (z.calls_by_op[i] != 0) ops[all[i].name] = z.calls_by_op[i];
  j["calls_by_op"] = ops;
  json errors = json::object();
  for (const auto& [code, n] : z.errors_by_result) errors[result_name(code)] = {{"code", code}, {"calls", n}};
  j["errors_by_result"] = errors;
  json programs = json::array();
  for (const ProgramSnapshot& p : z.programs) programs.push_back(program_json(p));
  j["programs"] = programs;
  return j;
}

ProgramSnapshot program_from(const json& j) {
  ProgramSnapshot p;
  p.worker_pid = j.at("worker_pid").get<int32_t>();
  p.zone_pid = j.at("zone_pid").get<uint32_t>();
  p.state = j.at("state").get<std::string>();
  p.device_bytes = j.at("device_bytes").get<uint64_t>();
  p.overhead_bytes = j.at("overhead_bytes").get<uint64_t>();
  p.calls = j.at("calls").get<uint64_t>();
  p.handles = j.at("handles").get<uint64_t>();
  return p;
}

ZoneSnapshot zone_from(const json& j) {
  ZoneSnapshot z;
  z.id = j.at("id").get<uint32_t>();
  z.name = j.at("name").get<std::string>();
  z.pod = j.at("pod").get<std::string>();
  z.state = j.at("state").get<std::string>();
  get_opt(j, "xen_domid", z.xen_domid);
  z.weight = j.at("weight").get<uint32_t>();
  z.quota_bytes = j.at("quota_bytes").get<uint64_t>();
  z.used_bytes = j.at("used_bytes").get<uint64_t>();
  z.overhead_bytes = j.at("overhead_bytes").get<uint64_t>();
  z.peak_bytes = j.at("peak_bytes").get<uint64_t>();
  z.gpu_ns = j.at("gpu_ns").get<uint64_t>();
  z.gpu_share = j.at("gpu_share").get<double>();
  z.calls_per_s = j.at("calls_per_s").get<double>();
  z.calls = j.at("calls").get<uint64_t>();
  z.rejected = j.at("rejected").get<uint64_t>();
  z.oom_refusals = j.at("oom_refusals").get<uint64_t>();
  const auto all = idm::all_ops();
  for (const auto& [op, n] : j.at("calls_by_op").items())
    for (size_t i = 0; i < all.size() && i < z.calls_by_op.size(); ++i)
      if (op == all[i].name) z.calls_by_op[i] = n.get<uint64_t>();
  for (const auto& [name, e] : j.at("errors_by_result").items())
    z.errors_by_result[e.at("code").get<int32_t>()] = e.at("calls").get<uint64_t>();
  for (const json& p : j.at("programs")) z.programs.push_back(program_from(p));
  return z;
}

}  // namespace

std::string to_json(const ProxySnapshot& s) {
  json gpu = {{"name", s.gpu.name}, {"context_overhead_bytes", s.gpu.context_overhead_bytes}};
  put_opt(gpu, "memory_total_bytes", s.gpu.memory_total_bytes);
  put_opt(gpu, "memory_used_bytes", s.gpu.memory_used_bytes);
  put_opt(gpu, "utilization", s.gpu.utilization);
  put_opt(gpu, "temperature_celsius", s.gpu.temperature_celsius);
  if (!s.gpu.driver_version.empty()) gpu["driver_version"] = s.gpu.driver_version;
  json zones = json::array();
  for (const ZoneSnapshot& z : s.zones) zones.push_back(zone_json(z));
  return json{{"interval_s", s.interval_s}, {"gpu", gpu}, {"zones", zones}}.dump();
}

std::optional<ProxySnapshot> snapshot_from_json(std::string_view text, std::string& error) {
  try {
    const json j = json::parse(text);
    ProxySnapshot s;
    s.interval_s = j.at("interval_s").get<double>();
    const json& gpu = j.at("gpu");
    s.gpu.name = gpu.at("name").get<std::string>();
    s.gpu.context_overhead_bytes = gpu.at("context_overhead_bytes").get<uint64_t>();
    get_opt(gpu, "memory_total_bytes", s.gpu.memory_total_bytes);
    get_opt(gpu, "memory_used_bytes", s.gpu.memory_used_bytes);
    get_opt(gpu, "utilization", s.gpu.utilization);
    get_opt(gpu, "temperature_celsius", s.gpu.temperature_celsius);
    if (auto it = gpu.find("driver_version"); it != gpu.end()) s.gpu.driver_version = it->get<std::string>();
    for (const json& z : j.at("zones")) s.zones.push_back(zone_from(z));
    return s;
  } catch (const json::exception& e) {
    error = e.what();
    return std::nullopt;
  }
}

}  // namespace xg::proxy
