// Initialisation, versions, errors, devices, primary and created contexts, the per-thread context stack.
//
// cuInit connects to the zone's proxy (connect_transport), then asks Init and DeviceInfo once and caches the
// answers: device attributes, names and UUIDs are answered locally afterwards; total memory (the zone's quota,
// which the operator may change) is asked of the worker each time (ZoneInfo).
// The context stack is local too; handles are the worker's 64-bit values.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "cuda/errors.h"
#include "libvgpu/export_tables.h"
#include "libvgpu/state.h"

using namespace xg::vgpu;
using xg::idm::Op;
namespace idm = xg::idm;

namespace {

CUresult destroy_context(CUcontext ctx);

constexpr const char* kDefaultSocket = "/run/xen-gpu/zone.sock";
constexpr auto kConnectTimeout = std::chrono::milliseconds(10'000);
constexpr int kMaxDevices = 16;

std::mutex g_init_mu;

const char* env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

CUresult initialise() {
  State& st = state();
  const std::string path = env_or("XEN_GPU_SOCKET", kDefaultSocket);
  const std::string zone = env_or("XEN_GPU_ZONE", ("zone-" + std::to_string(::getpid())).c_str());
  auto t = connect_transport(path, zone, /*requested_quota=*/0, kConnectTimeout);
  if (!t) {
    std::fprintf(stderr,
                 "libvgpu: cannot connect to the GPU proxy at %s as zone '%s' (%.*s); no CUDA device in this zone "
                 "(is gpu-proxy running there? XEN_GPU_SOCKET names the socket)\n",
                 path.c_str(),
                 zone.c_str(), static_cast<int>(idm::error_name(t.error()).size()),
                 idm::error_name(t.error()).data());
    return CUDA_ERROR_NO_DEVICE;
  }
  st.conn = std::make_unique<Connection>(std::move(t.value()));
  Connection& c = *st.conn;
  std::lock_guard lk(c.mu());
  Reply rep;
  if (CUresult r = c.call<Op::Init>(idm::InitReq{0, 0}, {}, &rep); r != CUDA_SUCCESS) return r;
  const auto init = rep.fixed<idm::InitRsp>();
  if (init.device_count <= 0) return CUDA_ERROR_NO_DEVICE;
  st.driver_version = std::min(init.driver_version, kImplementedVersion);
  const int count = std::min(init.device_count, kMaxDevices);
  for (int dev = 0; dev < count; ++dev) {
    if (CUresult r = c.call<Op::DeviceInfo>(idm::DeviceInfoReq{dev, 0}, {}, &rep); r != CUDA_SUCCESS) return r;
    const auto di = rep.fixed<idm::DeviceInfoRsp>();
    const auto tail = rep.tail<idm::DeviceInfoRsp>();
    DeviceInfo info;
    info.name.assign(di.name, strnlen(di.name, sizeof di.name));
    std::memcpy(info.uuid.bytes, di.uuid, sizeof di.uuid);
    info.total_mem = di.total_mem;
    info.cc_major = di.cc_major;
    info.cc_minor = di.cc_minor;
    info.attrs.resize(tail.size() / sizeof(int32_t));
    if (!info.attrs.empty()) std::memcpy(info.attrs.data(), tail.data(), info.attrs.size() * sizeof(int32_t));
    st.devices.push_back(std::move(info));
  }
  return CUDA_SUCCESS;
}

CUresult check_device(const State& st, CUdevice dev) {
  return dev >= 0 && static_cast<size_t>(dev) < st.devices.size() ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}

template <Op op>
CUresult primary_call(CUdevice dev, unsigned flags) {
  Session s;
  if (s.status() != CUDA_SUCCESS) return s.status();
  if (CUresult r = check_device(s.st(), dev); r != CUDA_SUCCESS) return r;
  return s.conn().call<op>(idm::DeviceOnlyReq{dev, flags});
}

}  // namespace

extern "C" {

CUresult cuInit(unsigned int Flags) {
  return guard([&]() -> CUresult {
    if (Flags != 0) return CUDA_ERROR_INVALID_VALUE;
    std::lock_guard lk(g_init_mu);
    const int done = init_result().load();
    if (done != CUDA_ERROR_NOT_INITIALIZED) return static_cast<CUresult>(done);
    CUresult r = initialise();
    if (r != CUDA_SUCCESS && r != CUDA_ERROR_NO_DEVICE && state().conn) {
      std::fprintf(stderr, "libvgpu: the GPU proxy refused initialisation (error %d)\n", static_cast<int>(r));
    }
    init_result().store(r, std::memory_order_release);
    return r;
  });
}

// Works before cuInit, as on the driver.
CUresult cuDriverGetVersion(int* driverVersion) {
  return guard([&]() -> CUresult {
    if (driverVersion == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *driverVersion = init_result().load() == CUDA_SUCCESS ? state().driver_version : kImplementedVersion;
    return CUDA_SUCCESS;
  });
}

// Both work before cuInit; an unknown code sets *pStr to NULL and returns CUDA_ERROR_INVALID_VALUE.
CUresult cuGetErrorName(CUresult error, const char** pStr) {
  return guard([&]() -> CUresult {
    if (pStr == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *pStr = xg::cuda::error_name(raw(error));
    return *pStr != nullptr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
  });
}

CUresult cuGetErrorString(CUresult error, const char** pStr) {
  return guard([&]() -> CUresult {
    if (pStr == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *pStr = xg::cuda::error_string(raw(error));
    return *pStr != nullptr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
  });
}

// --- devices (answered from cuInit's cache) ---------------------------------------------------------------------

CUresult cuDeviceGetCount(int* count) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    if (count == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *count = static_cast<int>(s.st().devices.size());
    return CUDA_SUCCESS;
  });
}

CUresult cuDeviceGet(CUdevice* device, int ordinal) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (CUresult r = check_device(s.st(), ordinal); r != CUDA_SUCCESS) return r;
    *device = ordinal;
    return CUDA_SUCCESS;
  });
}

