// The driver domain's NVML (libnvidia-ml.so.1), for what the daemon reports about the GPU itself: utilisation,
// memory, temperature and the host driver's version. Loaded with dlopen at daemon start, only when the daemon's
// driver is the real one (the simulated driver has no NVML, and a node without NVIDIA's driver has no library):
// nothing links against it, and every value it cannot give stays absent.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "gpu-proxy/zone_snapshot.h"

namespace xg::proxy {

class HostNvml {
 public:
  // nullptr (with `why` set) where the library is missing or nvmlInit_v2 fails.
  [[nodiscard]] static std::unique_ptr<HostNvml> open(std::string& why);
  ~HostNvml();
  HostNvml(const HostNvml&) = delete;
  HostNvml& operator=(const HostNvml&) = delete;

  // nvmlSystemGetDriverVersion's answer at open ("580.159.04"); empty if it failed.
  [[nodiscard]] const std::string& driver_version() const noexcept { return driver_version_; }
  // Fills what NVML answers for GPU `index` now: utilisation (0..1), memory used/total, temperature, the driver
  // version. A query that fails leaves its field as it was (absent, or the driver probe's value).
  void sample(unsigned index, GpuSnapshot& gpu) const;

  struct Api;  // the dlsym'd entry points (host_nvml.cc)

 private:
  HostNvml() = default;
  void* lib_ = nullptr;
  std::unique_ptr<Api> api_;
  std::string driver_version_;
};

}  // namespace xg::proxy
