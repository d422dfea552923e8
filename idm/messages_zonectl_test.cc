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

CtlStartReq req_for(uint32_t argc, uint32_t envc) { return CtlStartReq{1, 0, 0, 0, 0, 0, argc, envc}; }

TEST_CASE("parse_ctl_start: a well-formed tail round-trips through encode_ctl_start") {
  CtlStartStrings s{"pod-1.c_2", "/work/dir", "host", {"/bin/sh", "-c", "echo hi"}, {"PATH=/bin", "A="}};
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
