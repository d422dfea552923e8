// The zone's libnvidia-ml.so.1: the NVML calls that nvidia-smi-style tools, PyTorch and monitoring agents make
// first, answered with the ZONE's view of the GPU: memory total = the zone's quota, used = what all of the zone's
// programs use, utilisation = the zone's share of GPU time, processes = the zone's programs.
//
// Where the answers come from: the zone's own libcuda.so.1 (libvgpu), dlopened at nvmlInit. Device facts (name,
// UUID, compute capability, PCI address) through the CUDA calls, once; the zone's figures through libvgpu's
// xen_gpu_zone_info (libvgpu/zone_info.h: IDM op ZoneInfo to the zone's worker) at each query. nvmlInit calls
// cuInit, which connects this process to the zone's proxy (one more program of the zone), as a CUDA program's
// first call would. Against NVIDIA's libcuda.so.1 (no xen_gpu_zone_info) nvmlInit fails with
// NVML_ERROR_DRIVER_NOT_LOADED: this library serves zones only.
//
// Locking: nvmlInit/nvmlShutdown are reference-counted under one mutex; the device table is written only when the
// count goes from 0 to 1 and read by queries while it is positive (refs is released after the table is written).
#include <dlfcn.h>

#include <array>
#include <atomic>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "cuda/cuda_abi.h"
#include "libvgpu/nvml/format.h"
#include "libvgpu/nvml/nvml_abi.h"
#include "libvgpu/nvml/symbols.h"
#include "libvgpu/zone_info.h"

using namespace xg::nvml;

// A device handle is the address of one slot of the table below (nvml.h leaves the struct opaque).
struct nvmlDevice_st {
  unsigned int index = 0;
  CUdevice dev = 0;
  std::string name;
  std::string uuid;
  int cc_major = 0, cc_minor = 0;
  PciAddress pci;
};

