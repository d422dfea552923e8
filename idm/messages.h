// THE table: every IDM message, once. Columns:
//   name, opcode, kind (kCall | kPost | kControl),
//   effect on the driver (kPlain; kSyncs: a synchronising call, where errors of earlier posts are reported;
//     kGpu: submits GPU work, gated by the time slicer; kSyncsGpu: both),
//   request payload, response payload (Empty for none),
//   bound on the request tail, bound on the response tail (bytes; 0 = no tail allowed).
// Adding an opcode: declare its structs (padding-free) in messages_*.h, add a row, add a handler in the proxy's
// dispatch (the compiler lists the missing ones), add malformed cases under idm/testdata/malformed/.
#pragma once

#include "idm/messages_core.h"
#include "idm/messages_cuda.h"
#include "idm/messages_zonectl.h"

#define IDM_CORE_MESSAGES(X)                                             \
  X(Hello, 0x0001, kControl, kPlain, HelloReq, WelcomeRsp, kMaxZoneName, 0)      \
  X(Ping, 0x0010, kCall, kPlain, PingReq, PingRsp, 0, 0)                         \
  X(Echo, 0x0011, kCall, kPlain, EchoReq, EchoRsp, kMaxEchoTail, kMaxEchoTail)   \
  X(Nop, 0x0012, kPost, kPlain, NopPost, Empty, 0, 0)                            \
  X(BulkPut, 0x0013, kCall, kPlain, BulkPutReq, BulkPutRsp, 0, 0)                \
  X(ZoneInfo, 0x0020, kCall, kPlain, ZoneInfoReq, ZoneInfoRsp, 0, kMaxZonePrograms * sizeof(ZoneProgramInfo))

// Small copies travel in tails up to this size; larger ones go through the data area.
#define IDM_INLINE_COPY 4096u

