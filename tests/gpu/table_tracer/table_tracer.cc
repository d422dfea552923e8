// A libcuda.so.1 that sits in front of NVIDIA's driver and records what CUDA libraries do with the driver's
// private tables (cuGetExportTable): which slots they call, with which arguments, what the driver answers and
// what it writes behind the pointers. It is how the zone side learns the behaviour libvgpu must reproduce
// (libvgpu/export_tables.cc); it runs only natively, on the device machine (tests/gpu/ladder/run-ladder.sh with
// LADDER_TABLE_TRACE=1).
//
// Exported: cuInit, cuDriverGetVersion, cuGetProcAddress(_v2), cuGetExportTable; every other entry point named in
// the toolkit's cuda.h is a forwarder (forwarders.S, generated at build time) jumping to the real driver's symbol,
// so libraries that dlsym the driver directly (PyTorch) find everything; what cuGetProcAddress hands out is the
// real driver's. Tables are copied and their slots replaced by recording trampolines,
// except the runtime interface and the integrity table: the runtime checks a digest over their addresses.
// A slot is assumed to take at most six integer or pointer arguments (the SysV registers) and to return one
// integer; pointers among the arguments are dumped (32 bytes, read with process_vm_readv, so a non-pointer
// cannot crash us) before and after the call.
//
// Environment: XG_TRACER_DRIVER (the real libcuda.so.1; default: the first of the usual paths that is not us),
// XG_TRACER_LOG (default stderr).
#include <dlfcn.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <utility>

// The forwarders' targets, in the order of forwarder_names (forwarders.S jumps through this array).
extern "C" {
__attribute__((visibility("hidden"))) void* xg_tracer_forward[] = {
#define XG_FORWARDER_SLOT(name) nullptr,
#include "forwarder_slots.inc"
};
}

