// libFuzzer: the zone's response decoder (libvgpu does not trust a response's lengths either).
#include "idm/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto bytes = std::as_bytes(std::span(data, size));
  using namespace xg::idm;
  if (auto m = decode(bytes, Direction::kResponse, Path::kRing); m.ok()) {
    volatile size_t n = m->payload.size();
    (void)n;
  }
  return 0;
}
