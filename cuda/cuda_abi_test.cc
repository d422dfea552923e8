// The shared pieces of the driver ABI: cuGetProcAddress's resolution rules, cuLaunchKernel's `extra` parsing,
// the entry-point table's versions and the error names.
#include <doctest/doctest.h>

#include <cstring>
#include <vector>

#include "cuda/entry_points.h"
#include "cuda/errors.h"
#include "cuda/launch_params.h"
#include "cuda/proc_address.h"

using namespace xg::cuda;

namespace {
int f_v1, f_v2, f_ptds;
const ProcEntry kTable[] = {
    {"cuThing", 2000, &f_v1, nullptr},
    {"cuThing", 3020, &f_v2, &f_ptds},
};
}  // namespace

TEST_CASE("resolve_proc picks the newest entry at or below the version, and the per-thread twin on request") {
  void* fn = nullptr;
  CUdriverProcAddressQueryResult st{};
  CHECK(resolve_proc(kTable, "cuThing", &fn, 2999, 0, &st, ProcApi::kV2) == CUDA_SUCCESS);
  CHECK(fn == &f_v1);
  CHECK(st == CU_GET_PROC_ADDRESS_SUCCESS);
  CHECK(resolve_proc(kTable, "cuThing", &fn, 12040, 0, &st, ProcApi::kV2) == CUDA_SUCCESS);
  CHECK(fn == &f_v2);
  CHECK(resolve_proc(kTable, "cuThing", &fn, 12040, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM, nullptr, ProcApi::kV2) ==
        CUDA_SUCCESS);
  CHECK(fn == &f_ptds);
  CHECK(resolve_proc(kTable, "cuThing", &fn, 2999, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM, nullptr, ProcApi::kV2) ==
        CUDA_SUCCESS);
  CHECK(fn == &f_v1);  // no twin: the legacy function
  // A miss: cuGetProcAddress_v2 succeeds with a NULL function and says why; the 11.x cuGetProcAddress fails.
  fn = &f_v1;
  CHECK(resolve_proc(kTable, "cuThing", &fn, 1000, 0, &st, ProcApi::kV2) == CUDA_SUCCESS);
  CHECK(st == CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT);
  CHECK(fn == nullptr);
  CHECK(resolve_proc(kTable, "cuOther", &fn, 12040, 0, &st, ProcApi::kV2) == CUDA_SUCCESS);
  CHECK(st == CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND);
  CHECK(fn == nullptr);
  CHECK(resolve_proc(kTable, "cuOther", &fn, 12040, 0, nullptr, ProcApi::kV1) == CUDA_ERROR_NOT_FOUND);
  CHECK(resolve_proc(kTable, "cuThing", &fn, 12040, 4, nullptr, ProcApi::kV2) == CUDA_ERROR_INVALID_VALUE);
  CHECK(resolve_proc(kTable, nullptr, &fn, 12040, 0, nullptr, ProcApi::kV2) == CUDA_ERROR_INVALID_VALUE);
}

TEST_CASE("parse_extra: keys in any order, unknown keys and unterminated arrays refused") {
  char buf[8];
  size_t n = sizeof buf;
  ExtraBuffer x;
  void* a[] = {CU_LAUNCH_PARAM_BUFFER_SIZE, &n, CU_LAUNCH_PARAM_BUFFER_POINTER, buf, CU_LAUNCH_PARAM_END};
  REQUIRE(parse_extra(a, &x) == CUDA_SUCCESS);
  CHECK(x.buffer == buf);
  CHECK(x.buffer_size == &n);
  void* empty[] = {CU_LAUNCH_PARAM_END};
  REQUIRE(parse_extra(empty, &x) == CUDA_SUCCESS);
  CHECK(x.buffer == nullptr);
  CHECK(x.buffer_size == nullptr);
  void* unknown[] = {reinterpret_cast<void*>(0x42), buf, CU_LAUNCH_PARAM_END};
  CHECK(parse_extra(unknown, &x) == CUDA_ERROR_INVALID_VALUE);
  // Exactly kMaxExtraSlots slots and no terminator: refused without reading past them (ASan checks the heap
  // array's end).
  std::vector<void*> long_one(kMaxExtraSlots);
  for (size_t i = 0; i < long_one.size(); i += 2) {
    long_one[i] = CU_LAUNCH_PARAM_BUFFER_SIZE;
    long_one[i + 1] = &n;
  }
  CHECK(parse_extra(long_one.data(), &x) == CUDA_ERROR_INVALID_VALUE);
  // The longest accepted: 31 pairs, then the terminator in the last key slot.
  long_one[kMaxExtraSlots - 2] = CU_LAUNCH_PARAM_END;
  CHECK(parse_extra(long_one.data(), &x) == CUDA_SUCCESS);
}

TEST_CASE("the entry-point table's versions; error names") {
  static_assert(symbol_version("cuMemAlloc_v2") == 3020);
  static_assert(symbol_version("cuGetProcAddress_v2") == 12000);
  static_assert(symbol_version("cuNoSuchThing") == 0);
  CHECK(std::strcmp(error_name(CUDA_ERROR_OUT_OF_MEMORY), "CUDA_ERROR_OUT_OF_MEMORY") == 0);
  CHECK(std::strcmp(error_string(CUDA_ERROR_INVALID_VALUE), "invalid argument") == 0);
  CHECK(error_name(123456) == nullptr);
}
