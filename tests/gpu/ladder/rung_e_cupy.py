"""Rung e: CuPy: elementwise (an ElementwiseKernel and ufuncs, compiled by NVRTC), a reduction, a RawKernel, and a
cuBLAS matmul of float32 matrices compared with NumPy."""
from ladder_util import check, require, run

RUNG = "cupy"
np, cp = require(RUNG, "numpy", "cupy")


def body():
    print("cupy", cp.__version__, "runtime", cp.cuda.runtime.runtimeGetVersion(),
          "driver", cp.cuda.runtime.driverGetVersion())
    props = cp.cuda.runtime.getDeviceProperties(0)
    print("device", props["name"].decode(), "cc", props["major"], props["minor"])
    n = 1 << 20
    x = cp.arange(n, dtype=cp.float32)
    y = x * 2 + 1
    ok_ew = bool(cp.all(y == cp.asarray(np.arange(n, dtype=np.float32) * 2 + 1)))
    axpb = cp.ElementwiseKernel("float32 x, float32 a, float32 b", "float32 z", "z = a * x + b", "axpb")
    z = axpb(x, cp.float32(0.5), cp.float32(-3))
    ok_ek = bool(cp.allclose(z, x * 0.5 - 3))
    check("elementwise_sum", float(y.sum(dtype=cp.float64)))

    v = cp.sin(cp.arange(n, dtype=cp.float64) * 1e-3)
    s = float(v.sum())
    ok_red = abs(s - float(np.sin(np.arange(n, dtype=np.float64) * 1e-3).sum())) < 1e-6 * max(1.0, abs(s))
    check("reduction_sum", s)
    check("reduction_max", float(v.max()))

    raw = cp.RawKernel(r'''
    extern "C" __global__ void square(const int* in, long long* out, int n) {
      int i = blockIdx.x * blockDim.x + threadIdx.x;
      if (i < n) atomicAdd((unsigned long long*)out, (unsigned long long)((long long)in[i] * in[i]));
    }''', "square")
    ints = cp.arange(4096, dtype=cp.int32)
    acc = cp.zeros(1, dtype=cp.int64)
    raw((16,), (256,), (ints, acc, cp.int32(4096)))
    ok_raw = int(acc[0]) == sum(i * i for i in range(4096))
    check("raw_kernel", int(acc[0]))

    rng = np.random.default_rng(1234)
    a = rng.standard_normal((512, 384), dtype=np.float32)
    b = rng.standard_normal((384, 256), dtype=np.float32)
    c = cp.matmul(cp.asarray(a), cp.asarray(b))
    ref = a.astype(np.float64) @ b.astype(np.float64)
    err = float(np.max(np.abs(cp.asnumpy(c) - ref)))
    ok_mm = err < 1e-2
    check("matmul_sum", float(c.sum(dtype=cp.float64)))
    cp.cuda.Device(0).synchronize()
    print(f"elementwise {ok_ew}/{ok_ek}, reduction {ok_red}, raw kernel {ok_raw}, matmul max error {err:.2e}")
    return ok_ew and ok_ek and ok_red and ok_raw and ok_mm


run(RUNG, body)