CUresult cuDeviceGetName(char* name, int len, CUdevice dev) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    if (name == nullptr || len <= 0) return CUDA_ERROR_INVALID_VALUE;
    if (CUresult r = check_device(s.st(), dev); r != CUDA_SUCCESS) return r;
    const std::string& n = s.st().devices[dev].name;
    const size_t k = std::min(n.size(), static_cast<size_t>(len) - 1);
    std::memcpy(name, n.data(), k);
    name[k] = '\0';
    return CUDA_SUCCESS;
  });
}

CUresult cuDeviceGetUuid_v2(CUuuid* uuid, CUdevice dev) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    if (uuid == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (CUresult r = check_device(s.st(), dev); r != CUDA_SUCCESS) return r;
    *uuid = s.st().devices[dev].uuid;
    return CUDA_SUCCESS;
  });
}

CUresult cuDeviceGetUuid(CUuuid* uuid, CUdevice dev) { return cuDeviceGetUuid_v2(uuid, dev); }

// The zone's quota (or the device's memory, if smaller) as the proxy holds it now, not as it was at cuInit: the
// operator may change a running zone's quota (xen-gpu quota), and cudaGetDeviceProperties' totalGlobalMem, NVML
// and cuMemGetInfo's total then agree. A proxy without ZoneInfo (NOT_SUPPORTED) leaves cuInit's figure.
CUresult cuDeviceTotalMem_v2(size_t* bytes, CUdevice dev) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    if (bytes == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (CUresult r = check_device(s.st(), dev); r != CUDA_SUCCESS) return r;
    idm::ZoneInfoRsp zone{};
    const CUresult r = query_zone_info(s, &zone);
    if (r == CUDA_SUCCESS && zone.quota_bytes != 0) {
      s.st().devices[dev].total_mem = zone.quota_bytes;
    } else if (r != CUDA_ERROR_NOT_SUPPORTED && r != CUDA_SUCCESS) {
      return r;
    }
    *bytes = s.st().devices[dev].total_mem;
    return CUDA_SUCCESS;
  });
}

