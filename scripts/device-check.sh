#!/usr/bin/env bash
# device-check.sh: everything a session on a GPU machine runs, in one go, with its logs under $OUT (or ./device-out).
#   1. what the machine is (GPU, driver, kernel, OS, where libcuda.so.1 is)
#   2. the build: build/release when it was carried there (made by `scripts/device-check.sh --prepare` on a Debian
#      12 machine with the build dependencies; the device image has none of Debian's -dev packages and no network),
#      else a fresh Release build there
#   3. the `gpu` tests (every driver-API program natively and in zones, cubin and PTX; the workers' system-call
#      filter with the real driver)
#   4. `gpu_bench` (make bench-gpu): native and ours in one run, JSON table
#   5. the rest of the CTest suite on that machine (unit and integration; the Xen-under-QEMU and image jobs need
#      packages the device image lacks and are left out there, named in the log)
# Usage: scripts/device-check.sh [--prepare] [--quick | --gpu-tests-only]
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
B=build/release
if [ "${1:-}" = --prepare ]; then
  # Here (Debian 12 with the build dependencies): the Release build, nvcc's modules included, plus the few Debian
  # libraries it links that the device image lacks (Xen's), so that `carry: ["build/release"]` is all it needs.
  make release || exit 1
  mkdir -p $B/deplibs
  for f in $B/gpu-proxy/gpu-proxy $B/libvgpu/libcuda.so.1; do ldd "$f" | awk '/=> \// { print $3 }'; done |
    grep -E '/libxen' | sort -u | xargs -r cp -L -t $B/deplibs
  ls $B/deplibs
  echo "prepared $B ($(du -sh $B | cut -f1)); the source root baked into its CTest files is $ROOT"
  exit 0
fi
QUICK="" ONLY_TESTS=0
[ "${1:-}" = --quick ] && QUICK=--quick
[ "${1:-}" = --gpu-tests-only ] && ONLY_TESTS=1  # steps 1-3: a short call that leaves device time for more
OUT=${OUT:-$ROOT/device-out}
mkdir -p "$OUT"
exec > >(tee "$OUT/device-check.log") 2>&1
step() { echo; echo "=== $* ($(date -u +%H:%M:%S))"; }

step "1. machine"
nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv 2>&1
head -1 /proc/driver/nvidia/version 2>&1
uname -r; grep PRETTY_NAME /etc/os-release; nproc; ldd --version | head -1
echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
ldconfig -p | grep -E 'libcuda\.so' || echo "(no libcuda in the loader cache)"
ls -la /dev/nvidia* 2>&1 | head
command -v nvcc cmake ninja

step "2. build"
if [ -x $B/bench/gpu_bench ]; then
  src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' $B/CMakeCache.txt)
  if [ -n "$src" ] && [ "$src" != "$ROOT" ] && [ ! -e "$src" ]; then
    mkdir -p "$(dirname "$src")" && ln -s "$ROOT" "$src" && echo "linked $src -> $ROOT (paths in the carried build)"
  fi
  export LD_LIBRARY_PATH=${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$ROOT/$B/deplibs
  # CTest files name the cmake that configured them (/usr/bin/cmake); the device image has it elsewhere.
  [ -e /usr/bin/cmake ] || ln -s "$(command -v cmake)" /usr/bin/cmake
  echo "using the carried build $B"
else
  cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=Release && cmake --build $B -j "$(nproc)" || {
    echo "build failed"; exit 1; }
fi
$B/gpu-proxy/gpu-proxy --help >/dev/null 2>&1 || { echo "gpu-proxy does not run here:"; ldd $B/gpu-proxy/gpu-proxy; exit 1; }
$B/bench/gpu_bench_probe info

step "3. gpu tests"
(cd $B && timeout 120 ctest -L gpu --output-on-failure -V) > "$OUT/gpu-tests.log" 2>&1
echo "gpu tests exit $?"; grep -E "^(PASS|FAIL|SKIP)|passed, .* failed|tests passed" "$OUT/gpu-tests.log"

[ $ONLY_TESTS = 1 ] && { step "done (gpu tests only)"; exit 0; }

step "4. gpu_bench"
timeout 180 $B/bench/gpu_bench --runs 3 $QUICK --json "$OUT/gpu-bench.json"
echo "gpu_bench exit $?"

step "5. the rest of the suite (unit, integration; not xen, image, fuzz)"
(cd $B && timeout 90 ctest -j "$(nproc)" -LE 'xen|image|gpu|fuzz' --output-on-failure) > "$OUT/ctest.log" 2>&1
echo "ctest exit $?"; tail -15 "$OUT/ctest.log"

step "6. real CUDA clients in a zone (informational: what the first missing piece is)"
proxy_dir=$(mktemp -d)
$B/gpu-proxy/gpu-proxy --driver real --socket $proxy_dir/z.sock --admin-socket $proxy_dir/a.sock 2>$proxy_dir/log &
pp=$!
sleep 1
zone() { timeout 20 $B/gpu-proxy/xen-gpu --socket $proxy_dir/z.sock --admin-socket $proxy_dir/a.sock run --quota 4GiB -- "$@" 2>&1 | tail -8; }
echo "--- cuda-python (driver bindings)"
zone python3 -c '
from cuda.bindings import driver as d
print("cuInit", d.cuInit(0)); e, dev = d.cuDeviceGet(0); print("name", d.cuDeviceGetName(64, dev))
e, ctx = d.cuDevicePrimaryCtxRetain(dev); print("retain", e, d.cuCtxSetCurrent(ctx))
e, p = d.cuMemAlloc(1 << 20); print("alloc", e, d.cuMemFree(p)); print("meminfo", d.cuMemGetInfo())'
echo "--- CuPy"; zone python3 -c 'import cupy; print(int(cupy.arange(1000).sum()))'
echo "--- PyTorch"; zone python3 -c 'import torch; print(torch.cuda.is_available()); print((torch.ones(4, device="cuda") * 2).sum().item())'
kill $pp; wait $pp; grep -iE "not supported|unknown|refus|export" $proxy_dir/log | sort | uniq -c | sort -rn | head -20
step "done"
