// Streams and events. EventRecord and StreamWaitEvent are posts (their errors surface at the next synchronising
// call, as on the driver); handles this process never created or already destroyed are refused at once; NULL, CU_STREAM_LEGACY and CU_STREAM_PER_THREAD all name the legacy stream (state.h).
#include <algorithm>
#include <cstring>

#include "libvgpu/copy.h"
#include "libvgpu/state.h"

using namespace xg::vgpu;
using xg::idm::Op;
namespace idm = xg::idm;

namespace {

CUresult stream_create(CUstream* ph, unsigned flags, int priority) {
  VGPU_SESSION_WITH_CONTEXT(s);
  if (ph == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if ((flags & ~unsigned(CU_STREAM_NON_BLOCKING)) != 0) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = priority_range(s); r != CUDA_SUCCESS) return r;
  // The driver clamps a priority outside its range (a lower number is a higher priority).
  priority = std::max(std::min(priority, s.st().least_priority), s.st().greatest_priority);
  Reply rep;
  if (CUresult r = s.conn().call<Op::StreamCreate>(idm::StreamCreateReq{s.ctx(), flags, priority}, {}, &rep);
      r != CUDA_SUCCESS)
    return r;
  const uint64_t h = rep.fixed<idm::U64Rsp>().value;
  s.st().streams[h] = s.ctx();
  s.st().stream_props[h] = State::StreamProps{flags, priority};
  *ph = handle_of<CUstream>(h);
  return CUDA_SUCCESS;
}

}  // namespace

extern "C" {

CUresult cuStreamCreate(CUstream* phStream, unsigned int Flags) {
  return guard([&] { return stream_create(phStream, Flags, 0); });
}

CUresult cuStreamCreateWithPriority(CUstream* phStream, unsigned int flags, int priority) {
  return guard([&] { return stream_create(phStream, flags, priority); });
}

CUresult cuStreamDestroy_v2(CUstream hStream) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    if (wire_stream(hStream) == 0) return CUDA_ERROR_INVALID_HANDLE;  // the default streams are not destroyable
    CUresult r = s.conn().call<Op::StreamDestroy>(idm::HandleReq{wire_stream(hStream)});
    if (r == CUDA_SUCCESS || r == CUDA_ERROR_INVALID_HANDLE) {
      s.st().streams.erase(wire_stream(hStream));
      s.st().stream_props.erase(wire_stream(hStream));
    }
    return r;
  });
}

CUresult cuStreamSynchronize(CUstream hStream) {
  return guard([&]() -> CUresult {
    VGPU_SESSION_WITH_CONTEXT(s);
    return sync_stream(s, wire_stream(hStream));
  });
}

CUresult cuStreamQuery(CUstream hStream) {
  return guard([&]() -> CUresult {
    VGPU_SESSION_WITH_CONTEXT(s);
    return s.conn().call<Op::StreamQuery>(idm::StreamReq{s.ctx(), wire_stream(hStream)});
  });
}

CUresult cuStreamWaitEvent(CUstream hStream, CUevent hEvent, unsigned int Flags) {
  return guard([&]() -> CUresult {
    VGPU_SESSION_WITH_CONTEXT(s);
    if (!s.st().events.contains(wire(hEvent)) || !s.st().live_stream(wire_stream(hStream))) return CUDA_ERROR_INVALID_HANDLE;
    if ((Flags & ~unsigned(CU_EVENT_WAIT_EXTERNAL)) != 0) return CUDA_ERROR_INVALID_VALUE;
    return s.conn().post<Op::StreamWaitEvent>(idm::StreamWaitEventReq{wire_stream(hStream), wire(hEvent), Flags, 0});
  });
}

CUresult cuEventCreate(CUevent* phEvent, unsigned int Flags) {
  return guard([&]() -> CUresult {
    VGPU_SESSION_WITH_CONTEXT(s);
    if (phEvent == nullptr) return CUDA_ERROR_INVALID_VALUE;
    constexpr unsigned kKnown = CU_EVENT_BLOCKING_SYNC | CU_EVENT_DISABLE_TIMING | CU_EVENT_INTERPROCESS;
    if ((Flags & ~kKnown) != 0) return CUDA_ERROR_INVALID_VALUE;
    Reply rep;
    if (CUresult r = s.conn().call<Op::EventCreate>(idm::EventCreateReq{s.ctx(), Flags, 0}, {}, &rep);
        r != CUDA_SUCCESS)
      return r;
    const uint64_t h = rep.fixed<idm::U64Rsp>().value;
    s.st().events[h] = s.ctx();
    *phEvent = handle_of<CUevent>(h);
    return CUDA_SUCCESS;
  });
}

CUresult cuEventRecord(CUevent hEvent, CUstream hStream) {
  return guard([&]() -> CUresult {
    VGPU_SESSION_WITH_CONTEXT(s);
    if (!s.st().events.contains(wire(hEvent)) || !s.st().live_stream(wire_stream(hStream))) return CUDA_ERROR_INVALID_HANDLE;
    return s.conn().post<Op::EventRecord>(idm::EventRecordReq{wire(hEvent), wire_stream(hStream)});
  });
}