CUresult cuDeviceGetAttribute(int* pi, CUdevice_attribute attrib, CUdevice dev) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    if (pi == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (CUresult r = check_device(s.st(), dev); r != CUDA_SUCCESS) return r;
    const int a = raw(attrib);
    const auto& attrs = s.st().devices[dev].attrs;
    if (a < CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK || a >= CU_DEVICE_ATTRIBUTE_MAX ||
        static_cast<size_t>(a) >= attrs.size())
      return CUDA_ERROR_INVALID_VALUE;
    *pi = attrs[a];
    return CUDA_SUCCESS;
  });
}

CUresult cuDeviceComputeCapability(int* major, int* minor, CUdevice dev) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    if (major == nullptr || minor == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (CUresult r = check_device(s.st(), dev); r != CUDA_SUCCESS) return r;
    *major = s.st().devices[dev].cc_major;
    *minor = s.st().devices[dev].cc_minor;
    return CUDA_SUCCESS;
  });
}

// --- primary context --------------------------------------------------------------------------------------------

CUresult cuDevicePrimaryCtxRetain(CUcontext* pctx, CUdevice dev) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (CUresult r = check_device(s.st(), dev); r != CUDA_SUCCESS) return r;
    Reply rep;
    if (CUresult r = s.conn().call<Op::PrimaryCtxRetain>(idm::DeviceOnlyReq{dev, 0}, {}, &rep); r != CUDA_SUCCESS)
      return r;
    const uint64_t ctx = rep.fixed<idm::CtxRsp>().ctx;
    s.st().contexts[ctx] = dev;
    *pctx = handle_of<CUcontext>(ctx);
    return CUDA_SUCCESS;
  });
}


CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev) {
  return guard([&] { return primary_call<Op::PrimaryCtxRelease>(dev, 0); });
}
CUresult cuDevicePrimaryCtxReset_v2(CUdevice dev) {
  std::vector<uint64_t> destroyed;
  const CUresult r = guard([&]() -> CUresult {
    CUresult r = primary_call<Op::PrimaryCtxReset>(dev, 0);
    if (r == CUDA_SUCCESS) {
      Session s;  // the reset destroyed everything the primary context owned
      if (s.status() == CUDA_SUCCESS)
        for (const auto& [ctx, d] : s.st().contexts)
          if (d == dev) {
            s.st().forget_context(ctx);
            destroyed.push_back(ctx);
          }
    }
    return r;
  });
  for (uint64_t ctx : destroyed) run_context_storage_destructors(ctx);  // outside the connection's lock
  return r;
}
CUresult cuDevicePrimaryCtxSetFlags_v2(CUdevice dev, unsigned int flags) {
  return guard([&]() -> CUresult {
    if ((flags & ~unsigned(CU_CTX_FLAGS_MASK)) != 0) return CUDA_ERROR_INVALID_VALUE;
    return primary_call<Op::PrimaryCtxSetFlags>(dev, flags);
  });
}

CUresult cuDevicePrimaryCtxGetState(CUdevice dev, unsigned int* flags, int* active) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    if (flags == nullptr || active == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (CUresult r = check_device(s.st(), dev); r != CUDA_SUCCESS) return r;
    Reply rep;
    if (CUresult r = s.conn().call<Op::PrimaryCtxGetState>(idm::DeviceOnlyReq{dev, 0}, {}, &rep); r != CUDA_SUCCESS)
      return r;
    const auto st = rep.fixed<idm::PrimaryCtxStateRsp>();
    *flags = st.flags;
    *active = st.active;
    return CUDA_SUCCESS;
  });
}

// --- created contexts and the context stack ---------------------------------------------------------------------

CUresult cuCtxCreate_v2(CUcontext* pctx, unsigned int flags, CUdevice dev) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if ((flags & ~unsigned(CU_CTX_FLAGS_MASK)) != 0) return CUDA_ERROR_INVALID_VALUE;
    if (CUresult r = check_device(s.st(), dev); r != CUDA_SUCCESS) return r;
    Reply rep;
    if (CUresult r = s.conn().call<Op::CtxCreate>(idm::CtxCreateReq{flags, dev}, {}, &rep); r != CUDA_SUCCESS)
      return r;
    const uint64_t ctx = rep.fixed<idm::CtxRsp>().ctx;
    s.st().contexts[ctx] = dev;
    this_thread_contexts().push(ctx);  // the new context becomes current
    *pctx = handle_of<CUcontext>(ctx);
    return CUDA_SUCCESS;
  });
}