namespace {

constexpr unsigned int kMaxDevices = 16;

// libvgpu's entry points this library calls (the types come from our cuda_abi.h declarations).
struct Cuda {
  void* lib = nullptr;
  decltype(&cuInit) init = nullptr;
  decltype(&cuDriverGetVersion) driver_version = nullptr;
  decltype(&cuDeviceGetCount) device_count = nullptr;
  decltype(&cuDeviceGet) device_get = nullptr;
  decltype(&cuDeviceGetName) device_name = nullptr;
  decltype(&cuDeviceGetUuid_v2) device_uuid = nullptr;
  decltype(&cuDeviceGetAttribute) device_attribute = nullptr;
  xen_gpu_zone_info_fn zone_info = nullptr;
};

struct Library {
  std::mutex mu;
  std::atomic<int> refs{0};
  Cuda cuda;
  std::array<nvmlDevice_st, kMaxDevices> devices;
  unsigned int count = 0;
};

Library& lib() {
  static Library l;
  return l;
}

template <class F>
bool resolve(void* h, const char* name, F* out) {
  *out = reinterpret_cast<F>(dlsym(h, name));
  return *out != nullptr;
}

// Loads libvgpu (the zone's libcuda.so.1, first on the library path; the program's own copy when it already
// loaded it). Kept open for the life of the process: its connection to the proxy is the process's, not ours.
nvmlReturn_t load_cuda(Cuda& c) {
  if (c.lib != nullptr) return NVML_SUCCESS;
  void* h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (h == nullptr) return NVML_ERROR_LIBRARY_NOT_FOUND;
  Cuda n;
  n.lib = h;
  const bool cuda_ok = resolve(h, "cuInit", &n.init) && resolve(h, "cuDriverGetVersion", &n.driver_version) &&
                       resolve(h, "cuDeviceGetCount", &n.device_count) && resolve(h, "cuDeviceGet", &n.device_get) &&
                       resolve(h, "cuDeviceGetName", &n.device_name) &&
                       resolve(h, "cuDeviceGetUuid_v2", &n.device_uuid) &&
                       resolve(h, "cuDeviceGetAttribute", &n.device_attribute);
  if (!cuda_ok) {
    dlclose(h);
    return NVML_ERROR_LIBRARY_NOT_FOUND;
  }
  // Not libvgpu (NVIDIA's driver library): this NVML has no zone to describe.
  if (!resolve(h, XEN_GPU_ZONE_INFO_SYMBOL, &n.zone_info)) {
    dlclose(h);
    return NVML_ERROR_DRIVER_NOT_LOADED;
  }
  c = n;
  return NVML_SUCCESS;
}

int attribute(const Cuda& c, CUdevice_attribute a, CUdevice dev) {
  int v = 0;
  return c.device_attribute(&v, a, dev) == CUDA_SUCCESS ? v : 0;
}

// Reads the devices' facts once per initialisation (they do not change while a process lives).
nvmlReturn_t enumerate(Library& l) {
  const Cuda& c = l.cuda;
  int n = 0;
  if (c.device_count(&n) != CUDA_SUCCESS) return NVML_ERROR_UNKNOWN;
  l.count = 0;
  for (int i = 0; i < n && static_cast<unsigned int>(i) < kMaxDevices; ++i) {
    nvmlDevice_st& d = l.devices[static_cast<size_t>(i)];
    if (c.device_get(&d.dev, i) != CUDA_SUCCESS) return NVML_ERROR_UNKNOWN;
    d.index = static_cast<unsigned int>(i);
    char name[256] = {};
    if (c.device_name(name, sizeof name, d.dev) != CUDA_SUCCESS) return NVML_ERROR_UNKNOWN;
    d.name = name;
    CUuuid u{};
    if (c.device_uuid(&u, d.dev) != CUDA_SUCCESS) return NVML_ERROR_UNKNOWN;
    unsigned char bytes[16];
    std::memcpy(bytes, u.bytes, sizeof bytes);
    d.uuid = uuid_string(bytes);
    d.cc_major = attribute(c, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, d.dev);
    d.cc_minor = attribute(c, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, d.dev);
    d.pci = PciAddress{static_cast<unsigned int>(attribute(c, CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID, d.dev)),
                       static_cast<unsigned int>(attribute(c, CU_DEVICE_ATTRIBUTE_PCI_BUS_ID, d.dev)),
                       static_cast<unsigned int>(attribute(c, CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID, d.dev))};
    l.count = static_cast<unsigned int>(i) + 1;
  }
  return NVML_SUCCESS;
}

nvmlReturn_t init(unsigned int flags) {
  Library& l = lib();
  std::lock_guard lk(l.mu);
  if (l.refs.load(std::memory_order_relaxed) > 0) {
    l.refs.fetch_add(1, std::memory_order_relaxed);
    return NVML_SUCCESS;
  }
  if (nvmlReturn_t r = load_cuda(l.cuda); r != NVML_SUCCESS) return r;
  l.count = 0;
  // cuInit fails when the zone's proxy cannot be reached (libvgpu says why on stderr): no GPU in this zone. With
  // NVML_INIT_FLAG_NO_GPUS NVML initialises anyway, with no devices.
  if (l.cuda.init(0) == CUDA_SUCCESS) {
    if (nvmlReturn_t r = enumerate(l); r != NVML_SUCCESS) return r;
  } else if ((flags & NVML_INIT_FLAG_NO_GPUS) == 0) {
    return NVML_ERROR_DRIVER_NOT_LOADED;
  }
  // Release: a query that sees refs > 0 sees the device table written above.
  l.refs.store(1, std::memory_order_release);
  return NVML_SUCCESS;
}

bool initialised() { return lib().refs.load(std::memory_order_acquire) > 0; }

// The slot a handle names, or the error NVML gives: UNINITIALIZED first, then INVALID_ARGUMENT for anything that
// is not one of our live handles (a handle is compared, never dereferenced, before it is known to be ours).
nvmlReturn_t device_of(nvmlDevice_t h, const nvmlDevice_st** out) {
  if (!initialised()) return NVML_ERROR_UNINITIALIZED;
  Library& l = lib();
  for (unsigned int i = 0; i < l.count; ++i) {
    if (h == &l.devices[i]) {
      *out = &l.devices[i];
      return NVML_SUCCESS;
    }
  }
  return NVML_ERROR_INVALID_ARGUMENT;
}

// The zone's figures now. A failure of the channel to the proxy is NVML_ERROR_UNKNOWN (NVML's "internal driver
// error"); a proxy without the ZoneInfo op, NOT_SUPPORTED.
nvmlReturn_t zone_info(xen_gpu_zone_info* z) {
  std::memset(z, 0, sizeof *z);
  z->struct_size = sizeof *z;
  switch (lib().cuda.zone_info(z)) {
    case CUDA_SUCCESS: return NVML_SUCCESS;
    case CUDA_ERROR_NOT_INITIALIZED:
    case CUDA_ERROR_DEINITIALIZED: return NVML_ERROR_UNINITIALIZED;
    case CUDA_ERROR_NOT_SUPPORTED: return NVML_ERROR_NOT_SUPPORTED;
    default: return NVML_ERROR_UNKNOWN;
  }
}

std::vector<Program> zone_programs(const xen_gpu_zone_info& z) {
  std::vector<Program> p;
  const uint32_t n = z.programs < XEN_GPU_ZONE_MAX_PROGRAMS ? z.programs : XEN_GPU_ZONE_MAX_PROGRAMS;
  for (uint32_t i = 0; i < n; ++i) p.push_back(Program{z.program[i].zone_pid, z.program[i].used_bytes});
  return p;
}

template <class Info>
nvmlReturn_t compute_processes(nvmlDevice_t device, unsigned int* count, Info* infos) {
  const nvmlDevice_st* d = nullptr;
  if (nvmlReturn_t r = device_of(device, &d); r != NVML_SUCCESS) return r;
  xen_gpu_zone_info z;
  if (nvmlReturn_t r = zone_info(&z); r != NVML_SUCCESS) return r;
  const std::vector<Program> p = zone_programs(z);
  return fill_processes(p, count, infos);
}

// Graphics and MPS clients cannot exist in a zone (libvgpu makes compute contexts only; there is no MPS server):
// the true answer is an empty list.
template <class Info>
nvmlReturn_t no_processes(nvmlDevice_t device, unsigned int* count, Info* infos) {
  const nvmlDevice_st* d = nullptr;
  if (nvmlReturn_t r = device_of(device, &d); r != NVML_SUCCESS) return r;
  return fill_processes(std::span<const Program>{}, count, infos);
}

nvmlReturn_t handle_by_index(unsigned int index, nvmlDevice_t* device) {
  if (!initialised()) return NVML_ERROR_UNINITIALIZED;
  if (device == nullptr || index >= lib().count) return NVML_ERROR_INVALID_ARGUMENT;
  *device = &lib().devices[index];
  return NVML_SUCCESS;
}

nvmlReturn_t handle_by_bus_id(const char* bus, nvmlDevice_t* device) {
  if (!initialised()) return NVML_ERROR_UNINITIALIZED;
  if (bus == nullptr || device == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  const auto a = parse_bus_id(std::string_view(bus, strnlen(bus, NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE + 1)));
  if (!a) return NVML_ERROR_INVALID_ARGUMENT;
  for (unsigned int i = 0; i < lib().count; ++i) {
    if (lib().devices[i].pci == *a) {
      *device = &lib().devices[i];
      return NVML_SUCCESS;
    }
  }
  return NVML_ERROR_NOT_FOUND;
}

nvmlReturn_t memory(nvmlDevice_t device, ZoneMemory* m) {
  const nvmlDevice_st* d = nullptr;
  if (nvmlReturn_t r = device_of(device, &d); r != NVML_SUCCESS) return r;
  xen_gpu_zone_info z;
  if (nvmlReturn_t r = zone_info(&z); r != NVML_SUCCESS) return r;
  *m = zone_memory(z.quota_bytes, z.used_bytes);
  return NVML_SUCCESS;
}

nvmlReturn_t cuda_driver_version(int* version) {
  if (!initialised()) return NVML_ERROR_UNINITIALIZED;
  if (version == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  return lib().cuda.driver_version(version) == CUDA_SUCCESS ? NVML_SUCCESS : NVML_ERROR_UNKNOWN;
}

// The driver domain's driver version, "" while the proxy does not report it.
nvmlReturn_t driver_version(std::string* out) {
  if (!initialised()) return NVML_ERROR_UNINITIALIZED;
  xen_gpu_zone_info z;
  if (nvmlReturn_t r = zone_info(&z); r != NVML_SUCCESS) return r;
  *out = std::string(z.driver_version, strnlen(z.driver_version, sizeof z.driver_version));
  return NVML_SUCCESS;
}

template <class Pci, class Fill>
nvmlReturn_t pci_info(nvmlDevice_t device, Pci* pci, Fill fill) {
  const nvmlDevice_st* d = nullptr;
  if (nvmlReturn_t r = device_of(device, &d); r != NVML_SUCCESS) return r;
  if (pci == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  fill(d->pci, pci);
  return NVML_SUCCESS;
}

}  // namespace

extern "C" {

XG_NVML_API nvmlReturn_t nvmlInit_v2() { return init(0); }
XG_NVML_API nvmlReturn_t nvmlInit() { return init(0); }
// Flags this library does not know are ignored, as they only ask for less (no GPUs, no attach).
XG_NVML_API nvmlReturn_t nvmlInitWithFlags(unsigned int flags) { return init(flags); }

XG_NVML_API nvmlReturn_t nvmlShutdown() {
  Library& l = lib();
  std::lock_guard lk(l.mu);
  if (l.refs.load(std::memory_order_relaxed) == 0) return NVML_ERROR_UNINITIALIZED;
  l.refs.fetch_sub(1, std::memory_order_release);
  return NVML_SUCCESS;
}

XG_NVML_API const char* nvmlErrorString(nvmlReturn_t result) {
  int code;
  static_assert(sizeof code == sizeof result);
  std::memcpy(&code, &result, sizeof code);  // any int may arrive; an enum load of it would be undefined
  return error_string(code);
}

XG_NVML_API nvmlReturn_t nvmlSystemGetDriverVersion(char* version, unsigned int length) {
  std::string v;
  if (nvmlReturn_t r = driver_version(&v); r != NVML_SUCCESS) return r;
  if (v.empty()) return NVML_ERROR_NOT_SUPPORTED;  // the proxy does not report its driver's version (yet)
  return copy_string(v, version, length);
}

XG_NVML_API nvmlReturn_t nvmlSystemGetNVMLVersion(char* version, unsigned int length) {
  std::string v;
  if (nvmlReturn_t r = driver_version(&v); r != NVML_SUCCESS) return r;
  int cuda = 0;
  if (nvmlReturn_t r = cuda_driver_version(&cuda); r != NVML_SUCCESS) return r;
  const std::string s = nvml_version(cuda, v);
  if (s.empty()) return NVML_ERROR_NOT_SUPPORTED;  // NVML's version is "<CUDA major>.<driver version>"
  return copy_string(s, version, length);
}

XG_NVML_API nvmlReturn_t nvmlSystemGetCudaDriverVersion(int* v) { return cuda_driver_version(v); }
XG_NVML_API nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int* v) { return cuda_driver_version(v); }

XG_NVML_API nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int* count) {
  if (!initialised()) return NVML_ERROR_UNINITIALIZED;
  if (count == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  *count = lib().count;
  return NVML_SUCCESS;
}
XG_NVML_API nvmlReturn_t nvmlDeviceGetCount(unsigned int* count) { return nvmlDeviceGetCount_v2(count); }

XG_NVML_API nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t* device) {
  return handle_by_index(index, device);
}
XG_NVML_API nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int index, nvmlDevice_t* device) {
  return handle_by_index(index, device);
}

XG_NVML_API nvmlReturn_t nvmlDeviceGetHandleByUUID(const char* uuid, nvmlDevice_t* device) {
  if (!initialised()) return NVML_ERROR_UNINITIALIZED;
  if (uuid == nullptr || device == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  const std::string_view want(uuid, strnlen(uuid, NVML_DEVICE_UUID_V2_BUFFER_SIZE));
  for (unsigned int i = 0; i < lib().count; ++i) {
    const std::string& have = lib().devices[i].uuid;
    if (want.size() == have.size() && strncasecmp(want.data(), have.data(), have.size()) == 0) {
      *device = &lib().devices[i];
      return NVML_SUCCESS;
    }
  }
  return NVML_ERROR_NOT_FOUND;
}

XG_NVML_API nvmlReturn_t nvmlDeviceGetHandleByPciBusId_v2(const char* bus, nvmlDevice_t* device) {
  return handle_by_bus_id(bus, device);
}
XG_NVML_API nvmlReturn_t nvmlDeviceGetHandleByPciBusId(const char* bus, nvmlDevice_t* device) {
  return handle_by_bus_id(bus, device);
}

XG_NVML_API nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t device, unsigned int* index) {
  const nvmlDevice_st* d = nullptr;
  if (nvmlReturn_t r = device_of(device, &d); r != NVML_SUCCESS) return r;
  if (index == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  *index = d->index;
  return NVML_SUCCESS;
}

XG_NVML_API nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char* name, unsigned int length) {
  const nvmlDevice_st* d = nullptr;
  if (nvmlReturn_t r = device_of(device, &d); r != NVML_SUCCESS) return r;
  return copy_string(d->name, name, length);
}

XG_NVML_API nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char* uuid, unsigned int length) {
  const nvmlDevice_st* d = nullptr;
  if (nvmlReturn_t r = device_of(device, &d); r != NVML_SUCCESS) return r;
  return copy_string(d->uuid, uuid, length);
}

