#include "idm/xen/device_claim.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <string>

#include "idm/xen/xen_c.h"
#include "idm/xen/xen_handshake.h"

namespace xg::idm::xen {
namespace {

std::string device_dir() { return std::string("device/") + kDeviceType; }

std::optional<std::string> read_in(xs_handle* xs, xs_transaction_t t, const std::string& path) {
  unsigned int len = 0;
  char* v = static_cast<char*>(::xs_read(xs, t, path.c_str(), &len));
  if (v == nullptr) return std::nullopt;
  std::string s(v, std::min<unsigned int>(len, 64));
  std::free(v);
  return s;
}

}  // namespace

std::vector<uint32_t> xs_device_ids(xs_handle* xs) {
  std::vector<uint32_t> ids;
  unsigned int n = 0;
  char** entries = ::xs_directory(xs, XBT_NULL, device_dir().c_str(), &n);
  if (entries == nullptr) return ids;
  for (unsigned int i = 0; i < n && i < 1024; ++i)
    if (auto v = parse_u32(entries[i]); v && *v <= 0xFFFF) ids.push_back(*v);
  std::free(entries);
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::optional<uint32_t> claim_free_device(xs_handle* xs) {
  for (uint32_t id : xs_device_ids(xs)) {
    const std::string dir = device_dir() + "/" + std::to_string(id);
    for (int attempt = 0; attempt < 8; ++attempt) {
      xs_transaction_t t = ::xs_transaction_start(xs);
      if (t == XBT_NULL) return std::nullopt;
      const int64_t now = static_cast<int64_t>(::time(nullptr));
      const bool take = device_claimable(read_in(xs, t, dir + "/state"), read_in(xs, t, dir + "/backend-id"),
                                         read_in(xs, t, dir + "/claim"), now);
      const std::string value = std::to_string(now);
      const bool wrote = take && ::xs_write(xs, t, (dir + "/claim").c_str(), value.data(), value.size());
      if (::xs_transaction_end(xs, t, false)) {
        if (wrote) return id;
        break;  // not free: the next device
      }
      if (errno != EAGAIN) break;  // another program touched it meanwhile: look again
    }
  }
  return std::nullopt;
}

}  // namespace xg::idm::xen
