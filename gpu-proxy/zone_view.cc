#include "gpu-proxy/zone_view.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <vector>

#include "gpu-proxy/units.h"

namespace xg::proxy {
namespace {

// A table for people: columns as wide as their widest cell, two spaces apart; numbers right-aligned.
class Table {
 public:
  struct Column {
    const char* title;
    bool right;
  };
  explicit Table(std::vector<Column> cols) : cols_(std::move(cols)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  [[nodiscard]] std::string str() const {
    std::vector<size_t> w(cols_.size());
    for (size_t c = 0; c < cols_.size(); ++c) w[c] = std::string_view(cols_[c].title).size();
    for (const auto& r : rows_)
      for (size_t c = 0; c < r.size() && c < w.size(); ++c) w[c] = std::max(w[c], r[c].size());
    std::string out;
    auto line = [&](auto cell) {
      std::string l;
      for (size_t c = 0; c < cols_.size(); ++c) {
        const std::string v = cell(c);
        const std::string pad(w[c] - v.size(), ' ');
        if (c) l += "  ";
        l += cols_[c].right ? pad + v : v + pad;
      }
      while (!l.empty() && l.back() == ' ') l.pop_back();  // no trailing blanks after the last column
      out += l + "\n";
    };
    line([&](size_t c) { return std::string(cols_[c].title); });
    for (const auto& r : rows_) line([&](size_t c) { return c < r.size() ? r[c] : std::string(); });
    return out;
  }

 private:
  std::vector<Column> cols_;
  std::vector<std::vector<std::string>> rows_;
};

std::string fmt(const char* f, double v) {
  char buf[48];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string percent(double ratio) { return fmt("%.1f%%", ratio * 100); }

// Calls per second: whole numbers, then thousands and millions.
std::string rate(double r) {
  if (r < 999.5) return fmt("%.0f", r);
  if (r < 999.5e3) return fmt("%.1fk", r / 1e3);
  return fmt("%.1fM", r / 1e6);
}

std::string or_dash(const std::string& s) { return s.empty() ? "-" : s; }

std::string memory(const ZoneSnapshot& z) { return format_size(z.used_bytes) + "/" + format_size(z.quota_bytes); }

Table zone_table() {
  return Table({{"ZONE", false},
                {"STATE", false},
                {"POD", false},
                {"PROGRAMS", true},
                {"WEIGHT", true},
                {"MEMORY", true},
                {"OVERHEAD", true},
                {"GPU%", true},
                {"CALLS/S", true},
                {"GPU_TIME", true}});
}

void add_zone(Table& t, const ZoneSnapshot& z) {
  t.add({z.name, z.state, or_dash(z.pod), std::to_string(z.programs.size()), std::to_string(z.weight), memory(z),
         format_size(z.overhead_bytes), percent(z.gpu_share), rate(z.calls_per_s),
         format_duration(double(z.gpu_ns) / 1e9)});
}

// "GPU: NAME, util 37.0%, memory 1.0GiB/80GiB, 41C, driver 580.1": only what the snapshot knows.
std::string gpu_line(const GpuSnapshot& g) {
  std::string l = "GPU: " + (g.name.empty() ? std::string("unknown") : g.name);
  if (g.utilization) l += ", util " + percent(*g.utilization);
  if (g.memory_used_bytes && g.memory_total_bytes)
    l += ", memory " + format_size(*g.memory_used_bytes) + "/" + format_size(*g.memory_total_bytes);
  else if (g.memory_total_bytes) l += ", memory " + format_size(*g.memory_total_bytes);
  if (g.temperature_celsius) l += ", " + fmt("%.0fC", *g.temperature_celsius);
  if (!g.driver_version.empty()) l += ", driver " + g.driver_version;
  return l;
}

std::string cut_lines(const std::string& text, size_t width) {
  if (width == 0) return text;
  std::string out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out += l.substr(0, width) + "\n";
  return out;
}

}  // namespace

std::string render_zones(const ProxySnapshot& s) {
  Table t = zone_table();
  for (const ZoneSnapshot& z : s.zones) add_zone(t, z);
  return t.str();
}

std::string render_top(const ProxySnapshot& s, size_t width) {
  std::vector<const ZoneSnapshot*> order;
  for (const ZoneSnapshot& z : s.zones) order.push_back(&z);
  std::stable_sort(order.begin(), order.end(), [](const ZoneSnapshot* a, const ZoneSnapshot* b) {
    if (a->gpu_share != b->gpu_share) return a->gpu_share > b->gpu_share;
    if (a->calls_per_s != b->calls_per_s) return a->calls_per_s > b->calls_per_s;
    return a->name < b->name;
  });
  size_t programs = 0;
  uint64_t used = 0, quota = 0;
  double share = 0, calls = 0;
  for (const ZoneSnapshot* z : order) {
    programs += z->programs.size();
    used += z->used_bytes;
    quota += z->quota_bytes;
    share += z->gpu_share;
    calls += z->calls_per_s;
  }
  std::string out = gpu_line(s.gpu) + "\n";
  out += std::to_string(order.size()) + " zone(s), " + std::to_string(programs) + " program(s); zones use " +
         format_size(used) + " of " + format_size(quota) + " quota; GPU " + percent(std::min(share, 1.0)) + ", " +
         rate(calls) + " calls/s over the last " + format_duration(s.interval_s) + "\n";
  Table t = zone_table();
  for (const ZoneSnapshot* z : order) add_zone(t, *z);
  return cut_lines(out + t.str(), width);
}

std::optional<std::string> profile_table_to_json(std::string_view table) {
  nlohmann::json rows = nlohmann::json::array();
  std::istringstream in{std::string(table)};
  bool header = true;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    if (header) {  // the table's own header line names its columns
      header = false;
      if (line.rfind("ZONE", 0) != 0) return std::nullopt;
      continue;
    }
    std::istringstream f(line);
    std::string zone, op;
    unsigned long long calls = 0;
    double mean = 0, p50 = 0, p99 = 0, total = 0;
    std::string rest;
    if (!(f >> zone >> op >> calls >> mean >> p50 >> p99 >> total) || (f >> rest)) return std::nullopt;
    rows.push_back({{"zone", zone},
                    {"opcode", op},
                    {"calls", calls},
                    {"mean_us", mean},
                    {"p50_us_le", p50},
                    {"p99_us_le", p99},
                    {"total_ms", total}});
  }
  return rows.dump();
}

}  // namespace xg::proxy
