// The zone's own view of its share (IDM op ZoneInfo): exported to the zone's NVML as xen_gpu_zone_info
// (libvgpu/zone_info.h), and read by cuDeviceTotalMem, whose answer follows the operator's changes to a running
// zone's quota.
#include <algorithm>
#include <cstring>

#include "libvgpu/state.h"
#include "libvgpu/zone_info.h"

using namespace xg::vgpu;
using xg::idm::Op;
namespace idm = xg::idm;

static_assert(XEN_GPU_ZONE_MAX_PROGRAMS == idm::kMaxZonePrograms);
static_assert(XEN_GPU_DRIVER_VERSION_CHARS == idm::kDriverVersionChars);
static_assert(sizeof(xen_gpu_zone_program) == sizeof(idm::ZoneProgramInfo));

namespace xg::vgpu {

CUresult query_zone_info(Session& s, idm::ZoneInfoRsp* info, std::vector<idm::ZoneProgramInfo>* programs) {
  Reply rep;
  if (CUresult r = s.conn().call<Op::ZoneInfo>(idm::ZoneInfoReq{0}, {}, &rep); r != CUDA_SUCCESS) return r;
  *info = rep.fixed<idm::ZoneInfoRsp>();
  info->driver_version[sizeof info->driver_version - 1] = '\0';  // the worker terminates it; we do not rely on it
  if (programs != nullptr) {
    // The decoder bounded the tail at kMaxZonePrograms entries; a partial entry is ignored.
    const auto tail = rep.tail<idm::ZoneInfoRsp>();
    programs->resize(tail.size() / sizeof(idm::ZoneProgramInfo));
    if (!programs->empty()) std::memcpy(programs->data(), tail.data(), programs->size() * sizeof(idm::ZoneProgramInfo));
  }
  return CUDA_SUCCESS;
}

}  // namespace xg::vgpu

extern "C" __attribute__((visibility("default"))) int xen_gpu_zone_info(xen_gpu_zone_info* out) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    if (out == nullptr || out->struct_size != sizeof *out) return CUDA_ERROR_INVALID_VALUE;
    idm::ZoneInfoRsp z{};
    std::vector<idm::ZoneProgramInfo> programs;
    if (CUresult r = query_zone_info(s, &z, &programs); r != CUDA_SUCCESS) return r;
    const uint32_t size = out->struct_size;
    std::memset(out, 0, sizeof *out);
    out->struct_size = size;
    out->quota_bytes = z.quota_bytes;
    out->used_bytes = z.used_bytes;
    out->overhead_bytes = z.overhead_bytes;
    out->gpu_ns = z.gpu_ns;
    out->gpu_util_permille = std::min<uint32_t>(z.gpu_util_permille, 1000);
    out->weight = z.weight;
    std::memcpy(out->driver_version, z.driver_version, sizeof out->driver_version);
    const size_t n = std::min<size_t>(programs.size(), XEN_GPU_ZONE_MAX_PROGRAMS);
    for (size_t i = 0; i < n; ++i) out->program[i] = {programs[i].zone_pid, 0, programs[i].used_bytes};
    out->programs = static_cast<uint32_t>(n);
    return CUDA_SUCCESS;
  });
}
