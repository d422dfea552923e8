// libFuzzer: the daemon's admin request parser on arbitrary bytes. Whatever parses must format back to a request
// that parses to the same thing (the protocol has one definition, shared by both ends).
#include <cstdint>
#include <string_view>
#include <variant>

#include "gpu-proxy/admin_protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = xg::proxy::parse_admin_request(text);
  if (const auto* r = std::get_if<xg::proxy::AdminRequest>(&parsed)) {
    auto again = xg::proxy::parse_admin_request(xg::proxy::format_admin_request(*r));
    const auto* r2 = std::get_if<xg::proxy::AdminRequest>(&again);
    if (r2 == nullptr || !(*r2 == *r)) __builtin_trap();
  }
  return 0;
}