CUresult cuEventSynchronize(CUevent hEvent) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    if (hEvent == nullptr) return CUDA_ERROR_INVALID_HANDLE;
    return s.conn().call<Op::EventSynchronize>(idm::HandleReq{wire(hEvent)});
  });
}

CUresult cuEventQuery(CUevent hEvent) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    if (hEvent == nullptr) return CUDA_ERROR_INVALID_HANDLE;
    return s.conn().call<Op::EventQuery>(idm::HandleReq{wire(hEvent)});
  });
}

CUresult cuEventElapsedTime(float* pMilliseconds, CUevent hStart, CUevent hEnd) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    if (pMilliseconds == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (hStart == nullptr || hEnd == nullptr) return CUDA_ERROR_INVALID_HANDLE;
    Reply rep;
    if (CUresult r = s.conn().call<Op::EventElapsedTime>(idm::EventPairReq{wire(hStart), wire(hEnd)}, {}, &rep);
        r != CUDA_SUCCESS)
      return r;
    const uint32_t bits = rep.fixed<idm::FloatRsp>().bits;
    std::memcpy(pMilliseconds, &bits, sizeof bits);
    return CUDA_SUCCESS;
  });
}

CUresult cuEventElapsedTime_v2(float* pMilliseconds, CUevent hStart, CUevent hEnd) {
  return cuEventElapsedTime(pMilliseconds, hStart, hEnd);
}

CUresult cuStreamGetCtx(CUstream hStream, CUcontext* pctx) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
    const uint64_t stream = wire_stream(hStream);
    if (stream == 0) {  // a default stream belongs to the current context
      if (s.ctx() == 0) return CUDA_ERROR_INVALID_CONTEXT;
      *pctx = handle_of<CUcontext>(s.ctx());
      return CUDA_SUCCESS;
    }
    auto it = s.st().streams.find(stream);
    if (it == s.st().streams.end()) return CUDA_ERROR_INVALID_HANDLE;
    *pctx = handle_of<CUcontext>(it->second);
    return CUDA_SUCCESS;
  });
}

CUresult cuStreamGetCtx_v2(CUstream hStream, CUcontext* pctx, CUgreenCtx* pGreenCtx) {
  if (pGreenCtx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const CUresult r = cuStreamGetCtx(hStream, pctx);
  if (r == CUDA_SUCCESS) *pGreenCtx = nullptr;  // zones have no green contexts
  return r;
}

CUresult cuStreamGetPriority(CUstream hStream, int* priority) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    if (priority == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (CUresult r = check_stream(s, hStream); r != CUDA_SUCCESS) return r;
    auto it = s.st().stream_props.find(wire_stream(hStream));
    *priority = it == s.st().stream_props.end() ? 0 : it->second.priority;  // default streams: priority 0
    return CUDA_SUCCESS;
  });
}

CUresult cuStreamGetFlags(CUstream hStream, unsigned int* flags) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    if (flags == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (CUresult r = check_stream(s, hStream); r != CUDA_SUCCESS) return r;
    auto it = s.st().stream_props.find(wire_stream(hStream));
    *flags = it == s.st().stream_props.end() ? 0 : it->second.flags;
    return CUDA_SUCCESS;
  });
}

// A created stream's ID is its handle (never reused within a process: handles carry a generation); the default
// streams, all one stream here, are 0.
CUresult cuStreamGetId(CUstream hStream, unsigned long long* streamId) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    if (streamId == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (CUresult r = check_stream(s, hStream); r != CUDA_SUCCESS) return r;
    *streamId = wire_stream(hStream);
    return CUDA_SUCCESS;
  });
}

CUresult cuStreamGetDevice(CUstream hStream, CUdevice* device) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (CUresult r = check_stream(s, hStream); r != CUDA_SUCCESS) return r;
    const uint64_t ctx = wire_stream(hStream) == 0 ? s.ctx() : s.st().streams[wire_stream(hStream)];
    auto it = s.st().contexts.find(ctx);
    if (it == s.st().contexts.end()) return CUDA_ERROR_INVALID_CONTEXT;
    *device = it->second;
    return CUDA_SUCCESS;
  });
}

CUresult cuEventDestroy_v2(CUevent hEvent) {
  return guard([&]() -> CUresult {
    Session s;
    if (s.status() != CUDA_SUCCESS) return s.status();
    if (hEvent == nullptr) return CUDA_ERROR_INVALID_HANDLE;
    CUresult r = s.conn().call<Op::EventDestroy>(idm::HandleReq{wire(hEvent)});
    if (r == CUDA_SUCCESS || r == CUDA_ERROR_INVALID_HANDLE) s.st().events.erase(wire(hEvent));
    return r;
  });
}

}  // extern "C"
