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

}  // namespace

bool valid_ctl_mount_path(std::string_view p, bool absolute) noexcept {
  if (p.empty() || p.size() > kMaxCtlMountPath) return false;
  if (absolute != (p.front() == '/')) return false;
  if (absolute) p.remove_prefix(1);
  if (p.empty()) return false;  // "/" itself: the container's root is not a mount point
  size_t pos = 0;
  while (pos <= p.size()) {
    size_t next = p.find('/', pos);
    if (next == std::string_view::npos) next = p.size();
    const auto part = p.substr(pos, next - pos);
    if (part.empty() || part == "." || part == "..") return false;
    pos = next + 1;
  }
  return p.find('\0') == std::string_view::npos;
}

bool valid_ctl_mount(const CtlMountEntry& e) noexcept {
  const CtlMount& m = e.m;
  if ((m.flags & ~uint32_t{kCtlMountFlagsKnown}) != 0 || m.reserved != 0) return false;
  if (!valid_ctl_mount_path(e.destination, true)) return false;
  switch (static_cast<CtlMountKind>(m.kind)) {
    case CtlMountKind::kImage:
      return m.size == 0 && m.mode == 0 && valid_ctl_mount_path(e.source, false);
    case CtlMountKind::kVolume:
      return m.size == 0 && m.mode == 0 && (m.flags & kCtlMountDir) && valid_id(e.source) &&
             e.source != "." && e.source != "..";  // a name under the zone's volume directory, never it or above
    case CtlMountKind::kTmpfs:
      return m.size <= (uint64_t{1} << 40) && m.mode <= 07777 && (m.flags & kCtlMountDir) && e.source.empty();
  }
  return false;
}

namespace {

constexpr size_t kEventBytes = sizeof(CtlEvent);
static_assert(kEventBytes == 16);

size_t padded(size_t n) noexcept { return (n + 3) & ~size_t{3}; }

}  // namespace

std::optional<CtlStartStrings> parse_ctl_start(const CtlStartReq& req, std::span<const std::byte> tail) {
  if (req.argc == 0 || req.argc > kMaxCtlStrings || req.envc > kMaxCtlStrings ||
      req.argc + req.envc > kMaxCtlStrings || tail.size() > kMaxCtlStartTail || req.ngroups > kMaxCtlGroups ||
      req.nrlimits > kMaxCtlRlimits || req.nmounts > kMaxCtlMounts || req.nfilter > kMaxCtlFilterInsns)
    return std::nullopt;
  // The binary part first: gids, rlimits, mounts, filter (counts bounded above, so no overflow).
  const size_t mounts_at = size_t{req.ngroups} * sizeof(uint32_t) + size_t{req.nrlimits} * sizeof(CtlRlimit);
  const size_t filter_at = mounts_at + size_t{req.nmounts} * sizeof(CtlMount);
  const size_t binary = filter_at + size_t{req.nfilter} * sizeof(CtlFilterInsn);
  if (binary > tail.size()) return std::nullopt;
  CtlStartStrings s;
  s.groups.resize(req.ngroups);
  if (req.ngroups) std::memcpy(s.groups.data(), tail.data(), req.ngroups * sizeof(uint32_t));
  s.rlimits.resize(req.nrlimits);
  if (req.nrlimits)
    std::memcpy(s.rlimits.data(), tail.data() + req.ngroups * sizeof(uint32_t), req.nrlimits * sizeof(CtlRlimit));
  std::vector<CtlMount> mounts(req.nmounts);
  if (req.nmounts) std::memcpy(mounts.data(), tail.data() + mounts_at, req.nmounts * sizeof(CtlMount));
  s.filter.resize(req.nfilter);
  if (req.nfilter) std::memcpy(s.filter.data(), tail.data() + filter_at, req.nfilter * sizeof(CtlFilterInsn));
  uint32_t seen = 0;
  for (const CtlRlimit& r : s.rlimits) {
    if (r.resource >= kMaxCtlRlimits || r.reserved != 0 || r.soft > r.hard || (seen & (1u << r.resource)))
      return std::nullopt;
    seen |= 1u << r.resource;
  }
  tail = tail.subspan(binary);
  const std::string_view all(reinterpret_cast<const char*>(tail.data()), tail.size());
  std::vector<std::string_view> parts;
  const size_t want = 3 + size_t{req.argc} + req.envc + 2 * size_t{req.nmounts};
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
  s.id = parts[0];
  s.cwd = parts[1];
  s.hostname = parts[2];
  if (!valid_id(s.id) || !valid_cwd(s.cwd) || s.hostname.size() > 64) return std::nullopt;
  s.argv.assign(parts.begin() + 3, parts.begin() + 3 + req.argc);
  const auto env_end = parts.begin() + 3 + req.argc + req.envc;
  s.env.assign(parts.begin() + 3 + req.argc, env_end);
  if (s.argv.front().empty()) return std::nullopt;
  s.mounts.reserve(req.nmounts);
  for (uint32_t i = 0; i < req.nmounts; ++i) {
    CtlMountEntry e{mounts[i], *(env_end + 2 * i), *(env_end + 2 * i + 1)};
    if (!valid_ctl_mount(e)) return std::nullopt;
    // Two mounts on one destination: the second would hide the first, never what a spec meant.
    for (const auto& prev : s.mounts)
      if (prev.destination == e.destination) return std::nullopt;
    s.mounts.push_back(e);
  }
  return s;
}

