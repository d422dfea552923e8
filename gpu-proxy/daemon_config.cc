#include <unistd.h>

#include <fstream>
#include <sstream>

#include "gpu-proxy/control.h"
#include "gpu-proxy/daemon.h"
#include "gpu-proxy/units.h"

namespace xg::proxy {

std::string resolve_driver(const std::string& driver, const std::string& self_exe) {
  if (driver == "real") return "libcuda.so.1";
  if (driver != "sim") return driver;
  const std::string dir = self_exe.substr(0, self_exe.rfind('/'));
  for (const std::string& c : {dir + "/../sim/libcuda.so.1", dir + "/../lib/xen-gpu/sim/libcuda.so.1",
                               std::string("/usr/local/lib/xen-gpu/sim/libcuda.so.1")}) {
    if (::access(c.c_str(), R_OK) == 0) return c;
  }
  return dir + "/../sim/libcuda.so.1";
}

bool load_config(const std::string& path, DaemonOptions& opts, std::string& error) {
  std::ifstream in(path);
  if (!in) {
    error = "cannot read " + path;
    return false;
  }
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream ls(line);
    std::string kind;
    if (!(ls >> kind)) continue;
    ZonePolicy z{"", opts.default_quota, opts.default_weight, opts.default_limits, -1, "", ""};
    if (kind == "zone" && !(ls >> z.name && valid_zone_name(z.name))) {
      error = path + ":" + std::to_string(lineno) + ": zone needs a valid name";
      return false;
    }
    if (kind != "zone" && kind != "default") {
      error = path + ":" + std::to_string(lineno) + ": unknown entry '" + kind + "'";
      return false;
    }
    std::string kv;
    while (ls >> kv) {
      const auto eq = kv.find('=');
      const std::string key = kv.substr(0, eq), val = eq == std::string::npos ? "" : kv.substr(eq + 1);
      if (key == "quota" && parse_size(val)) {
        z.quota_bytes = *parse_size(val);
      } else if (key == "weight" && parse_weight(val)) {
        z.weight = *parse_weight(val);
      } else if (auto limit = limit_by_name(key); limit && parse_count(val, 1, kMaxLimitValue)) {
        z.limits[*limit] = static_cast<uint32_t>(*parse_count(val, 1, kMaxLimitValue));
      } else {
        error = path + ":" + std::to_string(lineno) + ": bad setting '" + kv + "'";
        return false;
      }
    }
    if (kind == "default") {
      opts.default_quota = z.quota_bytes;
      opts.default_weight = z.weight;
      opts.default_limits = z.limits;
    } else {
      opts.zones.push_back(z);
    }
  }
  return true;
}

}  // namespace xg::proxy
