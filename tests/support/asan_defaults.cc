// AddressSanitizer's default options for every program of the ASan test build: the top-level CMakeLists.txt adds
// this object to each executable there. ASAN_OPTIONS in the environment is read after these and can override them.
//
// intercept_tls_get_addr=0: the sanitizer runtime of clang 14 (Debian 12's; the bug is in LLVM up to 16 and GCC
// up to 13) guesses the layout of a dynamic TLS block (a thread_local of a dlopened library: our simulated
// driver's context stack, the demo kernels' thread indices) from its address, treating a block that starts 16
// bytes into a page as glibc 2.19's header-prefixed layout and reading the two words before it as the block's
// bounds. glibc >= 2.25 has no such header, so now and then (when malloc happens to place the block there)
// LeakSanitizer's stop-the-world tracer scans a range like [0xe0, ...) and dies: "Tracer caught signal 11" in
// ScanRangeForPointers (google/sanitizers#1322). We saw it in proxy_worker_fuzz and in the gpu-proxy workers
// that served a PV domU. Without the interceptor, LeakSanitizer still reaches those blocks through the heap
// (each thread's DTV is a heap block referenced from its TCB), so leak checking loses nothing we rely on.
extern "C" __attribute__((visibility("default"), used)) const char* __asan_default_options() {
  return "intercept_tls_get_addr=0";
}