namespace {

const char* const kForwarderNames[] = {
#include "forwarder_names.inc"
};
static_assert(std::size(kForwarderNames) == std::size(xg_tracer_forward));

// What a forwarder jumps to when the real driver lacks the symbol: CUDA_ERROR_NOT_FOUND.
int missing_symbol() { return 500; }

using Word = uint64_t;
using CUresult = int;
struct Uuid {
  unsigned char b[16];
};

constexpr int kMaxTables = 16;
constexpr int kMaxSlots = 128;

struct Table {
  Uuid id{};
  const Word* real = nullptr;
  Word copy[kMaxSlots] = {};
  size_t words = 0;
};

std::mutex g_mu;
Table g_tables[kMaxTables];
int g_table_count = 0;
void* g_real = nullptr;
FILE* g_log = nullptr;  // set first thing in load_real (stderr is not a constant)

CUresult (*real_get_export_table)(const void**, const Uuid*) = nullptr;
CUresult (*real_get_proc_v2)(const char*, void**, int, uint64_t, int*) = nullptr;
CUresult (*real_get_proc)(const char*, void**, int, uint64_t) = nullptr;
CUresult (*real_init)(unsigned) = nullptr;
CUresult (*real_driver_version)(int*) = nullptr;

void hex(const Uuid& u, char out[33]) {
  for (int i = 0; i < 16; ++i) std::snprintf(out + 2 * i, 3, "%02x", u.b[i]);
}

// 32 bytes at `p` if readable, as hex; "-" otherwise.
void dump(Word p, char out[65]) {
  unsigned char buf[32];
  iovec local{buf, sizeof buf}, remote{reinterpret_cast<void*>(p), sizeof buf};
  if (p < 0x10000 || process_vm_readv(getpid(), &local, 1, &remote, 1, 0) != ssize_t(sizeof buf)) {
    std::snprintf(out, 65, "-");
    return;
  }
  for (size_t i = 0; i < sizeof buf; ++i) std::snprintf(out + 2 * i, 3, "%02x", buf[i]);
}

__attribute__((constructor)) void load_real() {
  g_log = stderr;
  if (const char* log = std::getenv("XG_TRACER_LOG"))
    if (FILE* f = std::fopen(log, "a")) g_log = f;
  const char* candidates[] = {std::getenv("XG_TRACER_DRIVER"), "/usr/local/nvidia/lib64/libcuda.so.1",
                              "/usr/lib/x86_64-linux-gnu/libcuda.so.1", "/usr/lib64/libcuda.so.1"};
  Dl_info self{};
  dladdr(reinterpret_cast<void*>(&load_real), &self);
  for (const char* c : candidates) {
    if (c == nullptr) continue;
    char resolved[4096];
    if (realpath(c, resolved) == nullptr) continue;
    char me[4096];
    if (self.dli_fname != nullptr && realpath(self.dli_fname, me) != nullptr && std::strcmp(me, resolved) == 0)
      continue;
    if ((g_real = dlopen(resolved, RTLD_NOW | RTLD_LOCAL)) != nullptr) {
      std::fprintf(g_log, "tracer: real driver %s\n", resolved);
      break;
    }
  }
  if (g_real == nullptr) {
    std::fprintf(g_log, "tracer: no real driver found\n");
    return;
  }
  real_get_export_table = reinterpret_cast<decltype(real_get_export_table)>(dlsym(g_real, "cuGetExportTable"));
  real_get_proc_v2 = reinterpret_cast<decltype(real_get_proc_v2)>(dlsym(g_real, "cuGetProcAddress_v2"));
  real_get_proc = reinterpret_cast<decltype(real_get_proc)>(dlsym(g_real, "cuGetProcAddress"));
  real_init = reinterpret_cast<decltype(real_init)>(dlsym(g_real, "cuInit"));
  real_driver_version = reinterpret_cast<decltype(real_driver_version)>(dlsym(g_real, "cuDriverGetVersion"));
  size_t found = 0;
  for (size_t i = 0; i < std::size(kForwarderNames); ++i) {
    void* f = dlsym(g_real, kForwarderNames[i]);
    found += f != nullptr;
    xg_tracer_forward[i] = f != nullptr ? f : reinterpret_cast<void*>(&missing_symbol);
  }
  std::fprintf(g_log, "tracer: %zu of %zu forwarders bound\n", found, std::size(kForwarderNames));
}

template <int T, int S>
Word trampoline(Word a0, Word a1, Word a2, Word a3, Word a4, Word a5) {
  const Table& t = g_tables[T];
  using Fn = Word (*)(Word, Word, Word, Word, Word, Word);
  const Word args[6] = {a0, a1, a2, a3, a4, a5};
  char before[6][65], after[6][65];
  for (int i = 0; i < 6; ++i) dump(args[i], before[i]);
  const Word r = reinterpret_cast<Fn>(t.real[S])(a0, a1, a2, a3, a4, a5);
  for (int i = 0; i < 6; ++i) dump(args[i], after[i]);
  char id[33];
  hex(t.id, id);
  std::lock_guard lk(g_mu);
  std::fprintf(g_log, "slot %s %d -> %#llx (int %d) args", id, S, (unsigned long long)r, int(r));
  for (int i = 0; i < 6; ++i) std::fprintf(g_log, " %#llx", (unsigned long long)args[i]);
  std::fprintf(g_log, "\n");
  for (int i = 0; i < 6; ++i)
    if (std::strcmp(before[i], "-") != 0)
      std::fprintf(g_log, "  a%d before %s%s%s\n", i, before[i], std::strcmp(before[i], after[i]) ? " after " : "",
                   std::strcmp(before[i], after[i]) ? after[i] : "");
  std::fflush(g_log);
  return r;
}

template <int T, size_t... S>
constexpr std::array<Word, kMaxSlots> trampolines(std::index_sequence<S...>) {
  return {reinterpret_cast<Word>(&trampoline<T, int(S)>)...};
}
template <size_t... T>
std::array<std::array<Word, kMaxSlots>, kMaxTables> all_trampolines(std::index_sequence<T...>) {
  return {trampolines<int(T)>(std::make_index_sequence<kMaxSlots>())...};
}
const auto g_tramps = all_trampolines(std::make_index_sequence<kMaxTables>());

bool unwrapped(const Uuid& u) {
  static const unsigned char cudart[16] = {0x6b, 0xd5, 0xfb, 0x6c, 0x5b, 0xf4, 0xe7, 0x4a,
                                           0x89, 0x87, 0xd9, 0x39, 0x12, 0xfd, 0x9d, 0xf9};
  static const unsigned char integrity[16] = {0xd4, 0x08, 0x20, 0x55, 0xbd, 0xe6, 0x70, 0x4b,
                                              0x8d, 0x34, 0xba, 0x12, 0x3c, 0x66, 0xe1, 0xf2};
  static const unsigned char cls[16] = {0xc6, 0x93, 0x33, 0x6e, 0x11, 0x21, 0xdf, 0x11,
                                        0xa8, 0xc3, 0x68, 0xf3, 0x55, 0xd8, 0x95, 0x93};
  return !std::memcmp(u.b, cudart, 16) || !std::memcmp(u.b, integrity, 16) || !std::memcmp(u.b, cls, 16);
}

CUresult traced_get_export_table(const void** out, const Uuid* id) {
  if (real_get_export_table == nullptr) return 3;  // CUDA_ERROR_NOT_INITIALIZED
  const CUresult r = real_get_export_table(out, id);
  char h[33] = "(null)";
  if (id != nullptr) hex(*id, h);
  std::lock_guard lk(g_mu);
  if (r != 0 || out == nullptr || *out == nullptr || id == nullptr) {
    std::fprintf(g_log, "table %s -> %d\n", h, r);
    return r;
  }
  const Word* real = static_cast<const Word*>(*out);
  if (unwrapped(*id)) {
    std::fprintf(g_log, "table %s -> 0 (passed through, size word %#llx)\n", h, (unsigned long long)real[0]);
    return r;
  }
  for (int i = 0; i < g_table_count; ++i)
    if (!std::memcmp(g_tables[i].id.b, id->b, 16) && g_tables[i].real == real) {
      *out = g_tables[i].copy;
      return r;
    }
  const size_t words = real[0] / sizeof(Word);
  if (g_table_count == kMaxTables || words < 2 || words > size_t(kMaxSlots) || real[0] % sizeof(Word) != 0) {
    std::fprintf(g_log, "table %s -> 0 (not wrapped: size word %#llx)\n", h, (unsigned long long)real[0]);
    return r;
  }
  Table& t = g_tables[g_table_count];
  t.id = *id;
  t.real = real;
  t.words = words;
  t.copy[0] = real[0];
  for (size_t s = 1; s < words; ++s) t.copy[s] = real[s] != 0 ? g_tramps[g_table_count][s] : 0;
  std::fprintf(g_log, "table %s -> 0 (wrapped: %zu words)\n", h, words);
  ++g_table_count;
  *out = t.copy;
  return r;
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) CUresult cuInit(unsigned flags) {
  return real_init != nullptr ? real_init(flags) : 3;
}
__attribute__((visibility("default"))) CUresult cuDriverGetVersion(int* v) {
  return real_driver_version != nullptr ? real_driver_version(v) : 3;
}
__attribute__((visibility("default"))) CUresult cuGetExportTable(const void** out, const Uuid* id) {
  return traced_get_export_table(out, id);
}
__attribute__((visibility("default"))) CUresult cuGetProcAddress_v2(const char* symbol, void** pfn, int version,
                                                                    uint64_t flags, int* status) {
  if (real_get_proc_v2 == nullptr) return 3;
  const CUresult r = real_get_proc_v2(symbol, pfn, version, flags, status);
  if (r == 0 && pfn != nullptr && *pfn != nullptr && symbol != nullptr) {
    if (!std::strcmp(symbol, "cuGetExportTable")) *pfn = reinterpret_cast<void*>(&cuGetExportTable);
    if (!std::strcmp(symbol, "cuGetProcAddress"))
      *pfn = version >= 12000 ? reinterpret_cast<void*>(&cuGetProcAddress_v2) : *pfn;
  }
  return r;
}
__attribute__((visibility("default"))) CUresult cuGetProcAddress(const char* symbol, void** pfn, int version,
                                                                 uint64_t flags) {
  if (real_get_proc == nullptr) return 3;
  const CUresult r = real_get_proc(symbol, pfn, version, flags);
  if (r == 0 && pfn != nullptr && symbol != nullptr && !std::strcmp(symbol, "cuGetExportTable"))
    *pfn = reinterpret_cast<void*>(&cuGetExportTable);
  return r;
}

}  // extern "C"
