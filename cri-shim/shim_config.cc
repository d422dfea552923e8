#include "cri-shim/shim_config.h"

#include <cstdlib>
#include <fstream>

#include "gpu-proxy/units.h"

namespace xg::shim {
namespace {

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

}  // namespace

bool load_shim_config(const std::string& path, bool must_exist, ShimConfig& cfg, std::string& error) {
  std::ifstream in(path);
  if (!in) {
    if (!must_exist) return true;
    error = "cannot read the shim config " + path;
    return false;
  }
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (const auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    line = trim(line);
    if (line.empty()) continue;
    const auto eq = line.find('=');
    const std::string where = path + ":" + std::to_string(n) + ": ";
    if (eq == std::string::npos) {
      error = where + "expected key = value";
      return false;
    }
    const std::string key = trim(line.substr(0, eq)), value = trim(line.substr(eq + 1));
    if (key == "admin_socket") cfg.admin_socket = value;
    else if (key == "libvgpu_dir") cfg.libvgpu_dir = value;
    else if (key == "runc") cfg.runc = value;
    else if (key == "runc_root") cfg.runc_root = value;
    else if (key == "socket_dir") cfg.socket_dir = value;
    else if (key == "default_memory") {
      const auto q = proxy::parse_size(value);
      if (!q || *q == 0) {
        error = where + "default_memory '" + value + "' is not a size (e.g. 4GiB)";
        return false;
      }
      cfg.default_memory = *q;
    } else if (key == "default_weight") {
      const auto w = proxy::parse_weight(value);
      if (!w) {
        error = where + "default_weight '" + value + "' is not a weight (1.." + std::to_string(proxy::kMaxWeight) + ")";
        return false;
      }
      cfg.default_weight = *w;
    } else {
      error = where + "unknown key '" + key + "'";
      return false;
    }
  }
  return true;
}

bool load_shim_config_for(const std::string& options_config_path, ShimConfig& cfg, std::string& error) {
  if (!options_config_path.empty()) return load_shim_config(options_config_path, true, cfg, error);
  if (const char* env = std::getenv("XEN_GPU_SHIM_CONFIG"); env && *env) return load_shim_config(env, true, cfg, error);
  return load_shim_config("/etc/xen-gpu/shim.conf", false, cfg, error);
}

}  // namespace xg::shim