#define IDM_CUDA_MESSAGES(X)                                                                            \
  X(Init, 0x0100, kCall, kPlain, InitReq, InitRsp, 0, 0)                                                        \
  X(DeviceInfo, 0x0101, kCall, kPlain, DeviceInfoReq, DeviceInfoRsp, 0, 4 * kMaxDeviceAttribute)                \
  X(PrimaryCtxRetain, 0x0110, kCall, kPlain, DeviceOnlyReq, CtxRsp, 0, 0)                                       \
  X(PrimaryCtxRelease, 0x0111, kCall, kPlain, DeviceOnlyReq, Empty, 0, 0)                                       \
  X(PrimaryCtxReset, 0x0112, kCall, kPlain, DeviceOnlyReq, Empty, 0, 0)                                         \
  X(PrimaryCtxGetState, 0x0113, kCall, kPlain, DeviceOnlyReq, PrimaryCtxStateRsp, 0, 0)                         \
  X(PrimaryCtxSetFlags, 0x0114, kCall, kPlain, DeviceOnlyReq, Empty, 0, 0)                                      \
  X(PrimaryCtxHandle, 0x0115, kCall, kPlain, DeviceOnlyReq, CtxRsp, 0, 0)                                       \
  X(CtxCreate, 0x0120, kCall, kPlain, CtxCreateReq, CtxRsp, 0, 0)                                               \
  X(CtxDestroy, 0x0121, kCall, kPlain, CtxReq, Empty, 0, 0)                                                     \
  X(CtxSynchronize, 0x0122, kCall, kSyncs, CtxReq, Empty, 0, 0)                                                 \
  X(CtxGetLimit, 0x0123, kCall, kPlain, CtxLimitReq, U64Rsp, 0, 0)                                              \
  X(CtxSetLimit, 0x0124, kCall, kPlain, CtxLimitReq, Empty, 0, 0)                                               \
  X(CtxGetApiVersion, 0x0125, kCall, kPlain, CtxReq, U32Rsp, 0, 0)                                              \
  X(CtxGetFlags, 0x0126, kCall, kPlain, CtxReq, U32Rsp, 0, 0)                                                   \
  X(CtxGetStreamPriorityRange, 0x0127, kCall, kPlain, CtxReq, PriorityRangeRsp, 0, 0)                          \
  X(MemAlloc, 0x0130, kCall, kPlain, MemAllocReq, U64Rsp, 0, 0)                                                 \
  X(MemAllocPitch, 0x0131, kCall, kPlain, MemAllocPitchReq, MemPitchRsp, 0, 0)                                  \
  X(MemFree, 0x0132, kCall, kPlain, PtrReq, Empty, 0, 0)                                                        \
  X(MemGetInfo, 0x0133, kCall, kPlain, CtxReq, MemInfoRsp, 0, 0)                                                \
  X(MemGetAddressRange, 0x0134, kCall, kPlain, PtrReq, RangeRsp, 0, 0)                                          \
  X(MemHostAlloc, 0x0135, kCall, kPlain, MemHostAllocReq, MemHostAllocRsp, 4 * kMaxLendDirPages, 0)                                \
  X(MemFreeHost, 0x0136, kCall, kPlain, HandleReq, Empty, 0, 0)                                                 \
  X(MemcpyHtoD, 0x0140, kCall, kSyncsGpu, MemcpyHtoDReq, Empty, IDM_INLINE_COPY, 0)                                \
  X(MemcpyHtoDAsync, 0x0141, kPost, kGpu, MemcpyHtoDReq, Empty, IDM_INLINE_COPY, 0)                           \
  X(MemcpyDtoH, 0x0142, kCall, kSyncsGpu, MemcpyDtoHReq, Empty, 0, IDM_INLINE_COPY)                                \
  X(MemcpyDtoHAsync, 0x0143, kPost, kGpu, MemcpyDtoHReq, Empty, 0, 0)                                         \
  X(MemcpyDtoD, 0x0144, kCall, kSyncsGpu, MemcpyDtoDReq, Empty, 0, 0)                                              \
  X(MemcpyDtoDAsync, 0x0145, kPost, kGpu, MemcpyDtoDReq, Empty, 0, 0)                                         \
  X(Memcpy2D, 0x0146, kCall, kSyncsGpu, Memcpy2DReq, Empty, 0, 0)                                                  \
  X(Memcpy2DAsync, 0x0147, kPost, kGpu, Memcpy2DReq, Empty, 0, 0)                                             \
  X(Memset, 0x0148, kCall, kSyncsGpu, MemsetReq, Empty, 0, 0)                                                      \
  X(MemsetAsync, 0x0149, kPost, kGpu, MemsetReq, Empty, 0, 0)                                                 \
  X(BlobPut, 0x0150, kCall, kPlain, BlobPutReq, Empty, 0, 0)                                                    \
  X(ModuleLoad, 0x0151, kCall, kPlain, ModuleLoadReq, U64Rsp, 0, 0)                                             \
  X(ModuleUnload, 0x0152, kCall, kPlain, HandleReq, Empty, 0, 0)                                                \
  X(ModuleGetFunction, 0x0153, kCall, kPlain, NamedReq, FunctionRsp, kMaxSymbolName, 8 * kMaxKernelParams)      \
  X(ModuleGetGlobal, 0x0154, kCall, kPlain, NamedReq, GlobalRsp, kMaxSymbolName, 0)                             \
  X(LibraryUnload, 0x0155, kCall, kPlain, HandleReq, Empty, 0, 0)                                               \
  X(LibraryGetKernel, 0x0156, kCall, kPlain, NamedReq, U64Rsp, kMaxSymbolName, 0)                               \
  X(KernelGetFunction, 0x0157, kCall, kPlain, CtxHandleReq, FunctionRsp, 0, 8 * kMaxKernelParams)                  \
  X(FuncGetAttribute, 0x0158, kCall, kPlain, FuncAttrReq, I32Rsp, 0, 0)                                         \
  X(FuncSetAttribute, 0x0159, kCall, kPlain, FuncAttrReq, Empty, 0, 0)                                          \
  X(LibraryGetModule, 0x015A, kCall, kPlain, CtxHandleReq, U64Rsp, 0, 0)                                         \
  X(LaunchKernel, 0x0160, kPost, kGpu, LaunchReq, Empty, kMaxLaunchAttrs * kLaunchAttrBytes + kMaxParamBytes, 0) \
  X(OccupancyMaxActiveBlocks, 0x0161, kCall, kPlain, OccupancyReq, OccupancyRsp, 0, 0)                          \
  X(OccupancyMaxPotentialBlockSize, 0x0162, kCall, kPlain, OccupancyReq, OccupancyRsp, 0, 0)                    \
  X(StreamCreate, 0x0170, kCall, kPlain, StreamCreateReq, U64Rsp, 0, 0)                                         \
  X(StreamDestroy, 0x0171, kCall, kPlain, HandleReq, Empty, 0, 0)                                               \
  X(StreamSynchronize, 0x0172, kCall, kSyncs, StreamReq, Empty, 0, 0)                                           \
  X(StreamQuery, 0x0173, kCall, kSyncs, StreamReq, Empty, 0, 0)                                                    \
  X(StreamWaitEvent, 0x0174, kPost, kPlain, StreamWaitEventReq, Empty, 0, 0)                                    \
  X(EventCreate, 0x0180, kCall, kPlain, EventCreateReq, U64Rsp, 0, 0)                                           \
  X(EventRecord, 0x0181, kPost, kPlain, EventRecordReq, Empty, 0, 0)                                            \
  X(EventSynchronize, 0x0182, kCall, kSyncs, HandleReq, Empty, 0, 0)                                            \
  X(EventQuery, 0x0183, kCall, kSyncs, HandleReq, Empty, 0, 0)                                                  \
  X(EventElapsedTime, 0x0184, kCall, kPlain, EventPairReq, FloatRsp, 0, 0)                                      \
  X(EventDestroy, 0x0185, kCall, kPlain, HandleReq, Empty, 0, 0)                                                \
  X(PointerGetAttribute, 0x0190, kCall, kPlain, PointerAttrReq, PointerAttrRsp, 0, 0)

