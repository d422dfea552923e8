// libFuzzer: registration. Arbitrary packets arrive on a real SOCK_SEQPACKET socket and go through the same
// read_hello() the proxy runs on every new connection.
#include <sys/socket.h>

#include "idm/transport_shm.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace xg::idm;
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return 0;
  UniqueFd a(sv[0]), b(sv[1]);
  (void)send_packet(a.get(), std::as_bytes(std::span(data, size)));
  auto reg = read_hello(std::move(b), std::chrono::milliseconds(0));
  if (reg.ok() && reg->name.size() > kMaxZoneName) __builtin_trap();
  return 0;
}
