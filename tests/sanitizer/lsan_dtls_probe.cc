// lsan_dtls_probe LIB: shows that a leak check survives a dynamic TLS block placed where clang 14's
// __tls_get_addr interceptor misreads it (tests/support/asan_defaults.cc says why that crashed LeakSanitizer).
//
// With no quarantine (quarantine_size_mb=0, thread_local_quarantine_size_kb=0) a freed heap chunk is handed out
// again by the next malloc of its size class, so the probe frees a 32-byte chunk that starts 16 bytes into a page
// and then lets glibc allocate the library's 32-byte TLS block into it. Exit 0: the block was placed there and the leak check ran and found nothing.
// Exit 77: the allocator did not hand the chunk back (nothing shown either way).
#include <dlfcn.h>
#include <sanitizer/lsan_interface.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  void* lib = ::dlopen(argv[1], RTLD_NOW);
  if (!lib) {
    std::fprintf(stderr, "dlopen: %s\n", ::dlerror());
    return 2;
  }
  auto* touch = reinterpret_cast<void* (*)()>(::dlsym(lib, "xg_tls_probe_touch"));
  if (!touch) return 2;
  static std::vector<void*> kept;  // reachable: not leaks
  kept.reserve(1 << 16);
  void* target = nullptr;
  for (int i = 0; i < (1 << 16) && !target; ++i) {
    void* p = std::malloc(32);
    if (reinterpret_cast<uintptr_t>(p) % 4096 == 16)
      target = p;
    else
      kept.push_back(p);
  }
  auto give_back = [] {
    for (void* p : kept) std::free(p);
    kept.clear();
  };
  if (!target) {
    give_back();
    return 77;
  }
  std::free(target);
  void* block = touch();  // glibc's __tls_get_addr allocates the block: malloc(32)
  if (block != target) {
    std::printf("lsan_dtls_probe: the TLS block landed at %p, not at %p: nothing shown\n", block, target);
    give_back();
    return 77;
  }
  std::printf("lsan_dtls_probe: the TLS block starts 16 bytes into a page (%p); leak check...\n", block);
  std::fflush(stdout);
  const int leaks = __lsan_do_recoverable_leak_check();
  std::printf("lsan_dtls_probe: leak check done, %s\n", leaks ? "leaks reported" : "no leaks");
  give_back();
  return leaks ? 1 : 0;
}
