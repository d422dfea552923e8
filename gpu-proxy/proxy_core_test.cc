// Unit tests of the proxy's security core and its parsers: the zone's handle table (a zone names only live
// entries of its own, of the right type), the allocation interval map (every device range must lie inside one
// allocation), number parsing and the policy file.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <variant>

#include "gpu-proxy/admin_protocol.h"
#include "gpu-proxy/alloc_map.h"
#include "gpu-proxy/daemon.h"
#include "gpu-proxy/handle_table.h"
#include "gpu-proxy/units.h"

using namespace xg::proxy;

TEST_CASE("handle table: stale, forged and wrongly-typed handles find nothing") {
  HandleTable t;
  int a = 0, b = 0;
  const uint64_t ctx = t.insert(ObjType::kContext, &a);
  const uint64_t s = t.insert(ObjType::kStream, &b, ctx);
  REQUIRE(ctx != 0);
  REQUIRE(s != 0);
  CHECK((ctx >> 56) != 0);  // the tag keeps handles clear of NULL and the special stream values
  CHECK(t.object(ctx, ObjType::kContext) == &a);
  CHECK(t.find(ctx, ObjType::kStream) == nullptr);     // wrong type
  CHECK(t.find(s ^ 0x1, ObjType::kStream) == nullptr);  // forged index
  CHECK(t.find(0, ObjType::kContext) == nullptr);
  CHECK(t.find(1, ObjType::kStream) == nullptr);  // CU_STREAM_LEGACY
  CHECK(t.live_count() == 2);
  CHECK(t.live_count(ObjType::kStream) == 1);
  CHECK(t.children(ctx) == std::vector<uint64_t>{s});
  t.erase(s);
  CHECK(t.find(s, ObjType::kStream) == nullptr);  // stale
  CHECK(t.live_count(ObjType::kStream) == 0);
  const uint64_t s2 = t.insert(ObjType::kStream, &b, ctx);  // reuses the slot with a new generation
  CHECK(static_cast<uint32_t>(s2) == static_cast<uint32_t>(s));
  CHECK(s2 != s);
  CHECK(t.find(s, ObjType::kStream) == nullptr);
  CHECK(t.find(s2, ObjType::kStream) != nullptr);
  t.erase(s);  // erasing a stale handle leaves the live one alone
  CHECK(t.find(s2, ObjType::kStream) != nullptr);
  CHECK(t.of_type(ObjType::kContext) == std::vector<uint64_t>{ctx});
  CHECK(t.handle_of(ObjType::kStream, &b) == s2);
}

TEST_CASE("handle table: generations survive many reuses of one slot") {
  HandleTable t;
  int x = 0;
  uint64_t first = t.insert(ObjType::kEvent, &x);
  t.erase(first);
  for (int i = 0; i < 100000; ++i) {
    const uint64_t h = t.insert(ObjType::kEvent, &x);
    REQUIRE(h != first);
    REQUIRE(h != 0);
    t.erase(h);
  }
  CHECK(t.live_count() == 0);
}

TEST_CASE("allocation map: ranges inside one allocation only") {
  AllocMap m;
  REQUIRE(m.insert({0x1000, 0x100, AllocKind::kDevice, 1, 0x100}));
  REQUIRE(m.insert({0x1100, 0x100, AllocKind::kDevice, 2, 0x100}));  // adjacent
  CHECK_FALSE(m.insert({0x10ff, 0x2, AllocKind::kDevice, 1, 2}));     // overlaps both
  CHECK_FALSE(m.insert({0x2000, 0, AllocKind::kDevice, 1, 0}));       // empty
  CHECK_FALSE(m.insert({UINT64_MAX - 4, 0x10, AllocKind::kDevice, 1, 0x10}));  // wraps
  CHECK(m.containing(0x1000, 0x100) != nullptr);
  CHECK(m.containing(0x10f0, 0x10) != nullptr);
  CHECK(m.containing(0x10f0, 0x11) == nullptr);  // spills into the next allocation: not one allocation
  CHECK(m.containing(0x0fff, 1) == nullptr);
  CHECK(m.containing(0x1200, 0) == nullptr);
  CHECK(m.containing(0x1100, 0)->owner == 2);
  CHECK(m.containing(0x1000, UINT64_MAX) == nullptr);  // overflowing length
  CHECK(m.containing(UINT64_MAX, 2) == nullptr);
  CHECK_FALSE(m.take(0x1001).has_value());  // only the base frees
  auto owned = m.take_owned_by(2);
  REQUIRE(owned.size() == 1);
  CHECK(owned[0].base == 0x1100);
  CHECK(m.take(0x1000)->charged == 0x100);
  CHECK(m.size() == 0);
}

