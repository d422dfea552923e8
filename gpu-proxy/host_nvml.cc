#include "gpu-proxy/host_nvml.h"

#include <dlfcn.h>

#include <string>
#include <type_traits>

namespace xg::proxy {
namespace {

// Facts of NVML's C ABI (nvml.h), declared here so the build needs no NVIDIA header. Every function returns an
// nvmlReturn_t, 0 being NVML_SUCCESS; a device is an opaque pointer.
using nvmlReturn_t = int;
constexpr nvmlReturn_t kNvmlSuccess = 0;
using nvmlDevice_t = struct nvmlDevice_st*;
struct nvmlUtilization_t {  // percent of the last sample period
  unsigned int gpu;         // during which one or more kernels ran
  unsigned int memory;      // during which device memory was read or written
};
struct nvmlMemory_t {  // bytes of the device's framebuffer
  unsigned long long total, free, used;
};
constexpr int kNvmlTemperatureGpu = 0;               // nvmlTemperatureSensors_t NVML_TEMPERATURE_GPU
constexpr unsigned kNvmlDriverVersionBufferSize = 80;  // NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE

}  // namespace

struct HostNvml::Api {
  nvmlReturn_t (*init_v2)();
  nvmlReturn_t (*shutdown)();
  nvmlReturn_t (*handle_by_index_v2)(unsigned, nvmlDevice_t*);
  nvmlReturn_t (*utilization)(nvmlDevice_t, nvmlUtilization_t*);
  nvmlReturn_t (*memory)(nvmlDevice_t, nvmlMemory_t*);
  nvmlReturn_t (*temperature)(nvmlDevice_t, int, unsigned*);
  nvmlReturn_t (*driver_version)(char*, unsigned);
};

std::unique_ptr<HostNvml> HostNvml::open(std::string& why) {
  void* lib = ::dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    const char* e = ::dlerror();
    why = e ? e : "cannot load libnvidia-ml.so.1";
    return nullptr;
  }
  auto api = std::make_unique<Api>();
  auto sym = [&](auto& fn, const char* name) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(::dlsym(lib, name));
    return fn != nullptr;
  };
  // The versioned names are the ones NVIDIA's nvml.h maps its calls to since NVML 5 (nvmlInit -> nvmlInit_v2).
  if (!sym(api->init_v2, "nvmlInit_v2") || !sym(api->shutdown, "nvmlShutdown") ||
      !sym(api->handle_by_index_v2, "nvmlDeviceGetHandleByIndex_v2") ||
      !sym(api->utilization, "nvmlDeviceGetUtilizationRates") || !sym(api->memory, "nvmlDeviceGetMemoryInfo") ||
      !sym(api->temperature, "nvmlDeviceGetTemperature") ||
      !sym(api->driver_version, "nvmlSystemGetDriverVersion")) {
    why = "libnvidia-ml.so.1 lacks an entry point we use";
    ::dlclose(lib);
    return nullptr;
  }
  if (const nvmlReturn_t r = api->init_v2(); r != kNvmlSuccess) {
    why = "nvmlInit_v2 returned " + std::to_string(r);
    ::dlclose(lib);
    return nullptr;
  }
  std::unique_ptr<HostNvml> n(new HostNvml());
  n->lib_ = lib;
  n->api_ = std::move(api);
  char version[kNvmlDriverVersionBufferSize] = {};
  if (n->api_->driver_version(version, sizeof version) == kNvmlSuccess) {
    version[sizeof version - 1] = 0;
    n->driver_version_ = version;
  }
  return n;
}

HostNvml::~HostNvml() {
  if (api_) (void)api_->shutdown();
  if (lib_) ::dlclose(lib_);
}

void HostNvml::sample(unsigned index, GpuSnapshot& gpu) const {
  if (!driver_version_.empty()) gpu.driver_version = driver_version_;
  nvmlDevice_t dev = nullptr;
  if (api_->handle_by_index_v2(index, &dev) != kNvmlSuccess) return;
  nvmlUtilization_t u{};
  if (api_->utilization(dev, &u) == kNvmlSuccess) gpu.utilization = u.gpu / 100.0;
  nvmlMemory_t m{};
  if (api_->memory(dev, &m) == kNvmlSuccess) {
    gpu.memory_total_bytes = m.total;
    gpu.memory_used_bytes = m.used;
  }
  unsigned t = 0;
  if (api_->temperature(dev, kNvmlTemperatureGpu, &t) == kNvmlSuccess) gpu.temperature_celsius = t;
}

}  // namespace xg::proxy
