// Bulk copies carry every byte, in both directions, round after round: a fresh pattern per round is copied to
// the device with one large cuMemcpyHtoD, read back with one large cuMemcpyDtoH and compared byte by byte. Sizes
// are not multiples of any chunk or page, and the device side starts at odd offsets, so a remoting layer that
// splits copies into pieces is exercised at every boundary. On a mismatch the device copy is read again in small
// pieces to say which direction lost the bytes.
//   copy_integrity [ROUNDS]   (default 6)
#include <cstdint>
#include <cstring>
#include <vector>

#include "common.h"

namespace {

uint8_t pattern(uint32_t round, uint64_t i) {
  uint64_t v = (i + 1) * 0x9E3779B97F4A7C15ull ^ (uint64_t{round} << 40);
  v ^= v >> 29;
  return static_cast<uint8_t>(v ^ (v >> 8));
}

// The first index where `got` differs from the round's pattern starting at pattern index `base`, or -1.
int64_t first_mismatch(const std::vector<uint8_t>& got, uint32_t round, uint64_t base) {
  for (uint64_t i = 0; i < got.size(); ++i)
    if (got[i] != pattern(round, base + i)) return static_cast<int64_t>(i);
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 6;
  setup_primary_context();
  const uint64_t max_bytes = (9u << 20) + 4099;
  CUdeviceptr dev = 0;
  CK(cuMemAlloc_v2(&dev, max_bytes + 64));
  const uint64_t sizes[] = {(4u << 20) + 1234, (1u << 20) - 3, (9u << 20) + 4099, 65537};
  uint64_t total = 0;
  for (int r = 0; r < rounds; ++r) {
    const uint32_t round = static_cast<uint32_t>(r);
    const uint64_t bytes = sizes[r % 4];
    const uint64_t off = static_cast<uint64_t>(r % 7) * 9;  // device-side misalignment
    std::vector<uint8_t> out(bytes), back(bytes, 0xEE);
    for (uint64_t i = 0; i < bytes; ++i) out[i] = pattern(round, i);
    CK(cuMemcpyHtoD_v2(dev + off, out.data(), bytes));
    CK(cuMemcpyDtoH_v2(back.data(), dev + off, bytes));
    const int64_t bad = first_mismatch(back, round, 0);
    if (bad >= 0) {
      // Which direction? Read the device bytes around the first bad one again, in small (inline) pieces.
      const uint64_t at = static_cast<uint64_t>(bad) & ~uint64_t{255};
      std::vector<uint8_t> again(std::min<uint64_t>(512, bytes - at));
      CK(cuMemcpyDtoH_v2(again.data(), dev + off + at, again.size()));
      const bool device_ok = first_mismatch(again, round, at) < 0;
      uint64_t run = 0;
      while (static_cast<uint64_t>(bad) + run < bytes && back[bad + run] != pattern(round, bad + run)) ++run;
      REQUIRE_TRUE(false,
                   "round %d, %llu bytes at device offset %llu: byte %lld is 0x%02x, expected 0x%02x (%llu bad "
                   "bytes in a row); the device holds %s there, so the %s copy lost them",
                   r, static_cast<unsigned long long>(bytes), static_cast<unsigned long long>(off),
                   static_cast<long long>(bad), back[bad], pattern(round, bad), static_cast<unsigned long long>(run),
                   device_ok ? "the right bytes" : "wrong bytes too", device_ok ? "device-to-host" : "host-to-device");
    }
    total += bytes;
  }
  CK(cuMemFree_v2(dev));
  teardown_primary_context();
  std::printf("copy_integrity: OK (%d rounds, %llu bytes each way)\n", rounds, static_cast<unsigned long long>(total));
  return 0;
}
