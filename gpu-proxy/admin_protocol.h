// The admin protocol, defined once: the daemon parses requests with it and xen-gpu builds them with it. A request
// is one SOCK_SEQPACKET packet "VERB ARG ...", the answer one packet "ok[ ...|\n<table>]" or "error <why>". The
// admin socket is the operator's (mode 0600), but the daemon still treats what arrives there as input to check:
// every argument is parsed by kind (units.h), and a request that does not parse is answered with the verb's usage.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace xg::proxy {

// (verb enum, verb on the wire, arguments in order). Argument kinds: Name (a zone name), OptName (a zone name or
// nothing), Quota (a size, e.g. 512MiB; > 0), Weight (1..kMaxWeight), Domid (0..0x7FEF: below Xen's reserved ids).
#define XG_ADMIN_COMMANDS(X)                                  \
  X(kCreate, "create", (Name, Quota, Weight))                 \
  X(kCreateXen, "create-xen", (Name, Domid, Quota, Weight))   \
  X(kCreateBound, "create-bound", (Name, Quota, Weight))      \
  X(kDestroy, "destroy", (Name))                              \
  X(kWeight, "weight", (Name, Weight))                        \
  X(kQuota, "quota", (Name, Quota))                           \
  X(kDrain, "drain", (Name))                                  \
  X(kJoin, "join", (Name))                                    \
  X(kZones, "zones", ())                                      \
  X(kZonesJson, "zones-json", ())                             \
  X(kProfile, "profile", (OptName))

enum class AdminVerb : uint8_t {
#define XG_ADMIN_ENUM(e, wire, args) e,
  XG_ADMIN_COMMANDS(XG_ADMIN_ENUM)
#undef XG_ADMIN_ENUM
};

struct AdminRequest {
  AdminVerb verb = AdminVerb::kZones;
  std::string name;  // empty where the verb takes none (or profile's optional one is absent)
  uint64_t quota = 0;
  uint32_t weight = 0;
  uint32_t domid = 0;
  friend bool operator==(const AdminRequest&, const AdminRequest&) = default;
};

// One request as the daemon reads it: the request, or the error answer ("error usage: ..." / "error unknown
// command (...)").
[[nodiscard]] std::variant<AdminRequest, std::string> parse_admin_request(std::string_view text);
// The packet xen-gpu sends for `r`; parse_admin_request gives `r` back.
[[nodiscard]] std::string format_admin_request(const AdminRequest& r);
// "create NAME QUOTA WEIGHT", for error answers and help.
[[nodiscard]] std::string admin_usage(AdminVerb verb);

}  // namespace xg::proxy
