// Stream capture (CUDA graphs) is not offered to zones: cuStreamBeginCapture answers CUDA_ERROR_NOT_SUPPORTED, so
// no stream of a zone is ever capturing, and the queries that libraries make before every allocation or launch
// (PyTorch's caching allocator, CuPy) answer exactly that. The thread's capture mode is kept, as the driver keeps
// it, so a library that swaps it and back sees its own value.
#include <cstdio>
#include <mutex>

#include "libvgpu/state.h"

using namespace xg::vgpu;

namespace {

CUresult not_capturing(CUstream hStream, CUstreamCaptureStatus* status) {
  Session s;
  if (s.status() != CUDA_SUCCESS) return s.status();
  if (status == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_stream(s, hStream); r != CUDA_SUCCESS) return r;
  *status = CU_STREAM_CAPTURE_STATUS_NONE;
  return CUDA_SUCCESS;
}

CUresult capture_info(CUstream hStream, CUstreamCaptureStatus* status, cuuint64_t* id, CUgraph* graph,
                      const CUgraphNode** deps, const CUgraphEdgeData** edges, size_t* num_deps) {
  if (CUresult r = not_capturing(hStream, status); r != CUDA_SUCCESS) return r;
  // Outputs other than the status are defined only while capturing; they are cleared rather than left stale.
  if (id != nullptr) *id = 0;
  if (graph != nullptr) *graph = nullptr;
  if (deps != nullptr) *deps = nullptr;
  if (edges != nullptr) *edges = nullptr;
  if (num_deps != nullptr) *num_deps = 0;
  return CUDA_SUCCESS;
}

CUresult refuse_capture() {
  static std::once_flag once;
  std::call_once(once, [] {
    std::fprintf(stderr, "libvgpu: stream capture (CUDA graphs) is not supported in zones (CUDA_ERROR_NOT_SUPPORTED)\n");
  });
  return CUDA_ERROR_NOT_SUPPORTED;
}

thread_local CUstreamCaptureMode t_capture_mode = CU_STREAM_CAPTURE_MODE_GLOBAL;

}  // namespace

extern "C" {

CUresult cuStreamIsCapturing(CUstream hStream, CUstreamCaptureStatus* captureStatus) {
  return guard([&] { return not_capturing(hStream, captureStatus); });
}

CUresult cuStreamGetCaptureInfo(CUstream hStream, CUstreamCaptureStatus* status, cuuint64_t* id) {
  return guard([&] { return capture_info(hStream, status, id, nullptr, nullptr, nullptr, nullptr); });
}

CUresult cuStreamGetCaptureInfo_v2(CUstream hStream, CUstreamCaptureStatus* status, cuuint64_t* id, CUgraph* graph,
                                   const CUgraphNode** deps, size_t* num_deps) {
  return guard([&] { return capture_info(hStream, status, id, graph, deps, nullptr, num_deps); });
}

CUresult cuStreamGetCaptureInfo_v3(CUstream hStream, CUstreamCaptureStatus* status, cuuint64_t* id, CUgraph* graph,
                                   const CUgraphNode** deps, const CUgraphEdgeData** edges, size_t* num_deps) {
  return guard([&] { return capture_info(hStream, status, id, graph, deps, edges, num_deps); });
}

CUresult cuStreamBeginCapture(CUstream) {
  return guard([&] { return refuse_capture(); });
}

CUresult cuStreamBeginCapture_v2(CUstream, CUstreamCaptureMode) {
  return guard([&] { return refuse_capture(); });
}

// No stream is ever capturing, so ending a capture is always out of place.
CUresult cuStreamEndCapture(CUstream hStream, CUgraph* phGraph) {
  return guard([&]() -> CUresult {
    CUstreamCaptureStatus status;
    if (CUresult r = not_capturing(hStream, &status); r != CUDA_SUCCESS) return r;
    if (phGraph == nullptr) return CUDA_ERROR_INVALID_VALUE;
    return CUDA_ERROR_ILLEGAL_STATE;
  });
}

CUresult cuThreadExchangeStreamCaptureMode(CUstreamCaptureMode* mode) {
  return guard([&]() -> CUresult {
    if (mode == nullptr) return CUDA_ERROR_INVALID_VALUE;
    const int m = raw(*mode);
    if (m < CU_STREAM_CAPTURE_MODE_GLOBAL || m > CU_STREAM_CAPTURE_MODE_RELAXED) return CUDA_ERROR_INVALID_VALUE;
    const CUstreamCaptureMode previous = t_capture_mode;
    t_capture_mode = static_cast<CUstreamCaptureMode>(m);
    *mode = previous;
    return CUDA_SUCCESS;
  });
}

}  // extern "C"
