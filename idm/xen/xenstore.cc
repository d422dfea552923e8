#include "idm/xen/xenstore.h"

#include <poll.h>

#include <cstdlib>
#include <ctime>

#include "idm/xen/xen_c.h"

namespace xg::idm::xen {

void XsCloser::operator()(xs_handle* h) const noexcept {
  if (h) ::xs_close(h);
}

XsPtr xs_connect() noexcept { return XsPtr(::xs_open(0)); }

DevicePaths device_paths(uint32_t frontend_domid, uint32_t backend_domid, uint32_t devid, std::string_view type) {
  DevicePaths p;
  const std::string t(type);
  p.frontend = "/local/domain/" + std::to_string(frontend_domid) + "/device/" + t + "/" + std::to_string(devid);
  p.backend = "/local/domain/" + std::to_string(backend_domid) + "/backend/" + t + "/" +
              std::to_string(frontend_domid) + "/" + std::to_string(devid);
  return p;
}

std::optional<std::string> xs_get(xs_handle* xs, const std::string& path) noexcept {
  unsigned len = 0;
  void* v = ::xs_read(xs, XBT_NULL, path.c_str(), &len);
  if (!v) return std::nullopt;
  std::optional<std::string> out;
  if (len <= kMaxValueBytes) out.emplace(static_cast<const char*>(v), len);
  std::free(v);
  return out;
}

bool xs_put(xs_handle* xs, const std::string& path, std::string_view value) noexcept {
  return ::xs_write(xs, XBT_NULL, path.c_str(), value.data(), static_cast<unsigned>(value.size()));
}

LinkState xs_state(xs_handle* xs, const std::string& dir) noexcept {
  auto v = xs_get(xs, dir + "/state");
  auto s = parse_state(v ? std::optional<std::string_view>(*v) : std::nullopt);
  return s.value_or(LinkState::kUnknown);
}

bool xs_set_state(xs_handle* xs, const std::string& dir, LinkState s) noexcept {
  return xs_put(xs, dir + "/state", std::to_string(static_cast<int>(s)));
}

std::optional<uint32_t> xs_self_domid(xs_handle* xs) noexcept {
  auto v = xs_get(xs, "domid");
  return v ? parse_u32(*v) : std::nullopt;
}

bool xs_domain_alive(xs_handle* xs, uint32_t domid) noexcept { return ::xs_is_domain_introduced(xs, domid); }

void xs_wait(xs_handle* xs, Clock::time_point until) noexcept {
  const auto now = Clock::now();
  if (now < until) {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(until - now).count();
    timespec ts{static_cast<time_t>(us / 1'000'000), static_cast<long>(us % 1'000'000) * 1000};
    pollfd p{::xs_fileno(xs), POLLIN, 0};
    ::ppoll(&p, 1, &ts, nullptr);
  }
  while (char** ev = ::xs_check_watch(xs)) std::free(ev);
}

}  // namespace xg::idm::xen
