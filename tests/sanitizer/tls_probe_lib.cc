// A library with a thread_local, loaded with dlopen: its TLS block is dynamic (malloc'd by glibc at first use).
#include <cstddef>

namespace {
thread_local char probe[32];  // <= 48 bytes: ASan gives the chunk a 16-byte redzone, so
                                // its user bytes start 16 bytes into a page at every page boundary
}

extern "C" __attribute__((visibility("default"))) void* xg_tls_probe_touch() {
  probe[0] = 1;
  return probe;
}
