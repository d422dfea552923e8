"""Rung c: cuda-python's driver bindings, as its examples use them: init, device query, primary context, memory,
copies, a PTX kernel (the PTX text is here, so no NVRTC is needed) launched and checked, events, a stream."""
import ctypes

from ladder_util import check, require, run

RUNG = "cuda_python"
(drv,) = require(RUNG, ("cuda.bindings.driver", "cuda.cuda"))

PTX = b"""
.version 7.8
.target sm_90
.address_size 64
.visible .entry vadd(.param .u64 p0, .param .u64 p1, .param .u64 p2, .param .u32 p3)
{
  .reg .pred %p<2>;
  .reg .f32 %f<4>;
  .reg .b32 %r<6>;
  .reg .b64 %rd<11>;
  ld.param.u64 %rd1, [p0];
  ld.param.u64 %rd2, [p1];
  ld.param.u64 %rd3, [p2];
  ld.param.u32 %r2, [p3];
  mov.u32 %r3, %ctaid.x;
  mov.u32 %r4, %ntid.x;
  mov.u32 %r5, %tid.x;
  mad.lo.s32 %r1, %r3, %r4, %r5;
  setp.ge.s32 %p1, %r1, %r2;
  @%p1 bra DONE;
  cvta.to.global.u64 %rd4, %rd1;
  mul.wide.s32 %rd5, %r1, 4;
  add.s64 %rd6, %rd4, %rd5;
  cvta.to.global.u64 %rd7, %rd2;
  add.s64 %rd8, %rd7, %rd5;
  ld.global.f32 %f1, [%rd8];
  ld.global.f32 %f2, [%rd6];
  fma.rn.f32 %f3, %f1, 0f40000000, %f2;
  cvta.to.global.u64 %rd9, %rd3;
  add.s64 %rd10, %rd9, %rd5;
  st.global.f32 [%rd10], %f3;
DONE:
  ret;
}
\0"""


def ck(result, what):
    """cuda-python returns (CUresult, values...): the values, or raise with the error's name."""
    err, rest = result[0], result[1:]
    if err != drv.CUresult.CUDA_SUCCESS:
        raise RuntimeError(f"{what}: {err!r}")
    return rest[0] if len(rest) == 1 else rest


def body():
    print("cuda-python module", drv.__name__, getattr(drv, "__file__", ""))
    ck(drv.cuInit(0), "cuInit")
    version = ck(drv.cuDriverGetVersion(), "cuDriverGetVersion")
    count = ck(drv.cuDeviceGetCount(), "cuDeviceGetCount")
    dev = ck(drv.cuDeviceGet(0), "cuDeviceGet")
    name = ck(drv.cuDeviceGetName(128, dev), "cuDeviceGetName").split(b"\0")[0].decode()
    A = drv.CUdevice_attribute
    major = ck(drv.cuDeviceGetAttribute(A.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev), "attr")
    minor = ck(drv.cuDeviceGetAttribute(A.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev), "attr")
    sms = ck(drv.cuDeviceGetAttribute(A.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev), "attr")
    total = ck(drv.cuDeviceTotalMem(dev), "cuDeviceTotalMem")
    print(f"driver {version}, {count} device(s), {name} sm_{major}{minor}, {sms} SMs, {total >> 20} MiB")
    check("device_name", name.replace(" ", "_"))
    check("compute_capability", f"{major}.{minor}")
    check("sms", sms)
    ctx = ck(drv.cuDevicePrimaryCtxRetain(dev), "cuDevicePrimaryCtxRetain")
    ck(drv.cuCtxSetCurrent(ctx), "cuCtxSetCurrent")
    free, total2 = ck(drv.cuMemGetInfo(), "cuMemGetInfo")
    print(f"cuMemGetInfo free {free >> 20} MiB of {total2 >> 20} MiB")

    mod = ck(drv.cuModuleLoadData(PTX), "cuModuleLoadData(PTX)")
    fn = ck(drv.cuModuleGetFunction(mod, b"vadd"), "cuModuleGetFunction")
    n = 1 << 20
    nbytes = n * 4
    FloatArray = ctypes.c_float * n
    a = FloatArray(*[float(i % 1000) for i in range(n)])
    b = FloatArray(*[float((i * 7) % 13) for i in range(n)])
    c = FloatArray()
    da = ck(drv.cuMemAlloc(nbytes), "cuMemAlloc")
    db = ck(drv.cuMemAlloc(nbytes), "cuMemAlloc")
    dc = ck(drv.cuMemAlloc(nbytes), "cuMemAlloc")
    stream = ck(drv.cuStreamCreate(0), "cuStreamCreate")
    start = ck(drv.cuEventCreate(0), "cuEventCreate")
    stop = ck(drv.cuEventCreate(0), "cuEventCreate")
    ck(drv.cuMemcpyHtoD(da, ctypes.addressof(a), nbytes), "cuMemcpyHtoD")
    ck(drv.cuMemcpyHtoDAsync(db, ctypes.addressof(b), nbytes, stream), "cuMemcpyHtoDAsync")
    ck(drv.cuMemsetD32(dc, 0, n), "cuMemsetD32")
    args = [ctypes.c_uint64(int(da)), ctypes.c_uint64(int(db)), ctypes.c_uint64(int(dc)), ctypes.c_int(n)]
    params = (ctypes.c_void_p * len(args))(*[ctypes.addressof(x) for x in args])
    ck(drv.cuEventRecord(start, stream), "cuEventRecord")
    ck(drv.cuLaunchKernel(fn, (n + 255) // 256, 1, 1, 256, 1, 1, 0, stream, ctypes.addressof(params), 0),
       "cuLaunchKernel")
    ck(drv.cuEventRecord(stop, stream), "cuEventRecord")
    ck(drv.cuStreamSynchronize(stream), "cuStreamSynchronize")
    # CUDA 13's bindings may name it cuEventElapsedTime_v2; the timing is informational.
    elapsed = getattr(drv, "cuEventElapsedTime", None) or getattr(drv, "cuEventElapsedTime_v2")
    ms = ck(elapsed(start, stop), "cuEventElapsedTime")
    ck(drv.cuMemcpyDtoH(ctypes.addressof(c), dc, nbytes), "cuMemcpyDtoH")
    bad = [i for i in range(n) if c[i] != a[i] + 2.0 * b[i]]
    total_sum = sum(c)
    print(f"kernel {ms:.3f} ms, {len(bad)} wrong elements")
    check("vadd_sum", float(total_sum))
    for p in (da, db, dc):
        ck(drv.cuMemFree(p), "cuMemFree")
    ck(drv.cuEventDestroy(start), "cuEventDestroy")
    ck(drv.cuEventDestroy(stop), "cuEventDestroy")
    ck(drv.cuStreamDestroy(stream), "cuStreamDestroy")
    ck(drv.cuModuleUnload(mod), "cuModuleUnload")
    ck(drv.cuDevicePrimaryCtxRelease(dev), "cuDevicePrimaryCtxRelease")
    return not bad


run(RUNG, body)
