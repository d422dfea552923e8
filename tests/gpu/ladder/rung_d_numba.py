"""Rung d: numba-cuda @cuda.jit kernels: a vector add, a shared-memory block reduction, atomics."""
import math

from ladder_util import check, require, run

RUNG = "numba"
np, numba_cuda = require(RUNG, "numpy", "numba.cuda")
cuda = numba_cuda
from numba import float64  # noqa: E402 (after the SKIP check)


@cuda.jit
def vadd(a, b, out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = a[i] + b[i]


THREADS = 256


@cuda.jit
def block_sum(x, partial):
    s = cuda.shared.array(THREADS, dtype=float64)
    tid = cuda.threadIdx.x
    i = cuda.grid(1)
    s[tid] = x[i] if i < x.size else 0.0
    cuda.syncthreads()
    step = THREADS // 2
    while step > 0:
        if tid < step:
            s[tid] += s[tid + step]
        cuda.syncthreads()
        step //= 2
    if tid == 0:
        partial[cuda.blockIdx.x] = s[0]


@cuda.jit
def histogram(x, bins):
    i = cuda.grid(1)
    if i < x.size:
        cuda.atomic.add(bins, x[i] % bins.size, 1)


def body():
    import numba
    print("numba", numba.__version__)
    if not cuda.is_available():
        raise RuntimeError("numba.cuda.is_available() is False")
    dev = cuda.get_current_device()
    print("device", dev.name, dev.compute_capability)
    n = 1 << 20
    a = np.arange(n, dtype=np.float32)
    b = (np.arange(n, dtype=np.float32) * 3) % 17
    d_out = cuda.device_array(n, dtype=np.float32)
    vadd[(n + THREADS - 1) // THREADS, THREADS](cuda.to_device(a), cuda.to_device(b), d_out)
    out = d_out.copy_to_host()
    ok_add = np.array_equal(out, a + b)
    check("vadd_sum", float(out.astype(np.float64).sum()))

    x = np.linspace(-1.0, 1.0, n) ** 3 + 0.25
    blocks = (n + THREADS - 1) // THREADS
    d_partial = cuda.device_array(blocks, dtype=np.float64)
    block_sum[blocks, THREADS](cuda.to_device(x), d_partial)
    total = float(d_partial.copy_to_host().sum())
    ok_sum = math.isclose(total, float(x.sum()), rel_tol=1e-9)
    check("block_sum", total)

    v = (np.arange(n, dtype=np.int32) * 7919) % 100003
    d_bins = cuda.to_device(np.zeros(64, dtype=np.int32))
    histogram[blocks, THREADS](cuda.to_device(v), d_bins)
    bins = d_bins.copy_to_host()
    expected = np.bincount(v % 64, minlength=64).astype(np.int32)
    ok_atomic = np.array_equal(bins, expected)
    check("histogram", ",".join(str(int(k)) for k in bins[:8]))
    cuda.synchronize()
    print(f"vadd {ok_add}, block sum {total} ({ok_sum}), atomics {ok_atomic}")
    return ok_add and ok_sum and ok_atomic


run(RUNG, body)