// cuCtxCreate_v3/_v4: the same context; execution affinity (an SM limit) and CIG sharing are not offered to zones.
CUresult cuCtxCreate_v3(CUcontext* pctx, CUexecAffinityParam* params, int n, unsigned int flags, CUdevice dev) {
  if (n < 0 || (n > 0 && params == nullptr)) return CUDA_ERROR_INVALID_VALUE;
  if (n > 0) return CUDA_ERROR_NOT_SUPPORTED;
  return cuCtxCreate_v2(pctx, flags, dev);
}

CUresult cuCtxCreate_v4(CUcontext* pctx, CUctxCreateParams* p, unsigned int flags, CUdevice dev) {
  if (p == nullptr) return cuCtxCreate_v2(pctx, flags, dev);
  if (p->cigParams != nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  return cuCtxCreate_v3(pctx, p->execAffinityParams, p->numExecAffinityParams, flags, dev);
}

CUresult cuCtxDestroy_v2(CUcontext ctx) {
  const CUresult r = destroy_context(ctx);
  if (r == CUDA_SUCCESS) run_context_storage_destructors(wire(ctx));  // outside the connection's lock
  return r;
}

}  // extern "C"

namespace {

CUresult destroy_context(CUcontext ctx) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    const uint64_t h = wire(ctx);
    if (h == 0 || !s.st().contexts.contains(h)) return CUDA_ERROR_INVALID_CONTEXT;
    if (CUresult r = s.conn().call<Op::CtxDestroy>(idm::CtxReq{h}); r != CUDA_SUCCESS) return r;
    s.st().contexts.erase(h);
    s.st().forget_context(h);
    // Popped from the calling thread's stack; other threads holding it current get the worker's error.
    this_thread_contexts().remove(h);
    return CUDA_SUCCESS;
  });
}

}  // namespace

extern "C" {

CUresult cuCtxGetCurrent(CUcontext* pctx) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *pctx = handle_of<CUcontext>(s.ctx());
    return CUDA_SUCCESS;
  });
}

CUresult cuCtxSetCurrent(CUcontext ctx) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    const uint64_t h = wire(ctx);
    if (h != 0 && !s.st().contexts.contains(h)) return CUDA_ERROR_INVALID_CONTEXT;
    this_thread_contexts().set(h);
    return CUDA_SUCCESS;
  });
}

CUresult cuCtxPushCurrent_v2(CUcontext ctx) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    const uint64_t h = wire(ctx);
    if (h == 0 || !s.st().contexts.contains(h)) return CUDA_ERROR_INVALID_CONTEXT;
    this_thread_contexts().push(h);
    return CUDA_SUCCESS;
  });
}

CUresult cuCtxPopCurrent_v2(CUcontext* pctx) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    uint64_t h = 0;
    if (!this_thread_contexts().pop(&h)) return CUDA_ERROR_INVALID_CONTEXT;
    if (pctx != nullptr) *pctx = handle_of<CUcontext>(h);
    return CUDA_SUCCESS;
  });
}

CUresult cuCtxGetDevice(CUdevice* device) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    const uint64_t h = s.ctx();
    if (h == 0) return CUDA_ERROR_INVALID_CONTEXT;
    if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
    auto it = s.st().contexts.find(h);
    if (it == s.st().contexts.end()) return CUDA_ERROR_CONTEXT_IS_DESTROYED;
    *device = it->second;
    return CUDA_SUCCESS;
  });
}

CUresult cuCtxGetDevice_v2(CUdevice* device, CUcontext ctx) {
  if (ctx == nullptr) return cuCtxGetDevice(device);
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
    auto it = s.st().contexts.find(wire(ctx));
    if (it == s.st().contexts.end()) return CUDA_ERROR_INVALID_CONTEXT;
    *device = it->second;
    return CUDA_SUCCESS;
  });
}