XG_NVML_API nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDevice_t device, int* major, int* minor) {
  const nvmlDevice_st* d = nullptr;
  if (nvmlReturn_t r = device_of(device, &d); r != NVML_SUCCESS) return r;
  if (major == nullptr || minor == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  *major = d->cc_major;
  *minor = d->cc_minor;
  return NVML_SUCCESS;
}

XG_NVML_API nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t* pci) {
  return pci_info(device, pci, [](const PciAddress& a, nvmlPciInfo_t* p) { fill_pci_info(a, p); });
}
XG_NVML_API nvmlReturn_t nvmlDeviceGetPciInfo_v2(nvmlDevice_t device, nvmlPciInfo_t* pci) {
  return pci_info(device, pci, [](const PciAddress& a, nvmlPciInfo_t* p) { fill_pci_info(a, p); });
}
XG_NVML_API nvmlReturn_t nvmlDeviceGetPciInfo(nvmlDevice_t device, nvmlPciInfo_v1_t* pci) {
  return pci_info(device, pci, [](const PciAddress& a, nvmlPciInfo_v1_t* p) { fill_pci_info_v1(a, p); });
}

XG_NVML_API nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t* mem) {
  ZoneMemory m;
  if (nvmlReturn_t r = memory(device, &m); r != NVML_SUCCESS) return r;
  if (mem == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  *mem = nvmlMemory_t{m.total, m.free, m.used};
  return NVML_SUCCESS;
}

// The driver sets nothing aside inside a zone's quota (contexts' overhead is the programs' use, as NVML counts
// it in `used`): reserved is 0.
XG_NVML_API nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t* mem) {
  ZoneMemory m;
  if (nvmlReturn_t r = memory(device, &m); r != NVML_SUCCESS) return r;
  if (mem == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  if (nvmlReturn_t r = check_version(mem->version, nvmlMemory_v2); r != NVML_SUCCESS) return r;
  mem->total = m.total;
  mem->reserved = 0;
  mem->free = m.free;
  mem->used = m.used;
  return NVML_SUCCESS;
}

// gpu: the zone's share of GPU time over the proxy's last interval. memory (the memory controller's busy time) is
// not measured per zone: 0, as STATUS.md says.
XG_NVML_API nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t* util) {
  const nvmlDevice_st* d = nullptr;
  if (nvmlReturn_t r = device_of(device, &d); r != NVML_SUCCESS) return r;
  if (util == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  xen_gpu_zone_info z;
  if (nvmlReturn_t r = zone_info(&z); r != NVML_SUCCESS) return r;
  *util = nvmlUtilization_t{percent(z.gpu_util_permille), 0};
  return NVML_SUCCESS;
}

XG_NVML_API nvmlReturn_t nvmlDeviceGetComputeRunningProcesses(nvmlDevice_t d, unsigned int* n, nvmlProcessInfo_v1_t* p) {
  return compute_processes(d, n, p);
}
XG_NVML_API nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t d, unsigned int* n, nvmlProcessInfo_v2_t* p) {
  return compute_processes(d, n, p);
}
XG_NVML_API nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t d, unsigned int* n, nvmlProcessInfo_t* p) {
  return compute_processes(d, n, p);
}
XG_NVML_API nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses(nvmlDevice_t d, unsigned int* n, nvmlProcessInfo_v1_t* p) {
  return no_processes(d, n, p);
}
XG_NVML_API nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v2(nvmlDevice_t d, unsigned int* n, nvmlProcessInfo_v2_t* p) {
  return no_processes(d, n, p);
}
XG_NVML_API nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v3(nvmlDevice_t d, unsigned int* n, nvmlProcessInfo_t* p) {
  return no_processes(d, n, p);
}
XG_NVML_API nvmlReturn_t nvmlDeviceGetMPSComputeRunningProcesses(nvmlDevice_t d, unsigned int* n, nvmlProcessInfo_v1_t* p) {
  return no_processes(d, n, p);
}
XG_NVML_API nvmlReturn_t nvmlDeviceGetMPSComputeRunningProcesses_v2(nvmlDevice_t d, unsigned int* n, nvmlProcessInfo_v2_t* p) {
  return no_processes(d, n, p);
}
XG_NVML_API nvmlReturn_t nvmlDeviceGetMPSComputeRunningProcesses_v3(nvmlDevice_t d, unsigned int* n, nvmlProcessInfo_t* p) {
  return no_processes(d, n, p);
}

// Everything else exported answers NOT_SUPPORTED (UNINITIALIZED first, as NVML checks that before anything). They
// read none of their arguments, so one argument-less definition serves every signature (the C calling convention
// leaves the arguments to the caller). Under clang's -fsanitize=function (the sanitizer builds of make test) a
// caller checks the callee's type signature, which these cannot match: they carry none.
#if defined(__clang__)
#define XG_NVML_ANY_SIGNATURE __attribute__((no_sanitize("function")))
#else
#define XG_NVML_ANY_SIGNATURE
#endif
#define XG_NVML_STUB(name)                                            \
  XG_NVML_API XG_NVML_ANY_SIGNATURE nvmlReturn_t name() {             \
    return initialised() ? NVML_ERROR_NOT_SUPPORTED : NVML_ERROR_UNINITIALIZED; \
  }
XG_NVML_NOT_SUPPORTED(XG_NVML_STUB)
#undef XG_NVML_STUB

}  // extern "C"
