#include "libvgpu/export_tables.h"

#include <pthread.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <mutex>
#include <set>
#include <utility>
#include <vector>

#include "libvgpu/hmac_md2.h"
#include "libvgpu/state.h"

namespace xg::vgpu {
namespace {

using idm::Op;

enum TableId : int {
  tCudart,
  tCallbackHooks,
  tToolsTls,
  tContextStorage,
  tIntegrity,
  tContextChecks,
  tLibraryInitF8cf,
  tLibraryDa91,
  tLibrary69a2,
  kTableCount
};
constexpr const char* kTableNames[kTableCount] = {
    "cudart-interface", "tools-runtime-callback-hooks", "tools-tls", "context-local-storage", "integrity-check",
    "context-checks", "library-f8cff951", "library-da9151d3", "library-69a28e9f"};

// --- slots we do not implement: CUDA_ERROR_NOT_SUPPORTED, logged once per slot ----------------------------------

void report_unsupported(int table, int slot) noexcept {
  static std::mutex mu;
  static std::set<std::pair<int, int>> seen;
  std::lock_guard lk(mu);
  if (!seen.insert({table, slot}).second) return;
  std::fprintf(stderr, "libvgpu: cuGetExportTable: %s slot %d is not implemented (CUDA_ERROR_NOT_SUPPORTED)\n",
               kTableNames[table], slot);
  if (trace::on()) trace::note("export-table %s slot %d not implemented", kTableNames[table], slot);
}

// Called with whatever arguments the slot takes; the SysV ABI lets a function ignore them (the caller cleans up).
template <int Table, int Slot>
CUresult unsupported_slot() noexcept {
  report_unsupported(Table, Slot);
  return CUDA_ERROR_NOT_SUPPORTED;
}

template <int Table, int Slot>
uintptr_t unsupported() noexcept {
  return reinterpret_cast<uintptr_t>(&unsupported_slot<Table, Slot>);
}
template <typename F>
uintptr_t fn(F* f) noexcept {
  return reinterpret_cast<uintptr_t>(f);
}

// --- the CUDA runtime's interface: module loads and the primary context ------------------------------------------

CUresult module_load_fat_binary(CUmodule* out, const void* fatbin_wrapper) noexcept {
  return guard([&] { return cuModuleLoadData(out, fatbin_wrapper); });
}

// The device's primary context without retaining it: the runtime asks while it enumerates devices and retains it
// later; the handle is the one cuDevicePrimaryCtxRetain will return.
CUresult device_get_primary_ctx(CUcontext* out, CUdevice dev) noexcept {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (dev < 0 || static_cast<size_t>(dev) >= s.st().devices.size()) return CUDA_ERROR_INVALID_DEVICE;
    Reply rep;
    if (CUresult r = s.conn().call<Op::PrimaryCtxHandle>(idm::DeviceOnlyReq{dev, 0}, {}, &rep); r != CUDA_SUCCESS)
      return r;
    const uint64_t ctx = rep.fixed<idm::CtxRsp>().ctx;
    s.st().contexts[ctx] = dev;
    *out = handle_of<CUcontext>(ctx);
    return CUDA_SUCCESS;
  });
}