TEST_CASE("numbers: sizes, counts, weights") {
  CHECK(parse_size("512MiB") == 512ull << 20);
  CHECK(parse_size("2G") == 2ull << 30);
  CHECK(parse_size("4096") == 4096u);
  CHECK_FALSE(parse_size("").has_value());
  CHECK_FALSE(parse_size("MiB").has_value());
  CHECK_FALSE(parse_size("1PiB").has_value());
  CHECK_FALSE(parse_size("99999999999999999999").has_value());
  CHECK_FALSE(parse_size("18446744073709551615G").has_value());  // overflows when scaled
  CHECK(parse_count("0", 0, 5) == 0u);
  CHECK_FALSE(parse_count("6", 0, 5).has_value());
  CHECK_FALSE(parse_count("-1", 0, 5).has_value());
  CHECK_FALSE(parse_count(" 1", 0, 5).has_value());
  CHECK_FALSE(parse_count("1x", 0, 5).has_value());
  CHECK_FALSE(parse_count("", 0, 5).has_value());
  CHECK_FALSE(parse_count("184467440737095516160", 0, UINT64_MAX).has_value());
  CHECK(parse_weight("1") == 1u);
  CHECK(parse_weight("10000") == 10000u);
  CHECK_FALSE(parse_weight("0").has_value());
  CHECK_FALSE(parse_weight("10001").has_value());
  CHECK(format_size(2ull << 30) == "2GiB");
  CHECK(format_size(1536) == "1.5KiB");
}

namespace {
// Parses `text` as a policy file; returns the error ("" when valid).
std::string parse_policy(const std::string& text, DaemonOptions& opts) {
  char path[] = "/tmp/xg-policy-XXXXXX";
  const int fd = ::mkstemp(path);
  if (fd < 0) return "mkstemp";
  ::close(fd);
  std::ofstream(path) << text;
  std::string error;
  const bool ok = load_config(path, opts, error);
  std::remove(path);
  return ok ? "" : error;
}
}  // namespace

TEST_CASE("policy file: zones, defaults, limits; anything else refused with its line") {
  DaemonOptions opts;
  REQUIRE(parse_policy("# comment\n"
                       "default quota=2GiB weight=3 events=500\n"
                       "zone train quota=8GiB weight=2 streams=64   # trailing comment\n"
                       "zone web\n",
                       opts) == "");
  CHECK(opts.default_quota == 2ull << 30);
  CHECK(opts.default_weight == 3);
  CHECK(opts.default_limits[Limit::events] == 500);
  REQUIRE(opts.zones.size() == 2);
  CHECK(opts.zones[0].name == "train");
  CHECK(opts.zones[0].quota_bytes == 8ull << 30);
  CHECK(opts.zones[0].weight == 2);
  CHECK(opts.zones[0].limits[Limit::streams] == 64);
  CHECK(opts.zones[0].limits[Limit::events] == 500);  // from the default line above it
  CHECK(opts.zones[1].quota_bytes == 2ull << 30);
  CHECK(opts.zones[1].limits[Limit::streams] == ObjectLimits{}[Limit::streams]);
  for (const char* bad : {"zone\n", "zone bad/name\n", "zone z quota=lots\n", "zone z weight=0\n",
                          "zone z streams=0\n", "zone z threads=4\n", "zones z\n", "zone z quota\n"}) {
    DaemonOptions o;
    const std::string e = parse_policy(bad, o);
    CHECK_MESSAGE(e.find(":1:") != std::string::npos, bad, " -> ", e);
  }
}

TEST_CASE("admin protocol: every verb parses, formats back, and refuses what does not fit its usage") {
  auto ok = [](std::string_view text) {
    auto p = parse_admin_request(text);
    REQUIRE_MESSAGE(std::holds_alternative<AdminRequest>(p), text, " -> ", std::get<std::string>(p));
    return std::get<AdminRequest>(p);
  };
  auto refused = [](std::string_view text) {
    auto p = parse_admin_request(text);
    return std::holds_alternative<std::string>(p) ? std::get<std::string>(p) : std::string("(parsed)");
  };
  const AdminRequest c = ok("create train 4GiB 2");
  CHECK(c.verb == AdminVerb::kCreate);
  CHECK(c.name == "train");
  CHECK(c.quota == 4ull << 30);
  CHECK(c.weight == 2);
  const AdminRequest x = ok("create-xen web 7 2GiB 3");
  CHECK(x.domid == 7);
  CHECK(ok("profile").name.empty());
  CHECK(ok("profile web").name == "web");
  CHECK(ok("  zones  ").verb == AdminVerb::kZones);
  for (const AdminRequest& r : {c, x, ok("destroy a"), ok("weight a 10000"), ok("zones"), ok("profile"),
                                ok("profile b")})
    CHECK(ok(format_admin_request(r)) == r);
  CHECK(refused("create train 4GiB") == "error usage: create NAME QUOTA WEIGHT");
  CHECK(refused("create train 4GiB 2 extra") == "error usage: create NAME QUOTA WEIGHT");
  CHECK(refused("create bad/name 1G 1").rfind("error usage", 0) == 0);
  CHECK(refused("create a 0 1").rfind("error usage", 0) == 0);          // no zero quota
  CHECK(refused("weight a 0").rfind("error usage", 0) == 0);
  CHECK(refused("create-xen a 32752 1G 1").rfind("error usage", 0) == 0);  // a reserved domain id
  CHECK(refused("destroy") == "error usage: destroy NAME");
  CHECK(refused("reboot").rfind("error unknown command (create, create-xen, create-bound, destroy, weight, quota, drain, join, zones, zones-json, profile)", 0) == 0);
  CHECK(refused("").rfind("error unknown command", 0) == 0);
}
