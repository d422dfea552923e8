// libFuzzer: the consumer facing arbitrary shared-memory state. The input is the ring's whole data area plus
// its control block as a hostile producer could leave them; the consumer pops (bounded) and decodes.
#include <cstring>
#include <vector>

#include "idm/fuzz_common.h"
#include "idm/futex_doorbell.h"
#include "idm/test_ring_memory.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace xg::idm;
  static test::RingMemory m(4096, 1024);
  static FutexDoorbell bell;
  std::memset(m.mem.get(), 0, m.bytes);
  std::memcpy(m.view.data, data, std::min<size_t>(size, m.view.capacity));
  RingConsumer c(m.view, &bell);
  std::vector<std::byte> out(m.view.max_payload);
  for (int i = 0; i < 64; ++i) {
    auto n = c.try_pop(out);
    if (!n.ok()) break;
    if (auto msg = decode(std::span(out).first(*n), Direction::kRequest, Path::kRing); msg.ok()) fuzz::touch(*msg);
  }
  return 0;
}