CUresult cuCtxSynchronize_v2(CUcontext ctx) {
  if (ctx == nullptr) return cuCtxSynchronize();
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    if (!s.st().contexts.contains(wire(ctx))) return CUDA_ERROR_INVALID_CONTEXT;
    return s.conn().call<Op::CtxSynchronize>(idm::CtxReq{wire(ctx)});
  });
}

// The worker's handles carry a generation, so a handle value never names two contexts in one process: it is the ID.
CUresult cuCtxGetId(CUcontext ctx, unsigned long long* ctxId) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    const uint64_t h = ctx == nullptr ? s.ctx() : wire(ctx);
    if (h == 0 || !s.st().contexts.contains(h)) return CUDA_ERROR_INVALID_CONTEXT;
    if (ctxId == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *ctxId = h;
    return CUDA_SUCCESS;
  });
}

CUresult cuCtxGetStreamPriorityRange(int* leastPriority, int* greatestPriority) {
  return guard([&]() -> CUresult {
    VGPU_SESSION_WITH_CONTEXT(s);
    if (CUresult r = priority_range(s); r != CUDA_SUCCESS) return r;
    if (leastPriority != nullptr) *leastPriority = s.st().least_priority;
    if (greatestPriority != nullptr) *greatestPriority = s.st().greatest_priority;
    return CUDA_SUCCESS;
  });
}

// --- PCI address and peers: a zone's devices never reach each other directly ----------------------------------

CUresult cuDeviceGetPCIBusId(char* pciBusId, int len, CUdevice dev) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    if (pciBusId == nullptr || len <= 0) return CUDA_ERROR_INVALID_VALUE;
    if (CUresult r = check_device(s.st(), dev); r != CUDA_SUCCESS) return r;
    const auto& a = s.st().devices[dev].attrs;
    char id[32];
    const int n = std::snprintf(id, sizeof id, "%04x:%02x:%02x.0", a[CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID],
                                a[CU_DEVICE_ATTRIBUTE_PCI_BUS_ID], a[CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID]);
    if (n < 0) return CUDA_ERROR_UNKNOWN;
    std::snprintf(pciBusId, static_cast<size_t>(len), "%s", id);  // truncated to len, as the driver does
    return CUDA_SUCCESS;
  });
}

CUresult cuDeviceGetByPCIBusId(CUdevice* dev, const char* pciBusId) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    if (dev == nullptr || pciBusId == nullptr) return CUDA_ERROR_INVALID_VALUE;
    // [domain:]bus:device.function, hexadecimal
    unsigned domain = 0, bus = 0, device = 0, function = 0;
    if (std::sscanf(pciBusId, "%x:%x:%x.%x", &domain, &bus, &device, &function) != 4) {
      domain = 0;
      if (std::sscanf(pciBusId, "%x:%x.%x", &bus, &device, &function) != 3) return CUDA_ERROR_INVALID_VALUE;
    }
    for (size_t i = 0; i < s.st().devices.size(); ++i) {
      const auto& a = s.st().devices[i].attrs;
      if (static_cast<unsigned>(a[CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID]) == domain &&
          static_cast<unsigned>(a[CU_DEVICE_ATTRIBUTE_PCI_BUS_ID]) == bus &&
          static_cast<unsigned>(a[CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID]) == device) {
        *dev = static_cast<CUdevice>(i);
        return CUDA_SUCCESS;
      }
    }
    return CUDA_ERROR_INVALID_DEVICE;
  });
}

CUresult cuDeviceCanAccessPeer(int* canAccessPeer, CUdevice dev, CUdevice peerDev) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    if (canAccessPeer == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (CUresult r = check_device(s.st(), dev); r != CUDA_SUCCESS) return r;
    if (CUresult r = check_device(s.st(), peerDev); r != CUDA_SUCCESS) return r;
    *canAccessPeer = 0;  // peer access is not offered to zones
    return CUDA_SUCCESS;
  });
}

