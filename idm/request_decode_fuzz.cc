// libFuzzer: the proxy's request decoder+validator on arbitrary bytes from a zone's request ring.
#include "idm/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto bytes = std::as_bytes(std::span(data, size));
  using namespace xg::idm;
  if (auto m = decode(bytes, Direction::kRequest, Path::kRing); m.ok()) fuzz::touch(*m);
  return 0;
}
