// Test code (xg_idm_testing, never linked into what ships): the proxy-side answer to the transport-level messages
// (Ping, Echo, Nop, BulkPut) and a zone-side client for them, used by the shm transport's tests and by idm-bench.
// (The real-Xen job's checks are tests/xen/conformance.*.) Same decode/dispatch path as
// the real proxy: copy out, decode+validate, dispatch, respond.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <vector>

#include "idm/channel.h"
#include "idm/codec.h"

namespace xg::idm {

struct ConformanceStats {
  uint64_t requests = 0;
  uint64_t rejected = 0;     // decode/validation failures (answered or logged, never fatal)
  uint64_t nops = 0;
  uint64_t nop_checksum = 0;  // running mix of every Nop value, in order
  uint64_t bulk_bytes = 0;
  Error ended_by = Error::kOk;  // why serve() returned
};

// Mixes one value into the running Nop checksum (order-sensitive).
[[nodiscard]] constexpr uint64_t mix_nop(uint64_t acc, uint64_t v) noexcept {
  return (acc ^ v) * 0x100000001b3ull + 0x9e3779b97f4a7c15ull;
}

// Serves `channel` until the peer dies, the peer breaks the ring contract, or `stop` becomes true.
// BulkPut payloads are copied out of the data area into `device` (the stand-in for device memory; successive
// puts fill it round-robin) or, when it is empty, into a private buffer.
ConformanceStats serve_conformance(Channel& channel, const std::atomic<bool>& stop,
                                   std::span<std::byte> device = {});

// Zone-side helpers: one call each, waiting for the matching response.
class ConformanceClient {
 public:
  explicit ConformanceClient(Channel& ch) : ch_(ch), rx_(ch.geometry().max_payload) {}
  [[nodiscard]] Result<uint64_t> ping(uint64_t token);
  [[nodiscard]] Result<uint32_t> echo(std::span<const std::byte> tail);  // returns the echoed checksum
  [[nodiscard]] Error post_nop(uint64_t value);
  [[nodiscard]] Result<uint32_t> bulk_put(uint64_t offset, uint64_t length, bool want_checksum);
  // Sends a request without waiting, and waits for a response (pipelined bulk copies).
  template <Op op>
  [[nodiscard]] Error send(const typename OpTraits<op>::Request& r, std::span<const std::byte> tail = {}) {
    return send_request<op>(ch_.tx(), next_seq_++, r, tail);
  }
  [[nodiscard]] Result<Message> receive();
  [[nodiscard]] uint32_t last_seq() const noexcept { return next_seq_ - 1; }

 private:
  Channel& ch_;
  std::vector<std::byte> rx_;
  uint32_t next_seq_ = 1;
};

}  // namespace xg::idm
