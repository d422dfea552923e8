#include "gpu-proxy/admin_protocol.h"

#include <array>
#include <initializer_list>
#include <vector>

#include "gpu-proxy/control.h"
#include "gpu-proxy/units.h"

namespace xg::proxy {

namespace {

enum class Arg : uint8_t { Name, OptName, Quota, Weight, Domid };

struct Command {
  AdminVerb verb;
  std::string_view wire;
  std::array<Arg, 4> args{};
  size_t nargs = 0;
};

constexpr Command command(AdminVerb verb, std::string_view wire, std::initializer_list<Arg> args) {
  Command c{verb, wire};
  for (Arg a : args) c.args[c.nargs++] = a;
  return c;
}

#define XG_ARGLIST(...) __VA_ARGS__
constexpr auto kCommands = [] {
  using enum Arg;
  return std::array{
#define XG_ADMIN_ROW(e, wire, args) command(AdminVerb::e, wire, {XG_ARGLIST args}),
      XG_ADMIN_COMMANDS(XG_ADMIN_ROW)
#undef XG_ADMIN_ROW
  };
}();
#undef XG_ARGLIST

const Command* find(AdminVerb v) {
  for (const Command& c : kCommands)
    if (c.verb == v) return &c;
  return nullptr;
}

std::string_view arg_name(Arg a) {
  switch (a) {
    case Arg::Name: return "NAME";
    case Arg::OptName: return "[NAME]";
    case Arg::Quota: return "QUOTA";
    case Arg::Weight: return "WEIGHT";
    case Arg::Domid: return "DOMID";
  }
  return "?";
}

std::vector<std::string_view> split(std::string_view text, size_t max) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (out.size() <= max) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n')) ++i;
    if (i == text.size()) break;
    const size_t j = text.find_first_of(" \t\n", i);
    out.push_back(text.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i));
    i = j == std::string_view::npos ? text.size() : j;
  }
  return out;
}

// Fills the request field of `a` from `tok`; false if it does not parse.
bool take(Arg a, std::string_view tok, AdminRequest& r) {
  switch (a) {
    case Arg::Name:
    case Arg::OptName:
      if (!valid_zone_name(tok)) return false;
      r.name = std::string(tok);
      return true;
    case Arg::Quota: {
      auto q = parse_size(tok);
      if (!q || *q == 0) return false;
      r.quota = *q;
      return true;
    }
    case Arg::Weight: {
      auto w = parse_weight(tok);
      if (!w) return false;
      r.weight = *w;
      return true;
    }
    case Arg::Domid: {
      auto d = parse_count(tok, 0, 0x7FEF);  // below DOMID_FIRST_RESERVED; 0 is dom0 (a loopback zone, for tests)
      if (!d) return false;
      r.domid = static_cast<uint32_t>(*d);
      return true;
    }
  }
  return false;
}

}  // namespace

std::string admin_usage(AdminVerb verb) {
  const Command* c = find(verb);
  if (!c) return "";
  std::string u(c->wire);
  for (size_t i = 0; i < c->nargs; ++i) (u += ' ') += arg_name(c->args[i]);
  return u;
}

std::variant<AdminRequest, std::string> parse_admin_request(std::string_view text) {
  const auto tok = split(text, 5);
  const Command* c = nullptr;
  for (const Command& k : kCommands)
    if (!tok.empty() && tok[0] == k.wire) c = &k;
  if (c == nullptr) {
    std::string known;
    for (const Command& k : kCommands) (known += known.empty() ? "" : ", ") += k.wire;
    return "error unknown command (" + known + ")";
  }
  AdminRequest r;
  r.verb = c->verb;
  size_t t = 1;
  for (size_t i = 0; i < c->nargs; ++i) {
    if (t == tok.size()) {
      if (c->args[i] == Arg::OptName) continue;
      return "error usage: " + admin_usage(c->verb);
    }
    if (!take(c->args[i], tok[t++], r)) return "error usage: " + admin_usage(c->verb);
  }
  if (t != tok.size()) return "error usage: " + admin_usage(c->verb);
  return r;
}

std::string format_admin_request(const AdminRequest& r) {
  const Command* c = find(r.verb);
  if (!c) return "";
  std::string out(c->wire);
  for (size_t i = 0; i < c->nargs; ++i) {
    switch (c->args[i]) {
      case Arg::Name: (out += ' ') += r.name; break;
      case Arg::OptName:
        if (!r.name.empty()) (out += ' ') += r.name;
        break;
      case Arg::Quota: (out += ' ') += std::to_string(r.quota); break;
      case Arg::Weight: (out += ' ') += std::to_string(r.weight); break;
      case Arg::Domid: (out += ' ') += std::to_string(r.domid); break;
    }
  }
  return out;
}

}  // namespace xg::proxy
