// A zone program that reads its zone through the zone's NVML (libnvidia-ml.so.1, dlopened from the library path
// `xen-gpu run` sets, as PyTorch and pynvml load it) while it uses CUDA through libvgpu. Two modes:
//
//   nvml_zone hold MIB RELEASE_FILE
//       allocates MIB MiB, prints "holding PID", waits (at most 60 s) for RELEASE_FILE, frees and exits: another
//       program of the same zone.
//   nvml_zone check QUOTA_MIB NEW_QUOTA_MIB ADMIN_SOCKET ZONE HOLDER_PID HOLDER_MIB
//       checks NVML's answers against the zone (quota QUOTA_MIB, the holder's program in it), then changes the
//       zone's quota to NEW_QUOTA_MIB on the admin socket, as the operator would, and checks that NVML and
//       cuDeviceTotalMem follow. Prints PASS/FAIL lines; exits 1 on any FAIL.
#include <dlfcn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "cuda/cuda_abi.h"
#include "libvgpu/nvml/nvml_abi.h"

namespace {

int failures = 0;
void report(bool ok, const std::string& what) {
  std::printf("%s %s\n", ok ? "PASS" : "FAIL", what.c_str());
  if (!ok) ++failures;
}
// The condition (which makes the calls) runs before the message is built from the values it left: a function's
// arguments are evaluated in no set order.
#define CHECK(cond, what)     \
  do {                        \
    const bool ok_ = (cond);  \
    report(ok_, (what));      \
  } while (0)

constexpr unsigned long long kMiB = 1ull << 20;

void* nvml = nullptr;
template <class F>
F sym(const char* name) {
  void* p = dlsym(nvml, name);
  if (p == nullptr) {
    std::printf("FAIL libnvidia-ml.so.1 lacks %s\n", name);
    std::exit(1);
  }
  return reinterpret_cast<F>(p);
}

// One request on the proxy's admin socket (one SOCK_SEQPACKET packet each way), as xen-gpu sends it.
std::string admin(const char* path, const std::string& request) {
  const int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) return "socket failed";
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
  std::string reply = "no answer";
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::send(fd, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size())) {
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n >= 0) reply.assign(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return reply;
}

bool uuid_format(const char* s) {
  if (std::strlen(s) != 40 || std::strncmp(s, "GPU-", 4) != 0) return false;
  for (int i = 4; i < 40; ++i) {
    const bool dash = i == 12 || i == 17 || i == 22 || i == 27;
    if (dash ? s[i] != '-' : std::strchr("0123456789abcdef", s[i]) == nullptr) return false;
  }
  return true;
}