CUresult cuDeviceGetP2PAttribute(int* value, CUdevice_P2PAttribute attrib, CUdevice srcDevice, CUdevice dstDevice) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
    const int a = raw(attrib);
    if (a < CU_DEVICE_P2P_ATTRIBUTE_PERFORMANCE_RANK || a > CU_DEVICE_P2P_ATTRIBUTE_CUDA_ARRAY_ACCESS_SUPPORTED)
      return CUDA_ERROR_INVALID_VALUE;
    if (CUresult r = check_device(s.st(), srcDevice); r != CUDA_SUCCESS) return r;
    if (CUresult r = check_device(s.st(), dstDevice); r != CUDA_SUCCESS) return r;
    if (srcDevice == dstDevice) return CUDA_ERROR_INVALID_DEVICE;
    *value = 0;  // no peer access between a zone's devices
    return CUDA_SUCCESS;
  });
}

CUresult cuCtxSynchronize(void) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    if (s.ctx() == 0) return CUDA_ERROR_INVALID_CONTEXT;
    return s.conn().call<Op::CtxSynchronize>(idm::CtxReq{s.ctx()});
  });
}

CUresult cuCtxGetLimit(size_t* pvalue, CUlimit limit) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    if (s.ctx() == 0) return CUDA_ERROR_INVALID_CONTEXT;
    if (pvalue == nullptr) return CUDA_ERROR_INVALID_VALUE;
    const int l = raw(limit);
    if (l < 0) return CUDA_ERROR_UNSUPPORTED_LIMIT;
    Reply rep;
    idm::CtxLimitReq req{s.ctx(), static_cast<uint32_t>(l), 0, 0};
    if (CUresult r = s.conn().call<Op::CtxGetLimit>(req, {}, &rep); r != CUDA_SUCCESS) return r;
    *pvalue = rep.fixed<idm::U64Rsp>().value;
    return CUDA_SUCCESS;
  });
}

CUresult cuCtxSetLimit(CUlimit limit, size_t value) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    if (s.ctx() == 0) return CUDA_ERROR_INVALID_CONTEXT;
    const int l = raw(limit);
    if (l < 0) return CUDA_ERROR_UNSUPPORTED_LIMIT;
    return s.conn().call<Op::CtxSetLimit>(idm::CtxLimitReq{s.ctx(), static_cast<uint32_t>(l), 0, value});
  });
}

CUresult cuCtxGetApiVersion(CUcontext ctx, unsigned int* version) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    if (version == nullptr) return CUDA_ERROR_INVALID_VALUE;
    const uint64_t h = ctx != nullptr ? wire(ctx) : s.ctx();
    if (h == 0) return CUDA_ERROR_INVALID_CONTEXT;
    Reply rep;
    if (CUresult r = s.conn().call<Op::CtxGetApiVersion>(idm::CtxReq{h}, {}, &rep); r != CUDA_SUCCESS) return r;
    *version = rep.fixed<idm::U32Rsp>().value;
    return CUDA_SUCCESS;
  });
}

CUresult cuCtxGetFlags(unsigned int* flags) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    if (s.ctx() == 0) return CUDA_ERROR_INVALID_CONTEXT;
    if (flags == nullptr) return CUDA_ERROR_INVALID_VALUE;
    Reply rep;
    if (CUresult r = s.conn().call<Op::CtxGetFlags>(idm::CtxReq{s.ctx()}, {}, &rep); r != CUDA_SUCCESS) return r;
    *flags = rep.fixed<idm::U32Rsp>().value;
    return CUDA_SUCCESS;
  });
}

}  // extern "C"

namespace xg::vgpu {

CUresult priority_range(Session& s) {
  if (s.st().priority_range_known) return CUDA_SUCCESS;
  Reply rep;
  if (CUresult r = s.conn().call<Op::CtxGetStreamPriorityRange>(idm::CtxReq{s.ctx()}, {}, &rep); r != CUDA_SUCCESS)
    return r;
  const auto p = rep.fixed<idm::PriorityRangeRsp>();
  s.st().least_priority = p.least;
  s.st().greatest_priority = p.greatest;
  s.st().priority_range_known = true;
  return CUDA_SUCCESS;
}

}  // namespace xg::vgpu
