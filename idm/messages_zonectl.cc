#include "idm/messages_zonectl.h"

#include <cstring>

namespace xg::idm {
namespace {

bool id_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-';
}

bool valid_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > kMaxCtlId) return false;
  for (char c : id)
    if (!id_char(c)) return false;
  return true;
}

// Absolute, and no ".." component (the zone resolves it inside the container's root, but a path that climbs is
// never what a spec meant).
bool valid_cwd(std::string_view cwd) noexcept {
  if (cwd.empty() || cwd.front() != '/' || cwd.size() > 4096) return false;
  size_t pos = 0;
  while (pos < cwd.size()) {
    size_t next = cwd.find('/', pos);
    if (next == std::string_view::npos) next = cwd.size();
    if (cwd.substr(pos, next - pos) == "..") return false;
    pos = next + 1;
  }
  return true;
}

constexpr size_t kEventBytes = sizeof(CtlEvent);
static_assert(kEventBytes == 16);

size_t padded(size_t n) noexcept { return (n + 3) & ~size_t{3}; }

}  // namespace

std::optional<CtlStartStrings> parse_ctl_start(const CtlStartReq& req, std::span<const std::byte> tail) {
  if (req.argc == 0 || req.argc > kMaxCtlStrings || req.envc > kMaxCtlStrings ||
      req.argc + req.envc > kMaxCtlStrings || tail.size() > kMaxCtlStartTail)
    return std::nullopt;
  const std::string_view all(reinterpret_cast<const char*>(tail.data()), tail.size());
  std::vector<std::string_view> parts;
  const size_t want = 3 + size_t{req.argc} + req.envc;
  parts.reserve(want);
  size_t pos = 0;
  while (pos < all.size()) {
    const size_t nul = all.find('\0', pos);
    if (nul == std::string_view::npos) return std::nullopt;  // an unterminated last string
    if (parts.size() == want) return std::nullopt;           // more strings than announced
    parts.push_back(all.substr(pos, nul - pos));
    pos = nul + 1;
  }
  if (parts.size() != want) return std::nullopt;
  CtlStartStrings s;
  s.id = parts[0];
  s.cwd = parts[1];
  s.hostname = parts[2];
  if (!valid_id(s.id) || !valid_cwd(s.cwd) || s.hostname.size() > 64) return std::nullopt;
  s.argv.assign(parts.begin() + 3, parts.begin() + 3 + req.argc);
  s.env.assign(parts.begin() + 3 + req.argc, parts.end());
  if (s.argv.front().empty()) return std::nullopt;
  return s;
}

bool CtlStartReq::valid(std::span<const std::byte> tail) const noexcept {
  if (proc_id == 0 || (flags & ~uint32_t{kCtlStartFlagsKnown}) != 0) return false;
  if (container_proc == 0 ? rootfs_disk >= kMaxCtlDisks : (rootfs_disk != 0 || container_proc == proc_id))
    return false;
  try {
    return parse_ctl_start(*this, tail).has_value();
  } catch (...) {  // allocation failure: refuse, never throw out of a validator
    return false;
  }
}

std::vector<std::byte> encode_ctl_start(const CtlStartStrings& s) {
  std::vector<std::byte> out;
  auto put = [&](std::string_view v) {
    const auto* p = reinterpret_cast<const std::byte*>(v.data());
    out.insert(out.end(), p, p + v.size());
    out.push_back(std::byte{0});
  };
  put(s.id);
  put(s.cwd);
  put(s.hostname);
  for (auto a : s.argv) put(a);
  for (auto e : s.env) put(e);
  if (out.size() > kMaxCtlStartTail) out.clear();
  return out;
}

bool parse_ctl_events(std::span<const std::byte> tail, uint32_t events,
                      const std::function<void(const CtlEvent&, std::span<const std::byte>)>& on) {
  size_t pos = 0;
  for (uint32_t i = 0; i < events; ++i) {
    if (tail.size() - pos < kEventBytes) return false;
    CtlEvent ev;
    std::memcpy(&ev, tail.data() + pos, kEventBytes);
    pos += kEventBytes;
    if (ev.proc_id == 0) return false;
    switch (static_cast<CtlEventType>(ev.type)) {
      case CtlEventType::kOutput:
        if ((ev.stream != 1 && ev.stream != 2) || ev.value != 0 || ev.length == 0) return false;
        break;
      case CtlEventType::kExit:
        if (ev.stream != 0 || ev.length != 0 || ev.value < 0 || ev.value > 255) return false;
        break;
      default:
        return false;
    }
    if (ev.length > tail.size() - pos) return false;
    const auto bytes = tail.subspan(pos, ev.length);
    const size_t step = padded(ev.length);
    if (step > tail.size() - pos) return false;
    pos += step;
    on(ev, bytes);
  }
  return pos == tail.size();
}

bool append_ctl_event(std::vector<std::byte>& tail, const CtlEvent& ev, std::span<const std::byte> bytes,
                      size_t limit) {
  if (bytes.size() != ev.length) return false;
  const size_t need = kEventBytes + padded(bytes.size());
  if (tail.size() > limit || need > limit - tail.size()) return false;
  const auto* p = reinterpret_cast<const std::byte*>(&ev);
  tail.insert(tail.end(), p, p + kEventBytes);
  tail.insert(tail.end(), bytes.begin(), bytes.end());
  tail.resize(tail.size() + (padded(bytes.size()) - bytes.size()), std::byte{0});
  return true;
}

}  // namespace xg::idm
