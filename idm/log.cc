#include "idm/log.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>

namespace xg::idm {
namespace {
std::mutex g_mu;
std::string g_prefix = "xen-gpu";
}  // namespace

void set_log_prefix(std::string_view prefix) noexcept {
  std::lock_guard lock(g_mu);
  g_prefix.assign(prefix);
}

void log_line(std::string_view msg) noexcept {
  std::lock_guard lock(g_mu);
  std::fprintf(stderr, "%s: %.*s\n", g_prefix.c_str(), static_cast<int>(msg.size()), msg.data());
}

void log_errno(std::string_view what) noexcept {
  const int e = errno;
  std::string s(what);
  s += ": ";
  s += std::strerror(e);
  log_line(s);
}

}  // namespace xg::idm