bool valid_ctl_caps(const CtlCaps& c) noexcept {
  for (uint64_t m : {c.bounding, c.effective, c.permitted, c.inheritable, c.ambient})
    if (m & ~kCtlCapsKnown) return false;
  // What capset(2) and PR_CAP_AMBIENT_RAISE would refuse anyway, refused up front with a clear errno.
  return (c.effective & ~c.permitted) == 0 && (c.ambient & ~(c.permitted & c.inheritable)) == 0;
}

bool valid_ctl_resources(const CtlResources& r) noexcept {
  if (r.reserved != 0 || r.cpu_weight > 10'000) return false;
  if (r.cpu_period_us != 0 && (r.cpu_period_us < 1000 || r.cpu_period_us > 1'000'000)) return false;
  if (r.cpu_quota_us != 0 && (r.cpu_quota_us < 1000 || r.cpu_quota_us > (uint64_t{1} << 40))) return false;
  if (r.cpu_period_us != 0 && r.cpu_quota_us == 0) return false;  // a period alone limits nothing
  return r.memory_max <= (uint64_t{1} << 48) && r.pids_max <= (uint64_t{1} << 22);
}

bool CtlUpdateReq::valid(std::span<const std::byte>) const noexcept {
  if (proc_id == 0 || (unlimit & ~uint32_t{kCtlUnlimitKnown}) != 0 || !valid_ctl_resources(resources)) return false;
  return !((unlimit & kCtlUnlimitMemory) && resources.memory_max) &&
         !((unlimit & kCtlUnlimitCpu) && (resources.cpu_quota_us || resources.cpu_period_us)) &&
         !((unlimit & kCtlUnlimitPids) && resources.pids_max);
}

bool CtlStartReq::valid(std::span<const std::byte> tail) const noexcept {
  if (proc_id == 0 || (flags & ~uint32_t{kCtlStartFlagsKnown}) != 0 || reserved != 0) return false;
  if (container_proc == 0 ? rootfs_disk >= kMaxCtlDisks : (rootfs_disk != 0 || container_proc == proc_id))
    return false;
  if ((flags & kCtlStartOomScoreAdj) ? (oom_score_adj < -1000 || oom_score_adj > 1000) : oom_score_adj != 0)
    return false;
  if (!valid_ctl_caps(caps)) return false;
  if (!(flags & kCtlStartCaps) &&
      (caps.bounding | caps.effective | caps.permitted | caps.inheritable | caps.ambient) != 0)
    return false;
  if (!valid_ctl_resources(resources)) return false;
  if (container_proc != 0 && (nmounts != 0 || mounts_disk != 0)) return false;  // an exec sees its container's
  if (container_proc != 0 && nfilter != 0) return false;  // an exec gets its container's filter
  if ((filter_flags & ~uint32_t{kCtlFilterFlagsKnown}) != 0 || (nfilter == 0 && filter_flags != 0)) return false;
  if (mounts_disk >= kMaxCtlDisks || (mounts_disk != 0 && mounts_disk == rootfs_disk)) return false;
  if (container_proc != 0 && (resources.memory_max | resources.cpu_quota_us | resources.cpu_period_us |
                              resources.pids_max | resources.cpu_weight) != 0)
    return false;  // an exec has its container's limits
  try {
    const auto s = parse_ctl_start(*this, tail);
    if (!s) return false;
    // An image mount needs its own disk, never the rootfs's (disk 0 is a valid mounts_disk only when the rootfs
    // is elsewhere).
    for (const auto& m : s->mounts)
      if (static_cast<CtlMountKind>(m.m.kind) == CtlMountKind::kImage && mounts_disk == rootfs_disk) return false;
    return true;
  } catch (...) {  // allocation failure: refuse, never throw out of a validator
    return false;
  }
}

std::vector<std::byte> encode_ctl_start(const CtlStartStrings& s) {
  std::vector<std::byte> out;
  if (s.groups.size() > kMaxCtlGroups || s.rlimits.size() > kMaxCtlRlimits || s.mounts.size() > kMaxCtlMounts ||
      s.filter.size() > kMaxCtlFilterInsns)
    return out;
  const auto raw = [&](const void* p, size_t n) {
    const auto* b = static_cast<const std::byte*>(p);
    out.insert(out.end(), b, b + n);
  };
  if (!s.groups.empty()) raw(s.groups.data(), s.groups.size() * sizeof(uint32_t));
  if (!s.rlimits.empty()) raw(s.rlimits.data(), s.rlimits.size() * sizeof(CtlRlimit));
  for (const auto& m : s.mounts) raw(&m.m, sizeof(CtlMount));
  if (!s.filter.empty()) raw(s.filter.data(), s.filter.size() * sizeof(CtlFilterInsn));
  auto put = [&](std::string_view v) {
    raw(v.data(), v.size());
    out.push_back(std::byte{0});
  };
  put(s.id);
  put(s.cwd);
  put(s.hostname);
  for (auto a : s.argv) put(a);
  for (auto e : s.env) put(e);
  for (const auto& m : s.mounts) {
    put(m.source);
    put(m.destination);
  }
  if (out.size() > kMaxCtlStartTail) out.clear();
  return out;
}

bool check_ctl_stats(const CtlStatsRsp& s, std::string& why) {
  // Far above any zone (64 GiB, 64 vCPUs) yet far below where a sum or a unit conversion could overflow.
  constexpr uint64_t kMaxBytes = uint64_t{1} << 50;
  constexpr uint64_t kMaxCount = uint64_t{1} << 50;
  constexpr uint64_t kMaxUsec = uint64_t{1} << 52;  // x1000 for nanoseconds stays below 2^62
  constexpr uint64_t kMaxPids = uint64_t{1} << 22;  // PID_MAX_LIMIT
  auto bad = [&](const std::string& w) {
    why = w;
    return false;
  };
  if ((s.present & ~uint32_t{kCtlStatsKnown}) != 0 || s.reserved != 0) return bad("unknown present bits or reserved");
  auto absent_zero = [&](uint32_t bit, std::initializer_list<uint64_t> v) {
    if (s.present & bit) return true;
    for (uint64_t x : v)
      if (x) return false;
    return true;
  };
  uint64_t mem_any = s.memory_current | s.memory_max;
  for (uint64_t v : s.memory_stat) mem_any |= v;
  for (uint64_t v : s.memory_events) mem_any |= v;
  if (!absent_zero(kCtlStatsCpu, {s.cpu_usage_usec, s.cpu_user_usec, s.cpu_system_usec}) ||
      !absent_zero(kCtlStatsCpuThrottle, {s.cpu_nr_periods, s.cpu_nr_throttled, s.cpu_throttled_usec}) ||
      !absent_zero(kCtlStatsMemory, {mem_any}) || !absent_zero(kCtlStatsPids, {s.pids_current, s.pids_max}) ||
      !absent_zero(kCtlStatsIo, {s.io_rbytes, s.io_wbytes, s.io_rios, s.io_wios}))
    return bad("figures of a group marked absent");
  for (uint64_t v : {s.cpu_usage_usec, s.cpu_user_usec, s.cpu_system_usec, s.cpu_throttled_usec})
    if (v > kMaxUsec) return bad("a cpu time past 2^52 us");
  if (s.cpu_nr_periods > kMaxCount || s.cpu_nr_throttled > s.cpu_nr_periods)
    return bad("more throttled periods than periods");
  if (s.memory_current > kMaxBytes || (s.memory_max != kCtlUnlimited && s.memory_max > kMaxBytes))
    return bad("memory figures past 2^50 bytes");
  for (uint64_t v : s.memory_stat)
    if (v > kMaxBytes) return bad("a memory.stat figure past 2^50");
  for (uint64_t v : s.memory_events)
    if (v > kMaxCount) return bad("a memory event count past 2^50");
  if (s.pids_current > kMaxPids || (s.pids_max != kCtlUnlimited && s.pids_max > kMaxPids))
    return bad("pids past PID_MAX_LIMIT");
  for (uint64_t v : {s.io_rbytes, s.io_wbytes, s.io_rios, s.io_wios})
    if (v > kMaxBytes) return bad("an io figure past 2^50");
  return true;
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