int hold(unsigned long long mib, const char* release) {
  CUcontext ctx = nullptr;
  CUdeviceptr p = 0;
  if (cuInit(0) != CUDA_SUCCESS || cuCtxCreate_v2(&ctx, 0, 0) != CUDA_SUCCESS) return 3;
  if (cuMemAlloc_v2(&p, mib * kMiB) != CUDA_SUCCESS) return 3;
  std::printf("holding %d\n", static_cast<int>(::getpid()));
  std::fflush(stdout);
  for (int i = 0; i < 600 && ::access(release, F_OK) != 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  cuMemFree_v2(p);
  cuCtxDestroy_v2(ctx);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "hold") == 0) return hold(std::strtoull(argv[2], nullptr, 10), argv[3]);
  if (argc != 8 || std::strcmp(argv[1], "check") != 0) {
    std::fprintf(stderr, "usage: nvml_zone hold MIB RELEASE_FILE | check QUOTA_MIB NEW_QUOTA_MIB ADMIN_SOCKET ZONE "
                         "HOLDER_PID HOLDER_MIB\n");
    return 2;
  }
  const unsigned long long quota = std::strtoull(argv[2], nullptr, 10) * kMiB;
  const unsigned long long new_quota = std::strtoull(argv[3], nullptr, 10) * kMiB;
  const char* admin_socket = argv[4];
  const std::string zone = argv[5];
  const unsigned int holder_pid = static_cast<unsigned int>(std::strtoul(argv[6], nullptr, 10));
  const unsigned long long holder_bytes = std::strtoull(argv[7], nullptr, 10) * kMiB;
  const unsigned int self = static_cast<unsigned int>(::getpid());

  nvml = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (nvml == nullptr) {
    std::printf("FAIL dlopen libnvidia-ml.so.1: %s\n", dlerror());
    return 1;
  }
  Dl_info where{};
  dladdr(dlsym(nvml, "nvmlInit_v2"), &where);
  std::printf("libnvidia-ml.so.1 is %s\n", where.dli_fname ? where.dli_fname : "?");
  using Dev = nvmlDevice_t;
  auto init = sym<nvmlReturn_t (*)()>("nvmlInit_v2");
  auto shutdown = sym<nvmlReturn_t (*)()>("nvmlShutdown");
  auto error_string = sym<const char* (*)(nvmlReturn_t)>("nvmlErrorString");
  auto count = sym<nvmlReturn_t (*)(unsigned int*)>("nvmlDeviceGetCount_v2");
  auto by_index = sym<nvmlReturn_t (*)(unsigned int, Dev*)>("nvmlDeviceGetHandleByIndex_v2");
  auto by_uuid = sym<nvmlReturn_t (*)(const char*, Dev*)>("nvmlDeviceGetHandleByUUID");
  auto by_bus = sym<nvmlReturn_t (*)(const char*, Dev*)>("nvmlDeviceGetHandleByPciBusId_v2");
  auto get_name = sym<nvmlReturn_t (*)(Dev, char*, unsigned int)>("nvmlDeviceGetName");
  auto get_uuid = sym<nvmlReturn_t (*)(Dev, char*, unsigned int)>("nvmlDeviceGetUUID");
  auto get_index = sym<nvmlReturn_t (*)(Dev, unsigned int*)>("nvmlDeviceGetIndex");
  auto get_cc = sym<nvmlReturn_t (*)(Dev, int*, int*)>("nvmlDeviceGetCudaComputeCapability");
  auto get_pci = sym<nvmlReturn_t (*)(Dev, nvmlPciInfo_t*)>("nvmlDeviceGetPciInfo_v3");
  auto mem_v1 = sym<nvmlReturn_t (*)(Dev, nvmlMemory_t*)>("nvmlDeviceGetMemoryInfo");
  auto mem_v2 = sym<nvmlReturn_t (*)(Dev, nvmlMemory_v2_t*)>("nvmlDeviceGetMemoryInfo_v2");
  auto util = sym<nvmlReturn_t (*)(Dev, nvmlUtilization_t*)>("nvmlDeviceGetUtilizationRates");
  auto procs_v3 = sym<nvmlReturn_t (*)(Dev, unsigned int*, nvmlProcessInfo_t*)>("nvmlDeviceGetComputeRunningProcesses_v3");
  auto procs_v1 = sym<nvmlReturn_t (*)(Dev, unsigned int*, nvmlProcessInfo_v1_t*)>("nvmlDeviceGetComputeRunningProcesses");
  auto gfx_procs = sym<nvmlReturn_t (*)(Dev, unsigned int*, nvmlProcessInfo_t*)>("nvmlDeviceGetGraphicsRunningProcesses_v3");
  auto cuda_version = sym<nvmlReturn_t (*)(int*)>("nvmlSystemGetCudaDriverVersion_v2");
  auto driver_version = sym<nvmlReturn_t (*)(char*, unsigned int)>("nvmlSystemGetDriverVersion");
  auto temperature = sym<nvmlReturn_t (*)(Dev, int, unsigned int*)>("nvmlDeviceGetTemperature");
  auto power = sym<nvmlReturn_t (*)(Dev, unsigned int*)>("nvmlDeviceGetPowerUsage");
  auto minor = sym<nvmlReturn_t (*)(Dev, unsigned int*)>("nvmlDeviceGetMinorNumber");

  unsigned int n = 0;
  CHECK(count(&n) == NVML_ERROR_UNINITIALIZED, "nvmlDeviceGetCount before nvmlInit: UNINITIALIZED");
  const nvmlReturn_t ir = init();
  CHECK(ir == NVML_SUCCESS, std::string("nvmlInit_v2: ") + error_string(ir));
  if (ir != NVML_SUCCESS) return 1;
  CHECK(count(&n) == NVML_SUCCESS && n == 1, "one device (got " + std::to_string(n) + ")");
  Dev dev = nullptr, other = nullptr;
  CHECK(by_index(0, &dev) == NVML_SUCCESS && dev != nullptr, "handle of device 0");
  CHECK(by_index(1, &other) == NVML_ERROR_INVALID_ARGUMENT, "no device 1: INVALID_ARGUMENT");
  unsigned int index = 9;
  CHECK(get_index(dev, &index) == NVML_SUCCESS && index == 0, "nvmlDeviceGetIndex 0");

  // The device's identity, as CUDA reports it in this zone.
  char name[NVML_DEVICE_NAME_V2_BUFFER_SIZE] = {}, cu_name[256] = {};
  CHECK(get_name(dev, name, sizeof name) == NVML_SUCCESS && name[0] != '\0', std::string("name '") + name + "'");
  CUdevice cu = 0;
  CHECK(cuDeviceGet(&cu, 0) == CUDA_SUCCESS && cuDeviceGetName(cu_name, sizeof cu_name, cu) == CUDA_SUCCESS &&
            std::strcmp(name, cu_name) == 0,
        "name is cuDeviceGetName's");
  char tiny[4];
  CHECK(get_name(dev, tiny, sizeof tiny) == NVML_ERROR_INSUFFICIENT_SIZE, "name into 4 bytes: INSUFFICIENT_SIZE");
  char uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE] = {};
  CHECK(get_uuid(dev, uuid, sizeof uuid) == NVML_SUCCESS && uuid_format(uuid), std::string("UUID '") + uuid + "'");
  CUuuid cu_uuid{};
  char want[64] = {};
  if (cuDeviceGetUuid_v2(&cu_uuid, cu) == CUDA_SUCCESS) {
    const auto* b = reinterpret_cast<const unsigned char*>(cu_uuid.bytes);
    std::snprintf(want, sizeof want, "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
                  b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
  }
  CHECK(std::strcmp(uuid, want) == 0, "UUID is cuDeviceGetUuid's");
  CHECK(by_uuid(uuid, &other) == NVML_SUCCESS && other == dev, "handle by UUID");
  CHECK(by_uuid("GPU-00000000-0000-0000-0000-000000000000", &other) == NVML_ERROR_NOT_FOUND, "unknown UUID: NOT_FOUND");
  nvmlPciInfo_t pci{};
  int pci_domain = -1, pci_bus = -1, pci_device = -1;
  cuDeviceGetAttribute(&pci_domain, CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID, cu);
  cuDeviceGetAttribute(&pci_bus, CU_DEVICE_ATTRIBUTE_PCI_BUS_ID, cu);
  cuDeviceGetAttribute(&pci_device, CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID, cu);
  CHECK(get_pci(dev, &pci) == NVML_SUCCESS && pci.domain == static_cast<unsigned>(pci_domain) &&
            pci.bus == static_cast<unsigned>(pci_bus) && pci.device == static_cast<unsigned>(pci_device),
        std::string("PCI bus id '") + pci.busId + "' (legacy '" + pci.busIdLegacy + "'), CUDA's PCI attributes");
  CHECK(by_bus(pci.busId, &other) == NVML_SUCCESS && other == dev, "handle by PCI bus id");
  int major = -1, minor_cc = -1, cu_major = -2, cu_minor = -2;
  cuDeviceGetAttribute(&cu_major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, cu);
  cuDeviceGetAttribute(&cu_minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, cu);
  CHECK(get_cc(dev, &major, &minor_cc) == NVML_SUCCESS && major == cu_major && minor_cc == cu_minor,
        "compute capability " + std::to_string(major) + "." + std::to_string(minor_cc));
  int nv_cuda = 0, cu_version = 0;
  cuDriverGetVersion(&cu_version);
  CHECK(cuda_version(&nv_cuda) == NVML_SUCCESS && nv_cuda == cu_version,
        "CUDA driver version " + std::to_string(nv_cuda));
  char drv[NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE] = {};
  const nvmlReturn_t dr = driver_version(drv, sizeof drv);
  CHECK((dr == NVML_SUCCESS && drv[0] != '\0') || dr == NVML_ERROR_NOT_SUPPORTED,
        std::string("driver version: ") + (dr == NVML_SUCCESS ? drv : error_string(dr)));

  // Memory: the zone's quota, and what all of its programs use (the holder's allocation and context included).
  nvmlMemory_t m0{};
  CHECK(mem_v1(dev, &m0) == NVML_SUCCESS && m0.total == quota, "memory total " + std::to_string(m0.total) +
                                                                    " = the zone's quota " + std::to_string(quota));
  CHECK(m0.used + m0.free == m0.total, "used + free = total");
  CHECK(m0.used > holder_bytes, "used " + std::to_string(m0.used) + " includes the holder's allocation and context");
  nvmlMemory_v2_t v2{};
  CHECK(mem_v2(dev, &v2) == NVML_ERROR_ARGUMENT_VERSION_MISMATCH, "nvmlMemory_v2_t without its version: refused");
  v2.version = nvmlMemory_v2;
  CHECK(mem_v2(dev, &v2) == NVML_SUCCESS && v2.total == quota && v2.reserved == 0 && v2.used == m0.used &&
            v2.free == m0.free,
        "nvmlDeviceGetMemoryInfo_v2 agrees");
  size_t cu_total = 0;
  CHECK(cuDeviceTotalMem_v2(&cu_total, cu) == CUDA_SUCCESS && cu_total == quota, "cuDeviceTotalMem = the quota");

  CUcontext ctx = nullptr;
  CHECK(cuCtxCreate_v2(&ctx, 0, cu) == CUDA_SUCCESS, "cuCtxCreate");
  nvmlMemory_t m1{};
  CHECK(mem_v1(dev, &m1) == NVML_SUCCESS && m1.used > m0.used && m1.used + m1.free == quota,
        "a context is charged to the zone: used " + std::to_string(m0.used) + " -> " + std::to_string(m1.used));
  CUdeviceptr p = 0;
  const unsigned long long alloc = 8 * kMiB;
  CHECK(cuMemAlloc_v2(&p, alloc) == CUDA_SUCCESS, "cuMemAlloc 8 MiB");
  nvmlMemory_t m2{};
  CHECK(mem_v1(dev, &m2) == NVML_SUCCESS && m2.used >= m1.used + alloc && m2.used < m1.used + alloc + 2 * kMiB &&
            m2.free == quota - m2.used,
        "after the allocation: used " + std::to_string(m2.used) + ", free " + std::to_string(m2.free));
  size_t cu_free = 0, cu_all = 0;
  CHECK(cuMemGetInfo_v2(&cu_free, &cu_all) == CUDA_SUCCESS && cu_all == quota && cu_free == m2.free,
        "cuMemGetInfo agrees with NVML");

  // The zone's programs: this one (by the pid it told the proxy: its own) and the holder, with their memory.
  unsigned int np = 0;
  CHECK(procs_v3(dev, &np, nullptr) == NVML_ERROR_INSUFFICIENT_SIZE && np == 2,
        "process count query: INSUFFICIENT_SIZE, 2 (got " + std::to_string(np) + ")");
  std::vector<nvmlProcessInfo_t> ps(8);
  np = static_cast<unsigned int>(ps.size());
  CHECK(procs_v3(dev, &np, ps.data()) == NVML_SUCCESS && np == 2, "two processes (v3)");
  bool found_self = false, found_holder = false;
  for (unsigned int i = 0; i < np; ++i) {
    std::printf("  process %u: %llu bytes, instance %x/%x\n", ps[i].pid, ps[i].usedGpuMemory, ps[i].gpuInstanceId,
                ps[i].computeInstanceId);
    if (ps[i].pid == self && ps[i].usedGpuMemory > alloc) found_self = true;
    if (ps[i].pid == holder_pid && ps[i].usedGpuMemory > holder_bytes) found_holder = true;
    CHECK(ps[i].gpuInstanceId == XG_NVML_NO_INSTANCE && ps[i].computeInstanceId == XG_NVML_NO_INSTANCE,
          "no MIG instance ids");
  }
  CHECK(found_self, "this program (pid " + std::to_string(self) + ") listed with its allocation and context");
  CHECK(found_holder, "the holder (pid " + std::to_string(holder_pid) + ") listed with its allocation and context");
  std::vector<nvmlProcessInfo_v1_t> p1(8);
  np = static_cast<unsigned int>(p1.size());
  CHECK(procs_v1(dev, &np, p1.data()) == NVML_SUCCESS && np == 2 && (p1[0].pid == self || p1[1].pid == self),
        "the v1 list agrees");
  np = 0;
  CHECK(gfx_procs(dev, &np, nullptr) == NVML_SUCCESS && np == 0, "no graphics processes");
  nvmlUtilization_t u{101, 101};
  CHECK(util(dev, &u) == NVML_SUCCESS && u.gpu <= 100 && u.memory == 0,
        "utilisation gpu " + std::to_string(u.gpu) + "%");

  // What a zone cannot know: an honest NOT_SUPPORTED.
  unsigned int t = 0;
  CHECK(temperature(dev, 0, &t) == NVML_ERROR_NOT_SUPPORTED, "temperature: NOT_SUPPORTED");
  CHECK(power(dev, &t) == NVML_ERROR_NOT_SUPPORTED, "power: NOT_SUPPORTED");
  CHECK(minor(dev, &t) == NVML_ERROR_NOT_SUPPORTED, "minor number: NOT_SUPPORTED");
  const char* es = error_string(NVML_ERROR_NOT_SUPPORTED);
  CHECK(es != nullptr && es[0] != '\0', std::string("nvmlErrorString: '") + (es ? es : "") + "'");
  // 1000: no code NVML defines, yet a value an nvmlReturn_t can hold (0..1023).
  CHECK(std::strcmp(error_string(static_cast<nvmlReturn_t>(1000)), "Unknown Error") == 0,
        "nvmlErrorString of an unknown code: 'Unknown Error'");

  // The operator changes the running zone's quota: NVML, cuDeviceTotalMem and cuMemGetInfo follow at once.
  const std::string reply = admin(admin_socket, "quota " + zone + " " + std::to_string(new_quota));
  CHECK(reply.rfind("ok", 0) == 0, "admin: quota " + zone + " " + std::to_string(new_quota) + ": " + reply);
  nvmlMemory_t m3{};
  CHECK(mem_v1(dev, &m3) == NVML_SUCCESS && m3.total == new_quota && m3.used == m2.used &&
            m3.free == new_quota - m2.used,
        "after the quota change NVML's total is " + std::to_string(m3.total));
  CHECK(cuDeviceTotalMem_v2(&cu_total, cu) == CUDA_SUCCESS && cu_total == new_quota,
        "cuDeviceTotalMem follows the new quota: " + std::to_string(cu_total));
  CHECK(cuMemGetInfo_v2(&cu_free, &cu_all) == CUDA_SUCCESS && cu_all == new_quota, "cuMemGetInfo follows");

  CHECK(cuMemFree_v2(p) == CUDA_SUCCESS, "cuMemFree");
  nvmlMemory_t m4{};
  CHECK(mem_v1(dev, &m4) == NVML_SUCCESS && m4.used == m1.used, "the free is seen: used back to " +
                                                                    std::to_string(m4.used));
  cuCtxDestroy_v2(ctx);

  CHECK(init() == NVML_SUCCESS, "nvmlInit again (reference counted)");
  CHECK(shutdown() == NVML_SUCCESS && count(&n) == NVML_SUCCESS, "one nvmlShutdown of two leaves NVML initialised");
  CHECK(shutdown() == NVML_SUCCESS && count(&n) == NVML_ERROR_UNINITIALIZED, "the second ends it");
  CHECK(shutdown() == NVML_ERROR_UNINITIALIZED, "a third: UNINITIALIZED");
  CHECK(temperature(dev, 0, &t) == NVML_ERROR_UNINITIALIZED, "after shutdown: UNINITIALIZED");
  std::printf("%d failures\n", failures);
  return failures == 0 ? 0 : 1;
}
