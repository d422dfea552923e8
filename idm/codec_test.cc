// Encode/decode of every message in the table, and the readable corpus of malformed messages.
#include "idm/codec.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "idm/testing/sample_messages.h"

namespace xg::idm {
namespace {

Path path_of(const OpInfo* info) { return info->kind == Kind::kControl ? Path::kSocket : Path::kRing; }

TEST_CASE("codec: every opcode's sample request and response decode, and dispatch reaches its handler") {
  auto samples = sample_messages();
  CHECK(samples.size() == all_ops().size());
  for (const auto& s : samples) {
    CAPTURE(s.info->name);
    auto m = decode(s.request, Direction::kRequest, path_of(s.info));
    REQUIRE(m.ok());
    CHECK(m->header.seq == 42);
    CHECK(m->op() == s.info->op);
    // dispatch() picks the overload by the table's request type.
    Op seen{};
    dispatch(*m, [&](auto tag, const MsgHeader& h, const auto& req, std::span<const std::byte>) {
      CHECK(decltype(tag)::value == s.info->op);
      seen = static_cast<Op>(h.opcode);
      (void)req;
    });
    CHECK(seen == s.info->op);
    if (s.info->kind != Kind::kPost) {
      auto r = decode(s.response, Direction::kResponse, path_of(s.info));
      REQUIRE(r.ok());
      CHECK(r->header.seq == 42);
    }
    // Every truncation of a valid message is refused.
    for (size_t n = 0; n < s.request.size(); ++n)
      CHECK_FALSE(decode(std::span(s.request).first(n), Direction::kRequest, path_of(s.info)).ok());
  }
}

TEST_CASE("codec: requests and responses are not interchangeable; control messages stay off the rings") {
  for (const auto& s : sample_messages()) {
    CAPTURE(s.info->name);
    CHECK_FALSE(decode(s.request, Direction::kResponse, path_of(s.info)).ok());
    const Path wrong = path_of(s.info) == Path::kRing ? Path::kSocket : Path::kRing;
    CHECK(decode(s.request, Direction::kRequest, wrong).error() == Error::kUnknownOpcode);
  }
}

TEST_CASE("codec: an error response carries the CUresult and no payload") {
  std::array<std::byte, 64> buf{};
  auto n = encode(buf, make_header(Op::Ping, 9, 0, kFlagResponse, 2 /*CUDA_ERROR_OUT_OF_MEMORY*/), {});
  REQUIRE(n.ok());
  auto m = decode(std::span(buf).first(*n), Direction::kResponse, Path::kRing);
  REQUIRE(m.ok());
  CHECK(m->header.result == 2);
  CHECK(m->header.seq == 9);
}

// The malformed corpus: idm/testdata/malformed/*.txt, one case per file:
//   # what it is          (comments)
//   expect: bad-magic     (an error_name, or "ok")
//   direction: request    (request | response)
//   path: ring            (ring | socket)
//   hex: 49 44 4d 31 ...  (the message bytes; may span several hex: lines)
struct Case {
  std::string file, expect, direction = "request", path = "ring";
  std::vector<std::byte> bytes;
};

Case parse_case(const std::filesystem::path& p) {
  Case c;
  c.file = p.filename().string();
  std::ifstream in(p);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto colon = line.find(':');
    REQUIRE_MESSAGE(colon != std::string::npos, c.file << ": bad line: " << line);
    std::string key = line.substr(0, colon), val = line.substr(colon + 1);
    std::istringstream vs(val);
    if (key == "expect") vs >> c.expect;
    else if (key == "direction") vs >> c.direction;
    else if (key == "path") vs >> c.path;
    else if (key == "hex") {
      std::string tok;
      while (vs >> tok) {
        REQUIRE_MESSAGE(tok.size() % 2 == 0, c.file << ": odd hex token " << tok);
        for (size_t i = 0; i < tok.size(); i += 2) c.bytes.push_back(std::byte(std::stoul(tok.substr(i, 2), nullptr, 16)));
      }
    } else {
      FAIL(c.file << ": unknown key " << key);
    }
  }
  return c;
}

TEST_CASE("codec: malformed corpus") {
  int cases = 0;
  for (const auto& e : std::filesystem::directory_iterator(XG_MALFORMED_DIR)) {
    if (e.path().extension() != ".txt") continue;
    Case c = parse_case(e.path());
    CAPTURE(c.file);
    auto m = decode(c.bytes, c.direction == "response" ? Direction::kResponse : Direction::kRequest,
                    c.path == "socket" ? Path::kSocket : Path::kRing);
    CHECK(std::string(m.ok() ? "ok" : error_name(m.error())) == c.expect);
    ++cases;
  }
  CHECK(cases >= 10);
}

}  // namespace
}  // namespace xg::idm
