// Transport-level messages and initialisation/device queries.
#include <cstring>

#include "gpu-proxy/worker/worker.h"

namespace xg::proxy {

namespace {

// Capabilities of the device that zones cannot use through xen-gpu read as 0 in the zone, so that programs take
// their documented fallbacks (PyTorch's and CuPy's allocators check the memory-pool attribute) instead of calls
// that would answer CUDA_ERROR_NOT_SUPPORTED: managed and pageable memory, memory pools, virtual memory management,
// cooperative launches, interop handles, stream memory operations, multicast.
bool offered_to_zones(int attribute) {
  switch (attribute) {
    case CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY:
    case CU_DEVICE_ATTRIBUTE_PAGEABLE_MEMORY_ACCESS:
    case CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS:
    case CU_DEVICE_ATTRIBUTE_COOPERATIVE_LAUNCH:
    case CU_DEVICE_ATTRIBUTE_COOPERATIVE_MULTI_DEVICE_LAUNCH:
    case CU_DEVICE_ATTRIBUTE_PAGEABLE_MEMORY_ACCESS_USES_HOST_PAGE_TABLES:
    case CU_DEVICE_ATTRIBUTE_DIRECT_MANAGED_MEM_ACCESS_FROM_HOST:
    case CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_SPARSE_CUDA_ARRAY_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_GPU_DIRECT_RDMA_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_MEMPOOL_SUPPORTED_HANDLE_TYPES:
    case CU_DEVICE_ATTRIBUTE_CAN_USE_64_BIT_STREAM_MEM_OPS:
    case CU_DEVICE_ATTRIBUTE_CAN_USE_STREAM_WAIT_VALUE_NOR:
    case CU_DEVICE_ATTRIBUTE_DMA_BUF_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_IPC_EVENT_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_MULTICAST_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_HOST_NUMA_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_HOST_NUMA_MEMORY_POOLS_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_HOST_NUMA_MULTINODE_IPC_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_HOST_MEMORY_POOLS_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_HOST_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_HOST_ALLOC_DMA_BUF_SUPPORTED: return false;
    default: return true;
  }
}

}  // namespace

using namespace idm;

CUresult Worker::on(OpTag<Op::Hello>, const HelloReq&, std::span<const std::byte>, Reply&) {
  return CUDA_ERROR_NOT_SUPPORTED;  // never reaches a ring: decode() refuses control messages there
}
CUresult Worker::on(OpTag<Op::Ping>, const PingReq& r, std::span<const std::byte>, Reply& reply) {
  reply.set(PingRsp{r.token});  // libvgpu's drain barrier and the latency benchmark
  return CUDA_SUCCESS;
}
// Conformance traffic belongs to the transport tests, not to a zone's worker.
CUresult Worker::on(OpTag<Op::Echo>, const EchoReq&, std::span<const std::byte>, Reply&) {
  return CUDA_ERROR_NOT_SUPPORTED;
}
CUresult Worker::on(OpTag<Op::Nop>, const NopPost&, std::span<const std::byte>, Reply&) { return CUDA_SUCCESS; }
// The conformance probe of the data area: its checksum as this side sees it (zones compare it with their own view).
CUresult Worker::on(OpTag<Op::BulkPut>, const BulkPutReq& r, std::span<const std::byte>, Reply& reply) {
  const std::span<std::byte> data = ch_.data();
  if (r.offset > data.size() || r.length > data.size() - r.offset) return CUDA_ERROR_INVALID_VALUE;
  const uint32_t sum = (r.flags & kBulkWantChecksum) ? fnv1a(data.subspan(r.offset, r.length)) : 0;
  reply.set(BulkPutRsp{sum, 0});
  return CUDA_SUCCESS;
}

CUresult Worker::on(OpTag<Op::Init>, const InitReq& r, std::span<const std::byte>, Reply& reply) {
  if (r.flags != 0) return CUDA_ERROR_INVALID_VALUE;  // cuInit: Flags must be 0
  int version = 0;
  if (d_.DriverGetVersion) d_.DriverGetVersion(&version);
  reply.set(InitRsp{version, device_count_, limits_.zone_id, 0});
  return CUDA_SUCCESS;
}

CUresult Worker::on(OpTag<Op::DeviceInfo>, const DeviceInfoReq& r, std::span<const std::byte>, Reply& reply) {
  if (r.ordinal < 0 || r.ordinal >= device_count_) return CUDA_ERROR_INVALID_DEVICE;
  CUdevice dev = 0;
  if (CUresult e = d_.DeviceGet(&dev, r.ordinal); e != CUDA_SUCCESS) return e;
  DeviceInfoRsp info{};
  if (d_.DeviceGetName) d_.DeviceGetName(info.name, sizeof info.name - 1, dev);
  info.name[sizeof info.name - 1] = 0;
  CUuuid uuid{};
  if (d_.DeviceGetUuid && d_.DeviceGetUuid(&uuid, dev) == CUDA_SUCCESS) std::memcpy(info.uuid, uuid.bytes, 16);
  size_t total = 0;
  if (d_.DeviceTotalMem) d_.DeviceTotalMem(&total, dev);
  // The zone's view of the device: its quota is its memory.
  info.total_mem = std::min<uint64_t>(total, quota());
  auto* attrs = reinterpret_cast<int32_t*>(scratch_.data());
  for (uint32_t a = 0; a < kMaxDeviceAttribute; ++a) {
    int v = 0;
    if (a == 0 || d_.DeviceGetAttribute(&v, static_cast<CUdevice_attribute>(a), dev) != CUDA_SUCCESS) v = 0;
    attrs[a] = offered_to_zones(static_cast<int>(a)) ? v : 0;
  }
  info.cc_major = attrs[CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR];
  info.cc_minor = attrs[CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR];
  reply.set(info);
  reply.tail = std::span(scratch_).first(4 * kMaxDeviceAttribute);
  return CUDA_SUCCESS;
}

// The zone's share across all of its programs (the zone-side NVML reads it): the ledger summed over live slots,
// the time slicer's figures, and each program's use. The total is the quota, or the device's memory if smaller.
CUresult Worker::on(OpTag<Op::ZoneInfo>, const ZoneInfoReq&, std::span<const std::byte>, Reply& reply) {
  ZoneInfoRsp info{};
  size_t total = 0;
  CUdevice dev = 0;
  if (device_count_ > 0 && d_.DeviceGet(&dev, 0) == CUDA_SUCCESS && d_.DeviceTotalMem) d_.DeviceTotalMem(&total, dev);
  info.quota_bytes = total != 0 ? std::min<uint64_t>(total, quota()) : quota();
  const ZoneUsage u = zone_usage(*zone_);
  info.used_bytes = u.total();
  info.overhead_bytes = u.overhead_bytes;
  info.programs = u.programs;
  info.gpu_ns = zone_->gpu_ns.load(std::memory_order_relaxed);
  info.gpu_util_permille = std::min<uint32_t>(zone_->gpu_util_permille.load(std::memory_order_relaxed), 1000);
  info.weight = zone_->weight.load(std::memory_order_relaxed);
  std::memcpy(info.driver_version, zone_->driver_version, sizeof info.driver_version);
  info.driver_version[sizeof info.driver_version - 1] = 0;
  auto* programs = reinterpret_cast<ZoneProgramInfo*>(scratch_.data());
  size_t n = 0;
  for (const ProgramSlot& s : zone_->slots) {
    if (s.live.load(std::memory_order_acquire) == 0 || s.serving.load(std::memory_order_relaxed) == 0 ||
        n == kMaxZonePrograms)
      continue;
    programs[n++] = ZoneProgramInfo{s.zone_pid.load(std::memory_order_relaxed), 0, slot_bytes(s)};
  }
  reply.set(info);
  reply.tail = std::span(scratch_).first(n * sizeof(ZoneProgramInfo));
  return CUDA_SUCCESS;
}

// A zone control opcode (messages_zonectl.h) on a CUDA channel: not ours. The refusal is logged with every other
// refused call (worker.cc).
CUresult Worker::not_a_worker_op(Op) { return CUDA_ERROR_NOT_SUPPORTED; }

}  // namespace xg::proxy
