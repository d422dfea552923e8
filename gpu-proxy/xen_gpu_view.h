// xen-gpu's listing commands: `zones` (rendered for people, --json for scripts, --table for the daemon's
// fixed-column table), `profile` (--json) and `top` (a refreshing view; one frame per interval over a pipe).
// xen_gpu_main.cc registers them; the rendering is zone_view.h's.
#pragma once

#include <cstdint>
#include <string>

namespace xg::proxy {

enum class ZonesFormat { kHuman, kJson, kTable };
// Exit status: 0, or 3 when the proxy cannot be reached or answers an error (said on stderr).
[[nodiscard]] int zones_command(const std::string& admin_socket, ZonesFormat format);
[[nodiscard]] int profile_command(const std::string& admin_socket, const std::string& zone, bool json);

struct TopOptions {
  double interval_s = 1.0;
  uint64_t iterations = 0;  // frames before exiting; 0: until `q`, SIGINT or SIGTERM
};
[[nodiscard]] int top_command(const std::string& admin_socket, const TopOptions& o);

}  // namespace xg::proxy
