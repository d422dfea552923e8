// The zone control channel's own parsers (messages_zonectl.cc): CtlStart's strings and the event stream of a
// CtlPoll answer, which the shim reads from a zone it does not trust.
#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

#include "idm/messages_zonectl.h"

namespace xg::idm {
namespace {

std::vector<std::byte> raw(std::string_view s) {
  const auto* p = reinterpret_cast<const std::byte*>(s.data());
  return {p, p + s.size()};
}

CtlStartReq req_for(uint32_t argc, uint32_t envc) {
  CtlStartReq r{};
  r.proc_id = 1;
  r.argc = argc;
  r.envc = envc;
  return r;
}

CtlStartStrings strings(std::string_view id, std::string_view cwd, std::vector<std::string_view> argv,
                        std::vector<std::string_view> env = {}) {
  CtlStartStrings s;
  s.id = id;
  s.cwd = cwd;
  s.argv = std::move(argv);
  s.env = std::move(env);
  return s;
}

TEST_CASE("parse_ctl_start: a well-formed tail round-trips through encode_ctl_start") {
  CtlStartStrings s = strings("pod-1.c_2", "/work/dir", {"/bin/sh", "-c", "echo hi"}, {"PATH=/bin", "A="});
  s.hostname = "host";
  auto tail = encode_ctl_start(s);
  REQUIRE_FALSE(tail.empty());
  auto p = parse_ctl_start(req_for(3, 2), tail);
  REQUIRE(p);
  CHECK(p->id == "pod-1.c_2");
  CHECK(p->cwd == "/work/dir");
  CHECK(p->hostname == "host");
  REQUIRE(p->argv.size() == 3);
  CHECK(p->argv[2] == "echo hi");
  REQUIRE(p->env.size() == 2);
  CHECK(p->env[1] == "A=");
  CHECK(req_for(3, 2).valid(tail));
}

TEST_CASE("parse_ctl_start refuses what the request does not announce exactly") {
  const auto ok = raw(std::string("id\0/\0\0prog\0", 11));
  CHECK(parse_ctl_start(req_for(1, 0), ok));
  CHECK_FALSE(parse_ctl_start(req_for(2, 0), ok));  // fewer strings than announced
  CHECK_FALSE(parse_ctl_start(req_for(0, 1), ok));  // argc 0
  CHECK_FALSE(parse_ctl_start(req_for(1, 0), raw(std::string("id\0/\0\0prog\0x\0", 13))));  // more strings
  CHECK_FALSE(parse_ctl_start(req_for(1, 0), raw(std::string("id\0/\0\0prog", 10))));       // unterminated
  CHECK_FALSE(parse_ctl_start(req_for(1, 0), raw(std::string("i d\0/\0\0prog\0", 12))));    // id character
  CHECK_FALSE(parse_ctl_start(req_for(1, 0), raw(std::string("\0/\0\0prog\0", 9))));        // empty id
  CHECK_FALSE(parse_ctl_start(req_for(1, 0), raw(std::string("id\0rel\0\0prog\0", 13))));   // relative cwd
  CHECK_FALSE(parse_ctl_start(req_for(1, 0), raw(std::string("id\0/a/../b\0\0prog\0", 18))));  // climbing cwd
  CHECK_FALSE(parse_ctl_start(req_for(1, 0), raw(std::string("id\0/\0\0\0", 7))));          // empty argv[0]
  CHECK_FALSE(parse_ctl_start(req_for(kMaxCtlStrings, 1), ok));                               // too many strings
  const std::string long_host(65, 'h');
  CHECK_FALSE(parse_ctl_start(req_for(1, 0), raw("id" + std::string(1, '\0') + "/" + std::string(1, '\0') + long_host +
                                                 std::string(1, '\0') + "prog" + std::string(1, '\0'))));
  // The fixed part's own rules.
  CtlStartReq r = req_for(1, 0);
  r.proc_id = 0;
  CHECK_FALSE(r.valid(ok));
  r = req_for(1, 0);
  r.rootfs_disk = kMaxCtlDisks;
  CHECK_FALSE(r.valid(ok));
  r = req_for(1, 0);
  r.container_proc = 1;  // an exec into itself
  CHECK_FALSE(r.valid(ok));
  r.container_proc = 2;
  r.rootfs_disk = 1;  // an exec names no disk
  CHECK_FALSE(r.valid(ok));
  r.rootfs_disk = 0;
  CHECK(r.valid(ok));
}

TEST_CASE("CtlStart's binary tail: gids and rlimits round-trip, bounds and lies refused") {
  CtlStartStrings s = strings("c", "/", {"prog"});
  s.groups = {1000, 2000};
  s.rlimits = {CtlRlimit{7, 0, 1024, 4096}, CtlRlimit{0, 0, 5, 10}};
  auto tail = encode_ctl_start(s);
  REQUIRE(tail.size() == 2 * 4 + 2 * sizeof(CtlRlimit) + 10);  // "c" "/" "" "prog", each NUL-terminated
  CtlStartReq r = req_for(1, 0);
  r.ngroups = 2;
  r.nrlimits = 2;
  auto p = parse_ctl_start(r, tail);
  REQUIRE(p);
  CHECK(p->groups == std::vector<uint32_t>{1000, 2000});
  REQUIRE(p->rlimits.size() == 2);
  CHECK(p->rlimits[0].resource == 7);
  CHECK(p->rlimits[0].soft == 1024);
  CHECK(p->rlimits[0].hard == 4096);
  CHECK(p->argv.at(0) == "prog");
  CHECK(r.valid(tail));
  // Counts that disagree with the tail: the strings no longer line up.
  for (auto [g, l] : {std::pair{1u, 2u}, std::pair{2u, 1u}, std::pair{0u, 0u}, std::pair{3u, 2u}}) {
    CtlStartReq q = r;
    q.ngroups = g;
    q.nrlimits = l;
    CHECK_FALSE(parse_ctl_start(q, tail));
  }
  // Past the bounds, even with a tail that long.
  CtlStartReq big = r;
  big.ngroups = kMaxCtlGroups + 1;
  CHECK_FALSE(parse_ctl_start(big, std::vector<std::byte>(kMaxCtlStartTail)));
  big = r;
  big.nrlimits = kMaxCtlRlimits + 1;
  CHECK_FALSE(parse_ctl_start(big, std::vector<std::byte>(kMaxCtlStartTail)));
  // A binary part longer than the whole tail.
  CtlStartReq over = r;
  over.ngroups = kMaxCtlGroups;
  CHECK_FALSE(parse_ctl_start(over, std::span(tail).first(16)));
  // Bad rlimit records: unknown resource, reserved set, soft above hard, a resource twice.
  for (CtlRlimit bad : {CtlRlimit{16, 0, 1, 1}, CtlRlimit{7, 1, 1, 1}, CtlRlimit{7, 0, 2, 1}, CtlRlimit{0, 0, 1, 1}}) {
    CtlStartStrings b = s;
    b.rlimits[0] = bad;
    if (bad.resource == 0 && bad.soft == 1) b.rlimits[1] = CtlRlimit{0, 0, 1, 1};
    CHECK_FALSE(parse_ctl_start(r, encode_ctl_start(b)));
  }
  CtlRlimit inf{3, 0, kCtlUnlimited, kCtlUnlimited};
  CtlStartStrings u = strings("c", "/", {"prog"});
  u.rlimits = {inf};
  CtlStartReq ur = req_for(1, 0);
  ur.nrlimits = 1;
  CHECK(parse_ctl_start(ur, encode_ctl_start(u)));
  // encode refuses counts past the bounds instead of sending what the zone would refuse.
  CtlStartStrings many = s;
  many.groups.assign(kMaxCtlGroups + 1, 5);
  CHECK(encode_ctl_start(many).empty());
}

TEST_CASE("CtlStart's seccomp filter: round-trips after the mounts; counts, flags and execs checked") {
  CtlStartStrings s = strings("c", "/", {"prog"});
  s.groups = {1000};
  s.filter = {CtlFilterInsn{0x20, 0, 0, 4}, CtlFilterInsn{0x15, 0, 1, 63}, CtlFilterInsn{0x06, 0, 0, 0x50001},
              CtlFilterInsn{0x06, 0, 0, 0x7fff0000}};
  auto tail = encode_ctl_start(s);
  REQUIRE(tail.size() == 4 + 4 * sizeof(CtlFilterInsn) + 10);  // "c" "/" "" "prog", each NUL-terminated
  CtlStartReq r = req_for(1, 0);
  r.ngroups = 1;
  r.nfilter = 4;
  r.filter_flags = kCtlFilterLog | kCtlFilterSpecAllow;
  auto p = parse_ctl_start(r, tail);
  REQUIRE(p);
  REQUIRE(p->filter.size() == 4);
  CHECK(p->filter[1].code == 0x15);
  CHECK(p->filter[1].jf == 1);
  CHECK(p->filter[1].k == 63);
  CHECK(p->filter[3].k == 0x7fff0000);
  CHECK(p->argv.at(0) == "prog");
  CHECK(r.valid(tail));
  CtlStartReq q = r;
  q.nfilter = 3;  // the strings no longer line up
  CHECK_FALSE(parse_ctl_start(q, tail));
  q = r;
  q.nfilter = kMaxCtlFilterInsns + 1;
  CHECK_FALSE(parse_ctl_start(q, std::vector<std::byte>(kMaxCtlStartTail)));
  q = r;
  q.filter_flags = 1;  // SECCOMP_FILTER_FLAG_TSYNC: not for the zone to choose
  CHECK_FALSE(q.valid(tail));
  // Flags without a program, and an exec with a program of its own (it gets its container's).
  CtlStartStrings none = strings("c", "/", {"prog"});
  CtlStartReq f = req_for(1, 0);
  f.filter_flags = kCtlFilterLog;
  CHECK_FALSE(f.valid(encode_ctl_start(none)));
  CtlStartReq e = r;
  e.proc_id = 2;
  e.container_proc = 1;
  CHECK_FALSE(e.valid(tail));
  // The largest program fits the tail with room for its strings.
  CtlStartStrings big = strings("c", "/", {"prog"});
  big.filter.assign(kMaxCtlFilterInsns, CtlFilterInsn{0x06, 0, 0, 0x7fff0000});
  auto big_tail = encode_ctl_start(big);
  REQUIRE_FALSE(big_tail.empty());
  CtlStartReq b = req_for(1, 0);
  b.nfilter = kMaxCtlFilterInsns;
  CHECK(b.valid(big_tail));
  big.filter.push_back(big.filter.back());
  CHECK(encode_ctl_start(big).empty());
}

TEST_CASE("CtlStart's fixed fields: flags, capabilities, oom_score_adj and resources") {
  const auto ok = raw(std::string("id\0/\0\0prog\0", 11));
  CtlStartReq r = req_for(1, 0);
  REQUIRE(r.valid(ok));
  r.flags = kCtlStartCaps | kCtlStartNoNewPrivs;
  r.caps = CtlCaps{0xa1, 0x21, 0x21, 0x1, 0x1};
  CHECK(r.valid(ok));
  r.caps.effective = 0x80;  // not in permitted
  CHECK_FALSE(r.valid(ok));
  r.caps = CtlCaps{0xa1, 0x21, 0x21, 0, 0x1};  // ambient not in inheritable
  CHECK_FALSE(r.valid(ok));
  r.caps = CtlCaps{kCtlCapsKnown + 1, 0, 0, 0, 0};  // an unknown capability bit
  CHECK_FALSE(r.valid(ok));
  r.caps = CtlCaps{0x1, 0, 0, 0, 0};
  r.flags = 0;  // sets without kCtlStartCaps
  CHECK_FALSE(r.valid(ok));
  r = req_for(1, 0);
  r.flags = kCtlStartTerminal | kCtlStartStdin;  // a terminal, for a container or an exec
  CHECK(r.valid(ok));
  r.container_proc = 2;
  CHECK(r.valid(ok));
  r = req_for(1, 0);
  r.flags = 1u << 9;  // unknown flag
  CHECK_FALSE(r.valid(ok));
  r = req_for(1, 0);
  r.oom_score_adj = 5;  // without its flag
  CHECK_FALSE(r.valid(ok));
  r.flags = kCtlStartOomScoreAdj;
  CHECK(r.valid(ok));
  r.oom_score_adj = 1001;
  CHECK_FALSE(r.valid(ok));
  r = req_for(1, 0);
  r.reserved = 1;
  CHECK_FALSE(r.valid(ok));
  r = req_for(1, 0);
  r.resources = CtlResources{64 << 20, 50'000, 100'000, 100, 20, 0};
  CHECK(r.valid(ok));
  r.container_proc = 2;  // an exec carries no limits of its own
  CHECK_FALSE(r.valid(ok));
  for (CtlResources bad : {CtlResources{0, 500, 0, 0, 0, 0},          // quota under the kernel's 1 ms
                           CtlResources{0, 50'000, 999, 0, 0, 0},     // period under 1 ms
                           CtlResources{0, 50'000, 2'000'000, 0, 0, 0},
                           CtlResources{0, 0, 100'000, 0, 0, 0},      // a period alone
                           CtlResources{0, 0, 0, 0, 10'001, 0},       // weight past 10000
                           CtlResources{0, 0, 0, (1u << 22) + 1, 0, 0},
                           CtlResources{(uint64_t{1} << 48) + 1, 0, 0, 0, 0, 0},
                           CtlResources{0, 0, 0, 0, 0, 1}}) {
    CHECK_FALSE(valid_ctl_resources(bad));
  }
}

TEST_CASE("CtlResize: a process and a size within a terminal's 16-bit fields") {
  CHECK(CtlResizeReq{1, 80, 24, 0}.valid({}));
  CHECK(CtlResizeReq{1, 0, 0, 0}.valid({}));
  CHECK(CtlResizeReq{1, 0xffff, 0xffff, 0}.valid({}));
  CHECK_FALSE(CtlResizeReq{0, 80, 24, 0}.valid({}));        // no process 0
  CHECK_FALSE(CtlResizeReq{1, 0x10000, 24, 0}.valid({}));   // past struct winsize
  CHECK_FALSE(CtlResizeReq{1, 80, 0x10000, 0}.valid({}));
  CHECK_FALSE(CtlResizeReq{1, 80, 24, 1}.valid({}));        // reserved
}

TEST_CASE("CtlUpdate: limits as CtlStart's, a field either set or lifted, never both") {
  CtlUpdateReq u{1, 0, CtlResources{64 << 20, 50'000, 100'000, 100, 20, 0}};
  CHECK(u.valid({}));
  u.unlimit = kCtlUnlimitMemory;  // set and lifted at once
  CHECK_FALSE(u.valid({}));
  u = CtlUpdateReq{1, kCtlUnlimitKnown, CtlResources{0, 0, 0, 0, 20, 0}};  // all three lifted, the weight set
  CHECK(u.valid({}));
  u.unlimit = 1u << 3;
  CHECK_FALSE(u.valid({}));
  u = CtlUpdateReq{0, 0, {}};
  CHECK_FALSE(u.valid({}));
  u = CtlUpdateReq{1, 0, CtlResources{0, 500, 0, 0, 0, 0}};  // a quota under the kernel's 1 ms, as in CtlStart
  CHECK_FALSE(u.valid({}));
}

TEST_CASE("CtlFreeze: a container, frozen or thawed") {
  CHECK(CtlFreezeReq{1, 1}.valid({}));
  CHECK(CtlFreezeReq{1, 0}.valid({}));
  CHECK_FALSE(CtlFreezeReq{0, 1}.valid({}));
  CHECK_FALSE(CtlFreezeReq{1, 2}.valid({}));
}

CtlMountEntry image_mount(std::string_view src, std::string_view dst, uint32_t flags) {
  return {CtlMount{static_cast<uint32_t>(CtlMountKind::kImage), flags, 0, 0, 0}, src, dst};
}

TEST_CASE("CtlStart's mounts: a list round-trips; the image disk must be its own") {
  CtlStartStrings s = strings("c1", "/", {"/bin/sh"});
  s.mounts.push_back(image_mount("0", "/etc/hosts", kCtlMountRo));
  s.mounts.push_back(image_mount("1", "/data/dir", kCtlMountDir));
  s.mounts.push_back({CtlMount{static_cast<uint32_t>(CtlMountKind::kVolume), kCtlMountDir, 0, 0, 0}, "vol-1", "/cache"});
  s.mounts.push_back({CtlMount{static_cast<uint32_t>(CtlMountKind::kTmpfs), kCtlMountDir, 1 << 20, 01777, 0}, "", "/tmp"});
  const auto tail = encode_ctl_start(s);
  REQUIRE_FALSE(tail.empty());
  CtlStartReq r = req_for(1, 0);
  r.nmounts = 4;
  r.rootfs_disk = 0;
  r.mounts_disk = 1;
  auto p = parse_ctl_start(r, tail);
  REQUIRE(p);
  REQUIRE(p->mounts.size() == 4);
  CHECK(p->mounts[0].source == "0");
  CHECK(p->mounts[0].destination == "/etc/hosts");
  CHECK(p->mounts[0].m.flags == kCtlMountRo);
  CHECK(p->mounts[1].destination == "/data/dir");
  CHECK(p->mounts[2].source == "vol-1");
  CHECK(p->mounts[3].m.size == (1u << 20));
  CHECK(p->mounts[3].m.mode == 01777);
  CHECK(r.valid(tail));
  r.mounts_disk = 0;  // the rootfs's own disk
  CHECK_FALSE(r.valid(tail));
  r.mounts_disk = kMaxCtlDisks;
  CHECK_FALSE(r.valid(tail));
  r.mounts_disk = 1;
  r.nmounts = 3;  // fewer records than the tail holds: the strings do not line up
  CHECK_FALSE(parse_ctl_start(r, tail));
  r.nmounts = 5;
  CHECK_FALSE(parse_ctl_start(r, tail));
  // An exec carries no mounts.
  CtlStartReq e = req_for(1, 0);
  e.proc_id = 2;
  e.container_proc = 1;
  e.nmounts = 4;
  e.mounts_disk = 1;
  CHECK_FALSE(e.valid(tail));
}

TEST_CASE("CtlStart's mounts: bad paths, kinds, flags and bounds are refused") {
  auto one = [](CtlMountEntry m) {
    CtlStartStrings s = strings("c1", "/", {"/bin/sh"});
    s.mounts.push_back(m);
    const auto tail = encode_ctl_start(s);
    CtlStartReq r = req_for(1, 0);
    r.nmounts = 1;
    r.rootfs_disk = 2;
    r.mounts_disk = 3;
    return !tail.empty() && r.valid(tail);
  };
  CHECK(one(image_mount("0", "/a", 0)));
  CHECK(one(image_mount("0/sub", "/a/b", kCtlMountRo | kCtlMountDir)));
  CHECK_FALSE(one(image_mount("0", "a", 0)));             // relative destination
  CHECK_FALSE(one(image_mount("0", "/", 0)));             // the root itself
  CHECK_FALSE(one(image_mount("0", "/a/../b", 0)));       // climbing
  CHECK_FALSE(one(image_mount("0", "/..", 0)));
  CHECK_FALSE(one(image_mount("0", "/a/./b", 0)));
  CHECK_FALSE(one(image_mount("0", "/a//b", 0)));         // not normal
  CHECK_FALSE(one(image_mount("0", "/a/", 0)));
  CHECK_FALSE(one(image_mount("/0", "/a", 0)));           // an image source is relative
  CHECK_FALSE(one(image_mount("../x", "/a", 0)));         // ... and stays inside the image
  CHECK_FALSE(one(image_mount("", "/a", 0)));
  CHECK_FALSE(one(image_mount("0", "/" + std::string(kMaxCtlMountPath, 'x'), 0)));  // too long
  CHECK_FALSE(one(image_mount("0", "/a", 1u << 7)));      // unknown flag
  CHECK_FALSE(one({CtlMount{9, 0, 0, 0, 0}, "0", "/a"}));  // unknown kind
  CHECK_FALSE(one({CtlMount{static_cast<uint32_t>(CtlMountKind::kImage), 0, 4096, 0, 0}, "0", "/a"}));  // size
  CHECK_FALSE(one({CtlMount{static_cast<uint32_t>(CtlMountKind::kImage), 0, 0, 0, 1}, "0", "/a"}));  // reserved
  const auto vol = static_cast<uint32_t>(CtlMountKind::kVolume);
  CHECK(one({CtlMount{vol, kCtlMountDir, 0, 0, 0}, "abc", "/v"}));
  CHECK_FALSE(one({CtlMount{vol, 0, 0, 0, 0}, "abc", "/v"}));             // a volume is a directory
  CHECK_FALSE(one({CtlMount{vol, kCtlMountDir, 0, 0, 0}, "a/b", "/v"}));  // a name, not a path
  CHECK_FALSE(one({CtlMount{vol, kCtlMountDir, 0, 0, 0}, "..", "/v"}));  // the zone's volume dir's parent
  CHECK_FALSE(one({CtlMount{vol, kCtlMountDir, 0, 0, 0}, ".", "/v"}));
  const auto tmp = static_cast<uint32_t>(CtlMountKind::kTmpfs);
  CHECK(one({CtlMount{tmp, kCtlMountDir, 64 << 20, 0755, 0}, "", "/t"}));
  CHECK_FALSE(one({CtlMount{tmp, kCtlMountDir, 0, 010000, 0}, "", "/t"}));               // mode
  CHECK_FALSE(one({CtlMount{tmp, kCtlMountDir, (uint64_t{1} << 40) + 1, 0, 0}, "", "/t"}));  // size
  CHECK_FALSE(one({CtlMount{tmp, kCtlMountDir, 0, 0, 0}, "x", "/t"}));                  // a source
  // Two mounts on one destination; more than kMaxCtlMounts.
  CtlStartStrings s = strings("c1", "/", {"/bin/sh"});
  s.mounts.push_back(image_mount("0", "/a", 0));
  s.mounts.push_back(image_mount("1", "/a", 0));
  CtlStartReq r = req_for(1, 0);
  r.nmounts = 2;
  r.mounts_disk = 1;
  CHECK_FALSE(parse_ctl_start(r, encode_ctl_start(s)));
  s.mounts.clear();
  std::vector<std::string> dsts;
  for (uint32_t i = 0; i <= kMaxCtlMounts; ++i) dsts.push_back("/m" + std::to_string(i));
  for (const auto& d : dsts) s.mounts.push_back(image_mount("0", d, 0));
  CHECK(encode_ctl_start(s).empty());  // the encoder refuses too many
  s.mounts.pop_back();
  const auto tail = encode_ctl_start(s);
  REQUIRE_FALSE(tail.empty());
  r.nmounts = kMaxCtlMounts;
  CHECK(r.valid(tail));
  r.nmounts = kMaxCtlMounts + 1;
  CHECK_FALSE(parse_ctl_start(r, tail));
}

TEST_CASE("check_ctl_stats: a sound answer passes; lies are refused with a reason") {
  CtlStatsRsp s{};
  s.present = kCtlStatsCpu | kCtlStatsCpuThrottle | kCtlStatsMemory | kCtlStatsPids | kCtlStatsIo;
  s.cpu_usage_usec = 1000;
  s.cpu_nr_periods = 10;
  s.cpu_nr_throttled = 3;
  s.memory_current = 5 << 20;
  s.memory_max = kCtlUnlimited;
  s.memory_stat[13] = 1 << 20;
  s.pids_current = 3;
  s.pids_max = kCtlUnlimited;
  std::string why;
  CHECK(check_ctl_stats(s, why));
  CHECK(check_ctl_stats(CtlStatsRsp{}, why));  // nothing present: nothing claimed
  auto refused = [&](auto change) {
    CtlStatsRsp b = s;
    change(b);
    std::string w;
    const bool ok = check_ctl_stats(b, w);
    return !ok && !w.empty();
  };
  CHECK(refused([](CtlStatsRsp& b) { b.present |= 1u << 7; }));
  CHECK(refused([](CtlStatsRsp& b) { b.reserved = 1; }));
  CHECK(refused([](CtlStatsRsp& b) { b.cpu_nr_throttled = 11; }));
  CHECK(refused([](CtlStatsRsp& b) { b.cpu_usage_usec = uint64_t{1} << 60; }));
  CHECK(refused([](CtlStatsRsp& b) { b.memory_current = uint64_t{1} << 60; }));
  CHECK(refused([](CtlStatsRsp& b) { b.memory_max = (uint64_t{1} << 60); }));
  CHECK(refused([](CtlStatsRsp& b) { b.memory_stat[0] = ~uint64_t{0}; }));
  CHECK(refused([](CtlStatsRsp& b) { b.pids_current = 1u << 23; }));
  CHECK(refused([](CtlStatsRsp& b) { b.io_rbytes = ~uint64_t{0}; }));
  CHECK(refused([](CtlStatsRsp& b) {  // figures of a group said to be absent
    b.present &= ~uint32_t{kCtlStatsPids};
  }));
  CHECK(refused([](CtlStatsRsp& b) {
    b.present &= ~uint32_t{kCtlStatsMemory};
  }));
}

TEST_CASE("CtlPoll events: append_ctl_event and parse_ctl_events round-trip") {
  std::vector<std::byte> tail;
  const auto hello = raw("hello");  // 5 bytes: padded to 8
  CHECK(append_ctl_event(tail, CtlEvent{3, 1, 1, 0, 5}, hello, 1024));
  CHECK(append_ctl_event(tail, CtlEvent{3, 1, 2, 0, 1}, raw("e"), 1024));
  CHECK(append_ctl_event(tail, CtlEvent{3, 2, 0, 143, 0}, {}, 1024));
  CHECK(tail.size() == 16 + 8 + 16 + 4 + 16);
  std::string out, err;
  int status = -1;
  CHECK(parse_ctl_events(tail, 3, [&](const CtlEvent& ev, std::span<const std::byte> b) {
    if (ev.type == 2) status = ev.value;
    else (ev.stream == 1 ? out : err).append(reinterpret_cast<const char*>(b.data()), b.size());
  }));
  CHECK(out == "hello");
  CHECK(err == "e");
  CHECK(status == 143);
  // The limit: a record that would pass it is refused and leaves the tail as it was.
  const size_t before = tail.size();
  CHECK_FALSE(append_ctl_event(tail, CtlEvent{3, 1, 1, 0, 5}, hello, before + 16));
  CHECK(tail.size() == before);
  CHECK_FALSE(append_ctl_event(tail, CtlEvent{3, 1, 1, 0, 4}, hello, 4096));  // length disagrees with the bytes
}

TEST_CASE("parse_ctl_events rejects malformed streams") {
  auto noop = [](const CtlEvent&, std::span<const std::byte>) {};
  auto one = [](CtlEvent ev, size_t extra) {
    std::vector<std::byte> t(sizeof ev + extra);
    std::memcpy(t.data(), &ev, sizeof ev);
    return t;
  };
  CHECK(parse_ctl_events(one(CtlEvent{1, 1, 1, 0, 4}, 4), 1, noop));
  CHECK_FALSE(parse_ctl_events(one(CtlEvent{1, 1, 1, 0, 4}, 4), 2, noop));   // more records announced
  CHECK_FALSE(parse_ctl_events(one(CtlEvent{1, 1, 1, 0, 4}, 8), 1, noop));   // bytes after the last record
  CHECK_FALSE(parse_ctl_events(one(CtlEvent{1, 1, 1, 0, 8}, 4), 1, noop));   // overruns the tail
  CHECK_FALSE(parse_ctl_events(one(CtlEvent{1, 1, 1, 0, 3}, 3), 1, noop));   // padding missing
  CHECK_FALSE(parse_ctl_events(one(CtlEvent{0, 1, 1, 0, 4}, 4), 1, noop));   // proc 0
  CHECK_FALSE(parse_ctl_events(one(CtlEvent{1, 1, 3, 0, 4}, 4), 1, noop));   // stream 3
  CHECK_FALSE(parse_ctl_events(one(CtlEvent{1, 1, 1, 0, 0}, 0), 1, noop));   // empty output
  CHECK_FALSE(parse_ctl_events(one(CtlEvent{1, 1, 1, 7, 4}, 4), 1, noop));   // output with a value
  CHECK_FALSE(parse_ctl_events(one(CtlEvent{1, 2, 0, 256, 0}, 0), 1, noop)); // status out of range
  CHECK_FALSE(parse_ctl_events(one(CtlEvent{1, 2, 0, -1, 0}, 0), 1, noop));
  CHECK_FALSE(parse_ctl_events(one(CtlEvent{1, 2, 1, 0, 0}, 0), 1, noop));   // exit with a stream
  CHECK_FALSE(parse_ctl_events(one(CtlEvent{1, 2, 0, 0, 4}, 4), 1, noop));   // exit with bytes
  CHECK_FALSE(parse_ctl_events(one(CtlEvent{1, 9, 0, 0, 0}, 0), 1, noop));   // unknown type
  CHECK_FALSE(parse_ctl_events(std::vector<std::byte>(8), 1, noop));          // a short header
  CHECK(parse_ctl_events({}, 0, noop));
}

}  // namespace
}  // namespace xg::idm
