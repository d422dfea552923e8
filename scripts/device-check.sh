#!/usr/bin/env bash
# device-check.sh: everything a session on a GPU machine runs, in one go, with its logs under $OUT (or ./device-out).
#   1. what the machine is (GPU, driver, kernel, OS, where libcuda.so.1 is)
#   2. the build: build/release when it was carried there (made by `scripts/device-check.sh --prepare` on a Debian
#      12 machine with the build dependencies; the device image has none of Debian's -dev packages and no network),
#      else a fresh Release build there
#   3. the `gpu` tests (every driver-API program natively and in zones, cubin and PTX; the workers' system-call
#      filter with the real driver)
#   4. the driver's facts (tests/gpu/driver_facts: cuGetProcAddress_v2 at every version against
#      cuda/entry_points.h, cuGetExportTable, edge cases; JSON) and the ladder of real CUDA clients
#      (tests/gpu/ladder/run-ladder.sh: CUDA-runtime programs, cuda-python, numba, CuPy, PyTorch, each natively and
#      in a zone, compared; logs and XEN_GPU_TRACE files under $OUT/ladder)
#   5. `gpu_bench` (make bench-gpu): native and ours in one run, JSON table
#   6. the rest of the CTest suite on that machine (unit and integration; the Xen-under-QEMU and image jobs need
#      packages the device image lacks and are left out there, named in the log)
# Every step has a timeout: at most about 9.5 minutes in all (under the device's 10-minute limit per command), much
# less when nothing hangs (without the ladder the run took about 140 s on the H200; the ladder is bounded to 180 s).
# Usage: scripts/device-check.sh [--prepare] [--quick | --gpu-tests-only | --ladder]
#   --ladder: steps 1, 2 and 4 only (the ladder gets a longer budget: LADDER_BUDGET, 300 s)
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
B=build/release
if [ "${1:-}" = --prepare ]; then
  # Here (Debian 12 with the build dependencies): the Release build, nvcc's modules included, plus the few Debian
  # libraries it links that the device image lacks (Xen's; prometheus-cpp's and civetweb's, for gpu-proxy
  # --metrics), so that `carry: ["build/release"]` is all it needs.
  make release || exit 1
  mkdir -p $B/deplibs
  for f in $B/gpu-proxy/gpu-proxy $B/libvgpu/libcuda.so.1; do ldd "$f" | awk '/=> \// { print $3 }'; done |
    grep -E '/lib(xen|prometheus-cpp|civetweb)' | sort -u | xargs -r cp -L -t $B/deplibs
  ls $B/deplibs
  echo "prepared $B ($(du -sh $B | cut -f1)); the source root baked into its CTest files is $ROOT"
  exit 0
fi
QUICK="" ONLY_TESTS=0 ONLY_LADDER=0
[ "${1:-}" = --quick ] && QUICK=--quick
[ "${1:-}" = --gpu-tests-only ] && ONLY_TESTS=1  # steps 1-3: a short call that leaves device time for more
[ "${1:-}" = --ladder ] && ONLY_LADDER=1         # steps 1, 2 and 4
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

if [ $ONLY_LADDER = 0 ]; then
  step "3. gpu tests"
  # The ladder (also labelled gpu) is step 4's, with its own budget.
  (cd $B && timeout 120 ctest -L gpu -E gpu_ladder --output-on-failure -V) > "$OUT/gpu-tests.log" 2>&1
  echo "gpu tests exit $?"
  grep -E "^(PASS|FAIL|SKIP)|passed, .* failed|tests passed|MISMATCH|[0-9]+ mismatches" "$OUT/gpu-tests.log"
fi

[ $ONLY_TESTS = 1 ] && { step "done (gpu tests only)"; exit 0; }

step "4. driver facts and the ladder of real CUDA clients"
timeout 45 $B/tests/gpu/driver_facts "$OUT/driver-facts.json" > "$OUT/driver-facts.txt" 2>&1
echo "driver_facts exit $? (full output: driver-facts.txt, driver-facts.json)"
grep -E "^(library|nvidia|== a|exported cu|found answers|MISMATCH|NEWER|PASS|FAIL|SKIP)|mismatches," "$OUT/driver-facts.txt"
sed -n '/^== c. cuGetExportTable after cuInit/,/^$/p;/^== c.\/d. probes/,/^$/p' "$OUT/driver-facts.txt"
budget=${LADDER_BUDGET:-$([ $ONLY_LADDER = 1 ] && echo 300 || echo 180)}
LADDER_BUDGET=$budget timeout $((budget + 30)) tests/gpu/ladder/run-ladder.sh $B "$OUT/ladder" > "$OUT/ladder.log" 2>&1
echo "ladder exit $? (budget $budget s; logs under ladder/)"
grep -E "^(RUNG|SKIP|gpu:|NVRM|module|python)|rungs pass" "$OUT/ladder.log"

[ $ONLY_LADDER = 1 ] && { step "done (ladder only)"; exit 0; }

step "5. gpu_bench"
timeout 180 $B/bench/gpu_bench --runs 3 $QUICK --json "$OUT/gpu-bench.json"
echo "gpu_bench exit $?"

step "6. the rest of the suite (unit, integration; not xen, image, fuzz)"
(cd $B && timeout 90 ctest -j "$(nproc)" -LE 'xen|image|gpu|fuzz' --output-on-failure) > "$OUT/ctest.log" 2>&1
echo "ctest exit $?"; tail -15 "$OUT/ctest.log"
step "done"