// The zone control channel (messages_zonectl.h): the CRI shim calls, a pod zone's init answers. Never served by
// a gpu-proxy worker (it answers them CUDA_ERROR_NOT_SUPPORTED); failures carry an errno.
#define IDM_ZONECTL_MESSAGES(X)                                                                   \
  X(CtlHello, 0x0200, kCall, kPlain, CtlHelloReq, CtlHelloRsp, 0, 0)                                    \
  X(CtlStart, 0x0201, kCall, kPlain, CtlStartReq, CtlStartRsp, kMaxCtlStartTail, 0)                     \
  X(CtlSignal, 0x0202, kCall, kPlain, CtlSignalReq, Empty, 0, 0)                                        \
  X(CtlStdin, 0x0203, kCall, kPlain, CtlStdinReq, Empty, kMaxCtlChunk, 0)                               \
  X(CtlPoll, 0x0204, kCall, kPlain, CtlPollReq, CtlPollRsp, 0, kMaxCtlPollTail)                         \
  X(CtlPids, 0x0205, kCall, kPlain, CtlProcReq, CtlPidsRsp, 0, 4 * kMaxCtlPids)                         \
  X(CtlRemove, 0x0206, kCall, kPlain, CtlProcReq, Empty, 0, 0)                                          \
  X(CtlShutdown, 0x0207, kCall, kPlain, CtlShutdownReq, Empty, 0, 0)                                   \
  X(CtlStats, 0x0208, kCall, kPlain, CtlProcReq, CtlStatsRsp, 0, 0)                                     \
  X(CtlResize, 0x0209, kCall, kPlain, CtlResizeReq, Empty, 0, 0)                                       \
  X(CtlUpdate, 0x020a, kCall, kPlain, CtlUpdateReq, Empty, 0, 0)                                       \
  X(CtlFreeze, 0x020b, kCall, kPlain, CtlFreezeReq, Empty, 0, 0)

#define IDM_MESSAGES(X) IDM_CORE_MESSAGES(X) IDM_CUDA_MESSAGES(X) IDM_ZONECTL_MESSAGES(X)