// Relocations against host symbols are not supported; without them this is a plain load.
CUresult module_load_fat_binary_with_relocations(CUmodule* out, const void* fatbin, const char** names, void** addrs,
                                                 unsigned n) noexcept {
  if (n != 0 || names != nullptr || addrs != nullptr) {
    report_unsupported(tCudart, 6);
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  return guard([&] { return cuModuleLoadData(out, fatbin); });
}

void fat_cubin_destroyed(const void*) noexcept {}  // the runtime unloads its modules itself

CUresult module_load_data_ex_hidden(const void* image, CUmodule* out, CUjit_option* options, void** values,
                                    unsigned n) noexcept {
  return guard([&] { return cuModuleLoadDataEx(out, image, n, options, values); });
}

// CUDA 13.1 runtimes ask the driver to preload its JIT compilers; a zone has none to load (the worker's driver
// compiles PTX), so there is nothing to do.
CUresult preload_compilers() noexcept { return CUDA_SUCCESS; }

// --- tool callbacks: every callback switched off ------------------------------------------------------------------

volatile uint32_t g_callback_switches[1024] = {};
volatile uint32_t g_internal_callback_switches[14] = {};

void get_enable_buffer(volatile uint32_t** buf, size_t* entries) noexcept {
  if (buf != nullptr) *buf = g_callback_switches;
  if (entries != nullptr) *entries = std::size(g_callback_switches);
}
void get_internal_enable_buffer(volatile uint32_t** buf, size_t* entries) noexcept {
  if (buf != nullptr) *buf = g_internal_callback_switches;
  if (entries != nullptr) *entries = std::size(g_internal_callback_switches);
}

// --- context-local storage: (context, key) -> value, with a destructor run when the context dies ----------------

using StorageDtor = void (*)(CUcontext, void* key, void* value);
struct Stored {
  void* value;
  StorageDtor dtor;
};
struct ContextStorage {
  std::mutex mu;
  std::map<std::pair<uint64_t, void*>, Stored> values;
};
ContextStorage& storage() noexcept {
  static ContextStorage* s = new ContextStorage;  // never destroyed: the runtime unregisters at exit
  return *s;
}

// NULL names the calling thread's current context.
uint64_t storage_context(CUcontext ctx) noexcept {
  return ctx != nullptr ? wire(ctx) : this_thread_contexts().current();
}

CUresult storage_register(CUcontext ctx, void* key, void* value, StorageDtor dtor) noexcept {
  return guard([&]() -> CUresult {
    const uint64_t c = storage_context(ctx);
    if (c == 0) return CUDA_ERROR_INVALID_CONTEXT;
    std::lock_guard lk(storage().mu);
    storage().values[{c, key}] = Stored{value, dtor};
    return CUDA_SUCCESS;
  });
}

CUresult storage_unregister(CUcontext ctx, void* key) noexcept {
  return guard([&]() -> CUresult {
    const uint64_t c = storage_context(ctx);
    if (c == 0) return CUDA_ERROR_INVALID_CONTEXT;
    std::lock_guard lk(storage().mu);
    return storage().values.erase({c, key}) != 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
  });
}

CUresult storage_get(void** value, CUcontext ctx, void* key) noexcept {
  return guard([&]() -> CUresult {
    if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
    const uint64_t c = storage_context(ctx);
    if (c == 0) return CUDA_ERROR_INVALID_CONTEXT;
    std::lock_guard lk(storage().mu);
    auto it = storage().values.find({c, key});
    if (it == storage().values.end()) return CUDA_ERROR_INVALID_HANDLE;
    *value = it->second.value;
    return CUDA_SUCCESS;
  });
}

// --- the integrity check: a keyed digest the runtime recomputes and compares ------------------------------------

constexpr uint8_t kIntegrityKey[16] = {0x14, 0x6a, 0xdd, 0xae, 0x53, 0xa9, 0xa7, 0x52,
                                       0xaa, 0x08, 0x41, 0x36, 0x0b, 0xf5, 0x5a, 0x9f};
// Runtimes whose version ends in 0 or 1 expect a constant instead of a digest.
constexpr uint8_t kIntegrityConstant[16] = {0x5c, 0x67, 0xcb, 0x03, 0x1c, 0x18, 0x41, 0x33,
                                            0xe8, 0xd1, 0x4c, 0x1f, 0xaa, 0x83, 0xd3, 0x8e};

CUresult integrity_check(uint32_t runtime_version, uint64_t unix_seconds, uint64_t out[2]) noexcept;

// --- context checks: no context here wraps another -------------------------------------------------------------

CUresult context_is_wrapped(CUcontext, uint32_t* is_wrapped, CUcontext*) noexcept {
  if (is_wrapped == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *is_wrapped = 0;
  return CUDA_SUCCESS;
}
uint32_t context_checks_flags() noexcept { return 0; }

// --- the tables --------------------------------------------------------------------------------------------------

template <size_t N>
constexpr uintptr_t size_word() {
  return N * sizeof(uintptr_t);
}

// A table whose slots we do not know: the driver's size (read off NVIDIA's 580 driver by tests/gpu/driver_facts),
// every slot answering NOT_SUPPORTED and logging its index, so a library that merely checks for the table goes on
// and one that needs a slot says which.
template <int Table, size_t Words, size_t... Slot>
constexpr std::array<uintptr_t, Words> stub_table(std::index_sequence<Slot...>) {
  return {size_word<Words>(), unsupported<Table, static_cast<int>(Slot + 1)>()...};
}
template <int Table, size_t Words>
const std::array<uintptr_t, Words> kStubTable = stub_table<Table, Words>(std::make_index_sequence<Words - 1>());

const uintptr_t kCudartInterface[] = {
    size_word<13>(),
    fn(&module_load_fat_binary),                    // 1
    fn(&device_get_primary_ctx),                    // 2
    unsupported<tCudart, 3>(),                      // 3 set primary-context init parameters
    unsupported<tCudart, 4>(),                      // 4 initialize primary context
    unsupported<tCudart, 5>(),                      // 5 reset primary context
    fn(&module_load_fat_binary_with_relocations),   // 6
    fn(&fat_cubin_destroyed),                       // 7
    fn(&module_load_data_ex_hidden),                // 8
    unsupported<tCudart, 9>(),                      // 9 (a launch-like call)
    unsupported<tCudart, 10>(),                     // 10
    unsupported<tCudart, 11>(),                     // 11
    fn(&preload_compilers),                         // 12
};
static_assert(std::size(kCudartInterface) == 13);

const uintptr_t kCallbackHooks[] = {
    size_word<7>(),
    unsupported<tCallbackHooks, 1>(),  // issue callback (never called: every callback is off)
    fn(&get_enable_buffer),            // 2
    unsupported<tCallbackHooks, 3>(),  // stream id
    unsupported<tCallbackHooks, 4>(),  // context id
    unsupported<tCallbackHooks, 5>(),  // internal issue callback
    fn(&get_internal_enable_buffer),   // 6
};
static_assert(std::size(kCallbackHooks) == 7);

const uintptr_t kToolsTls[] = {size_word<4>(), unsupported<tToolsTls, 1>(), unsupported<tToolsTls, 2>(),
                               unsupported<tToolsTls, 3>()};

// No size word; NULL-terminated.
const uintptr_t kContextStorage[] = {fn(&storage_register), fn(&storage_unregister), fn(&storage_get), 0};

const uintptr_t kIntegrityTable[] = {size_word<3>(), fn(&integrity_check), unsupported<tIntegrity, 2>()};

const uintptr_t kContextChecks[] = {
    size_word<17>(),
    unsupported<tContextChecks, 1>(), fn(&context_is_wrapped), fn(&context_checks_flags),
    unsupported<tContextChecks, 4>(), unsupported<tContextChecks, 5>(), unsupported<tContextChecks, 6>(),
    unsupported<tContextChecks, 7>(), unsupported<tContextChecks, 8>(), unsupported<tContextChecks, 9>(),
    unsupported<tContextChecks, 10>(), unsupported<tContextChecks, 11>(), unsupported<tContextChecks, 12>(),
    unsupported<tContextChecks, 13>(), unsupported<tContextChecks, 14>(), unsupported<tContextChecks, 15>(),
    unsupported<tContextChecks, 16>()};
static_assert(std::size(kContextChecks) == 17);

constexpr CUuuid uuid(std::array<uint8_t, 16> b) {
  CUuuid u{};
  for (size_t i = 0; i < 16; ++i) u.bytes[i] = static_cast<char>(b[i]);
  return u;
}

const ExportTableInfo kTables[] = {
    {kTableNames[tCudart],
     uuid({0x6b, 0xd5, 0xfb, 0x6c, 0x5b, 0xf4, 0xe7, 0x4a, 0x89, 0x87, 0xd9, 0x39, 0x12, 0xfd, 0x9d, 0xf9}),
     kCudartInterface},
    {kTableNames[tCallbackHooks],
     uuid({0xa0, 0x94, 0x79, 0x8c, 0x2e, 0x74, 0x2e, 0x74, 0x93, 0xf2, 0x08, 0x00, 0x20, 0x0c, 0x0a, 0x66}),
     kCallbackHooks},
    {kTableNames[tToolsTls],
     uuid({0x42, 0xd8, 0x5a, 0x81, 0x23, 0xf6, 0xcb, 0x47, 0x82, 0x98, 0xf6, 0xe7, 0x8a, 0x3a, 0xec, 0xdc}),
     kToolsTls},
    {kTableNames[tContextStorage],
     uuid({0xc6, 0x93, 0x33, 0x6e, 0x11, 0x21, 0xdf, 0x11, 0xa8, 0xc3, 0x68, 0xf3, 0x55, 0xd8, 0x95, 0x93}),
     kContextStorage},
    {kTableNames[tIntegrity],
     uuid({0xd4, 0x08, 0x20, 0x55, 0xbd, 0xe6, 0x70, 0x4b, 0x8d, 0x34, 0xba, 0x12, 0x3c, 0x66, 0xe1, 0xf2}),
     kIntegrityTable},
    {kTableNames[tContextChecks],
     uuid({0x26, 0x3e, 0x88, 0x60, 0x7c, 0xd2, 0x61, 0x43, 0x92, 0xf6, 0xbb, 0xd5, 0x00, 0x6d, 0xfa, 0x7e}),
     kContextChecks},
    // Asked by every CUDA 13 runtime (which goes on without it) and by cuBLAS; slots unknown.
    {kTableNames[tLibraryInitF8cf],
     uuid({0xf8, 0xcf, 0xf9, 0x51, 0x21, 0x46, 0x8b, 0x4e, 0xb9, 0xe2, 0xfb, 0x46, 0x9e, 0x7c, 0x0d, 0xd9}),
     kStubTable<tLibraryInitF8cf, 3>.data()},
    // Asked by CuPy's cuBLAS 13; slots unknown.
    {kTableNames[tLibraryDa91],
     uuid({0xda, 0x91, 0x51, 0xd3, 0x3a, 0xe6, 0xcc, 0x41, 0xa5, 0xc0, 0x4f, 0x26, 0xd5, 0x33, 0xe3, 0x28}),
     kStubTable<tLibraryDa91, 7>.data()},
    // Asked by PyTorch's cuBLAS (CUDA 13); slots unknown.
    {kTableNames[tLibrary69a2],
     uuid({0x69, 0xa2, 0x8e, 0x9f, 0x24, 0x49, 0x8b, 0x47, 0xb0, 0x30, 0xc5, 0xda, 0x33, 0x0e, 0xa4, 0xe9}),
     kStubTable<tLibrary69a2, 34>.data()},
};

CUresult integrity_check(uint32_t runtime_version, uint64_t unix_seconds, uint64_t out[2]) noexcept {
  return guard([&]() -> CUresult {
    if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
    uint8_t digest[16];
    if (runtime_version % 10 < 2) {
      std::memcpy(digest, kIntegrityConstant, sizeof digest);
      if (runtime_version % 10 == 1) digest[7] = 0x18;
      std::memcpy(out, digest, sizeof digest);
      return CUDA_SUCCESS;
    }
    // The digest covers what this process's driver reports, exactly as the runtime will see it.
    int driver_version = 0, count = 0;
    if (CUresult r = cuDriverGetVersion(&driver_version); r != CUDA_SUCCESS) return r;
    if (CUresult r = cuDeviceGetCount(&count); r != CUDA_SUCCESS) return r;
    std::vector<IntegrityInputs::Device> devices(static_cast<size_t>(count));
    for (int i = 0; i < count; ++i) {
      auto& d = devices[static_cast<size_t>(i)];
      if (CUresult r = cuDeviceGetUuid_v2(&d.uuid, i); r != CUDA_SUCCESS) return r;
      if (CUresult r = cuDeviceGetAttribute(&d.pci_domain, CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID, i); r != CUDA_SUCCESS)
        return r;
      if (CUresult r = cuDeviceGetAttribute(&d.pci_bus, CU_DEVICE_ATTRIBUTE_PCI_BUS_ID, i); r != CUDA_SUCCESS)
        return r;
      if (CUresult r = cuDeviceGetAttribute(&d.pci_device, CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID, i); r != CUDA_SUCCESS)
        return r;
    }
    const IntegrityInputs in{static_cast<uint32_t>(driver_version),
                             runtime_version,
                             static_cast<uint32_t>(getpid()),
                             static_cast<uint32_t>(reinterpret_cast<uintptr_t>(reinterpret_cast<void*>(pthread_self()))),
                             reinterpret_cast<uintptr_t>(kCudartInterface),
                             reinterpret_cast<uintptr_t>(kIntegrityTable),
                             kIntegrityTable[1],
                             unix_seconds,
                             devices};
    integrity_digest(in, digest);
    std::memcpy(out, digest, sizeof digest);
    return CUDA_SUCCESS;
  });
}

void report_unknown(const CUuuid& id) noexcept {
  static std::mutex mu;
  static std::set<std::array<uint8_t, 16>> seen;
  std::array<uint8_t, 16> b;
  std::memcpy(b.data(), id.bytes, 16);
  std::lock_guard lk(mu);
  if (!seen.insert(b).second) return;
  char hex[33];
  for (size_t i = 0; i < 16; ++i) std::snprintf(hex + 2 * i, 3, "%02x", b[i]);
  std::fprintf(stderr, "libvgpu: cuGetExportTable: unknown table %s (CUDA_ERROR_INVALID_VALUE)\n", hex);
  if (trace::on()) trace::note("cuGetExportTable unknown table %s", hex);
}

}  // namespace

std::span<const ExportTableInfo> export_tables() noexcept { return kTables; }

void run_context_storage_destructors(uint64_t ctx) noexcept {
  std::vector<std::pair<void*, Stored>> doomed;
  {
    std::lock_guard lk(storage().mu);
    auto& v = storage().values;
    for (auto it = v.lower_bound({ctx, nullptr}); it != v.end() && it->first.first == ctx;) {
      doomed.emplace_back(it->first.second, it->second);
      it = v.erase(it);
    }
  }
  for (const auto& [key, s] : doomed)
    if (s.dtor != nullptr) s.dtor(handle_of<CUcontext>(ctx), key, s.value);
}

void integrity_digest(const IntegrityInputs& in, uint8_t out[16]) noexcept {
  std::vector<uint8_t> msg;
  auto put = [&msg](const auto& v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    msg.insert(msg.end(), p, p + sizeof v);
  };
  put(in.driver_version);
  put(in.runtime_version);
  put(in.pid);
  put(in.tid);
  put(in.cudart_table);
  put(in.integrity_table);
  put(in.integrity_fn);
  put(in.unix_seconds);
  for (const auto& d : in.devices) {
    put(d.uuid);
    put(d.pci_domain);
    put(d.pci_bus);
    put(d.pci_device);
  }
  const Md2Digest h = hmac_md2(std::span<const uint8_t, 16>(kIntegrityKey), msg);
  std::memcpy(out, h.data(), h.size());
}

}  // namespace xg::vgpu

extern "C" CUresult cuGetExportTable(const void** ppExportTable, const CUuuid* pExportTableId) {
  using namespace xg::vgpu;
  if (ppExportTable == nullptr || pExportTableId == nullptr) return CUDA_ERROR_INVALID_VALUE;
  for (const ExportTableInfo& t : export_tables())
    if (std::memcmp(t.id.bytes, pExportTableId->bytes, sizeof t.id.bytes) == 0) {
      if (trace::on()) trace::note("cuGetExportTable %s", t.name);
      *ppExportTable = t.table;
      return CUDA_SUCCESS;
    }
  report_unknown(*pExportTableId);
  *ppExportTable = nullptr;
  return CUDA_ERROR_INVALID_VALUE;
}
