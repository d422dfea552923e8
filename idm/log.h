// One log line per rejected input or notable event, to stderr (journald picks it up under systemd).
#pragma once

#include <string_view>

namespace xg::idm {

void log_line(std::string_view msg) noexcept;
void log_errno(std::string_view what) noexcept;  // appends strerror(errno)
// Program name prefix for every line ("gpu-proxy[zone 3]").
void set_log_prefix(std::string_view prefix) noexcept;

}  // namespace xg::idm
