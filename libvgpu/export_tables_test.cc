// cuGetExportTable's tables, against what NVIDIA's driver answered (driver 580.159.04, H200, recorded by
// tests/gpu/driver_facts) and the call sequences the CUDA 13.0 runtime made in zones (XEN_GPU_TRACE): table sizes,
// the integrity digest (two vectors computed by NVIDIA's driver), context-local storage as cudart uses it, the
// tool-callback switches, unknown tables; plus MD2 itself (RFC 1319) and the trace's name parsing.
#include <array>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <doctest/doctest.h>

#include "libvgpu/export_tables.h"
#include "libvgpu/hmac_md2.h"
#include "libvgpu/state.h"
#include "libvgpu/trace.h"

using namespace xg::vgpu;

namespace {

std::string hex(const uint8_t* p, size_t n) {
  std::string s;
  char b[3];
  for (size_t i = 0; i < n; ++i) {
    std::snprintf(b, sizeof b, "%02x", p[i]);
    s += b;
  }
  return s;
}

std::string md2_hex(std::string_view text) {
  const auto d = md2(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  return hex(d.data(), d.size());
}

CUuuid uuid_from_hex(std::string_view h) {
  CUuuid u{};
  for (size_t i = 0; i < 16; ++i) u.bytes[i] = static_cast<char>(std::stoi(std::string(h.substr(2 * i, 2)), nullptr, 16));
  return u;
}

const uintptr_t* table(std::string_view uuid_hex) {
  const void* t = nullptr;
  const CUuuid id = uuid_from_hex(uuid_hex);
  REQUIRE(cuGetExportTable(&t, &id) == CUDA_SUCCESS);
  REQUIRE(t != nullptr);
  return static_cast<const uintptr_t*>(t);
}

template <typename F>
F slot(const uintptr_t* t, size_t i) {
  return reinterpret_cast<F>(t[i]);
}

}  // namespace

TEST_CASE("MD2: RFC 1319's test vectors") {
  CHECK(md2_hex("") == "8350e5a3e24c153df2275c9f80692773");
  CHECK(md2_hex("a") == "32ec01ec4a6dac72c0ab96fb34c0b5d1");
  CHECK(md2_hex("abc") == "da853b0d3f88d99b30283a69e6ded6bb");
  CHECK(md2_hex("message digest") == "ab4f496bfb2a530b219ff33031fe06b0");
  CHECK(md2_hex("abcdefghijklmnopqrstuvwxyz") == "4e8ddff3650292ab5a4108c3aa47940b");
}

TEST_CASE("integrity digest: the vectors NVIDIA's driver computed (580.159.04, H200)") {
  // driver_facts called the real INTEGRITY_CHECK slot 1 with these inputs and printed its answer.
  const IntegrityInputs::Device dev{uuid_from_hex("643aea2d73bc353941453e7dd68454ac"), 0, 0, 6};
  IntegrityInputs in{13000, 13002, 829, 0x65ee6740, 0x7f1165a4c680, 0x7f1165a4c660, 0x7f11603ab350, 1700000000,
                     std::span(&dev, 1)};
  uint8_t out[16];
  integrity_digest(in, out);
  CHECK(hex(out, 16) == "a40aed51c372a1931f0e74b9f880400e");
  in.runtime_version = 12082;  // a CUDA 12.8 runtime
  integrity_digest(in, out);
  CHECK(hex(out, 16) == "379c19a5279529d5e99ea2769969cd33");
  in.pid = 830;  // any input changes the digest
  integrity_digest(in, out);
  CHECK(hex(out, 16) != "379c19a5279529d5e99ea2769969cd33");
}

TEST_CASE("integrity check slot: runtime versions ending in 0 or 1 get the driver's constants") {
  const uintptr_t* t = table("d4082055bde6704b8d34ba123c66e1f2");
  CHECK(t[0] == 3 * sizeof(uintptr_t));
  auto check = slot<CUresult (*)(uint32_t, uint64_t, uint64_t*)>(t, 1);
  uint64_t out[2] = {};
  REQUIRE(check(13000, 1700000000, out) == CUDA_SUCCESS);
  CHECK(hex(reinterpret_cast<uint8_t*>(out), 16) == "5c67cb031c184133e8d14c1faa83d38e");
  REQUIRE(check(13001, 1700000000, out) == CUDA_SUCCESS);
  CHECK(hex(reinterpret_cast<uint8_t*>(out), 16) == "5c67cb031c184118e8d14c1faa83d38e");
  CHECK(check(13000, 0, nullptr) == CUDA_ERROR_INVALID_VALUE);
}

TEST_CASE("cuGetExportTable: the tables' sizes, stable pointers, unknown tables and bad arguments") {
  // Word 0 = size in bytes. Ours may be longer than the 580 driver's (more slots) but never shorter where the
  // runtime calls a slot: cudart-interface 13 words (driver 13), hooks 7 (7), TLS 4 (3), integrity 3 (3),
  // context checks 17 (15; CUDA 13.1 cuBLAS wants 17), library tables as the driver has them.
  const std::pair<const char*, uintptr_t> sizes[] = {
      {"6bd5fb6c5bf4e74a8987d93912fd9df9", 13}, {"a094798c2e742e7493f20800200c0a66", 7},
      {"42d85a8123f6cb478298f6e78a3aecdc", 4},  {"d4082055bde6704b8d34ba123c66e1f2", 3},
      {"263e88607cd2614392f6bbd5006dfa7e", 17}, {"f8cff95121468b4eb9e2fb469e7c0dd9", 3},
      {"da9151d33ae6cc41a5c04f26d533e328", 7},  {"69a28e9f24498b47b030c5da330ea4e9", 34}};
  for (const auto& entry : sizes) {
    const char* id = entry.first;  // not a structured binding: clang 14 cannot capture one (CAPTURE)
    const uintptr_t words = entry.second;
    CAPTURE(id);
    const uintptr_t* t = table(id);
    CHECK(t[0] == words * sizeof(uintptr_t));
    for (uintptr_t i = 1; i < words; ++i) CHECK(t[i] != 0);  // every slot callable
    CHECK(table(id) == t);                                    // the same table every time
  }
  // Context-local storage: no size word, three functions, NULL.
  const uintptr_t* cls = table("c693336e1121df11a8c368f355d89593");
  CHECK(cls[0] != 0);
  CHECK(cls[1] != 0);
  CHECK(cls[2] != 0);
  CHECK(cls[3] == 0);

  // As the driver answers (recorded): unknown -> INVALID_VALUE and NULL; NULL arguments -> INVALID_VALUE.
  const void* t = reinterpret_cast<const void*>(1);
  const CUuuid unknown = uuid_from_hex("11111111111111111111111111111111");
  CHECK(cuGetExportTable(&t, &unknown) == CUDA_ERROR_INVALID_VALUE);
  CHECK(t == nullptr);
  CHECK(cuGetExportTable(nullptr, &unknown) == CUDA_ERROR_INVALID_VALUE);
  CHECK(cuGetExportTable(&t, nullptr) == CUDA_ERROR_INVALID_VALUE);
}

TEST_CASE("tool callbacks: every switch off, 1024 and 14 entries as on the driver") {
  const uintptr_t* hooks = table("a094798c2e742e7493f20800200c0a66");
  using GetBuffer = void (*)(volatile uint32_t**, size_t*);
  for (const auto& slot_entries : {std::pair<size_t, size_t>{2, 1024}, {6, 14}}) {
    const size_t index = slot_entries.first, entries = slot_entries.second;
    volatile uint32_t* buf = nullptr;
    size_t n = 0;
    slot<GetBuffer>(hooks, index)(&buf, &n);
    REQUIRE(const_cast<uint32_t*>(buf) != nullptr);
    CHECK(n == entries);
    for (size_t i = 0; i < n; ++i) CHECK(uint32_t{buf[i]} == 0u);
  }
  // A slot we do not implement answers NOT_SUPPORTED (and logs once).
  CHECK(slot<CUresult (*)()>(hooks, 1)() == CUDA_ERROR_NOT_SUPPORTED);
}

namespace {
int g_dtor_calls = 0;
void* g_dtor_value = nullptr;
void record_dtor(CUcontext, void*, void* value) {
  ++g_dtor_calls;
  g_dtor_value = value;
}
}  // namespace

TEST_CASE("context-local storage: the runtime's sequence (get misses, register, get hits, unregister)") {
  const uintptr_t* cls = table("c693336e1121df11a8c368f355d89593");
  using Reg = CUresult (*)(CUcontext, void*, void*, void (*)(CUcontext, void*, void*));
  using Unreg = CUresult (*)(CUcontext, void*);
  using Get = CUresult (*)(void**, CUcontext, void*);
  static int key;
  int value = 7;
  void* got = nullptr;
  // Recorded from cudart 13.0 in a zone: before any context is current, then with the primary context current.
  CHECK(slot<Get>(cls, 2)(&got, nullptr, &key) == CUDA_ERROR_INVALID_CONTEXT);
  const uint64_t ctx = 0x0100000100000000ull;  // a worker handle as the proxy makes them
  this_thread_contexts().push(ctx);
  CHECK(slot<Get>(cls, 2)(&got, nullptr, &key) == CUDA_ERROR_INVALID_HANDLE);
  CHECK(slot<Reg>(cls, 0)(nullptr, &key, &value, &record_dtor) == CUDA_SUCCESS);
  CHECK(slot<Get>(cls, 2)(&got, nullptr, &key) == CUDA_SUCCESS);
  CHECK(got == &value);
  CHECK(slot<Get>(cls, 2)(&got, handle_of<CUcontext>(ctx), &key) == CUDA_SUCCESS);  // named explicitly
  CHECK(slot<Unreg>(cls, 1)(nullptr, &key) == CUDA_SUCCESS);
  CHECK(slot<Unreg>(cls, 1)(nullptr, &key) == CUDA_ERROR_INVALID_HANDLE);
  CHECK(g_dtor_calls == 0);  // unregistering does not run the destructor

  // A destroyed context runs the destructors of what is still registered, once.
  CHECK(slot<Reg>(cls, 0)(nullptr, &key, &value, &record_dtor) == CUDA_SUCCESS);
  run_context_storage_destructors(ctx);
  CHECK(g_dtor_calls == 1);
  CHECK(g_dtor_value == &value);
  run_context_storage_destructors(ctx);
  CHECK(g_dtor_calls == 1);
  CHECK(slot<Get>(cls, 2)(&got, nullptr, &key) == CUDA_ERROR_INVALID_HANDLE);
  uint64_t popped = 0;
  this_thread_contexts().pop(&popped);
}

TEST_CASE("context checks: no context is wrapped; the flags word is 0") {
  const uintptr_t* t = table("263e88607cd2614392f6bbd5006dfa7e");
  uint32_t wrapped = 1;
  CUcontext inner = reinterpret_cast<CUcontext>(0x1234);
  CHECK(slot<CUresult (*)(CUcontext, uint32_t*, CUcontext*)>(t, 2)(nullptr, &wrapped, &inner) == CUDA_SUCCESS);
  CHECK(wrapped == 0);
  CHECK(inner == reinterpret_cast<CUcontext>(0x1234));  // left alone, as the driver leaves it
  CHECK(slot<uint32_t (*)()>(t, 3)() == 0);
  CHECK(slot<CUresult (*)()>(t, 1)() == CUDA_ERROR_NOT_SUPPORTED);
}

TEST_CASE("trace: entry-point names from compiler signatures") {
  CHECK(trace::entry_name("CUresult cuMemAlloc_v2(CUdeviceptr*, size_t)") == "cuMemAlloc_v2");
  CHECK(trace::entry_name("CUresult xg::vgpu::{anonymous}::storage_get(void**, CUcontext, void*)") ==
        "storage_get");
  CHECK(trace::entry_name("cuInit") == "cuInit");
}
