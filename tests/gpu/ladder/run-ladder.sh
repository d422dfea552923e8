#!/usr/bin/env bash
# The ladder of real CUDA clients (issue 15), each rung run natively and in a zone of one gpu-proxy in the same
# run, results compared:
#   b  our CUDA-samples-style programs (tests/gpu/ladder/*.cu, nvcc, static cudart; vector_add_shared: shared)
#   c  cuda-python driver bindings      d  numba-cuda @cuda.jit      e  CuPy (NVRTC, reductions, cuBLAS)
#   f  PyTorch: MLP training + conv net inference      g  PyTorch through cuBLAS and cuDNN
# One line per rung: `RUNG <id> native=<PASS|FAIL|SKIP> zone=<PASS|FAIL|SKIP> <short reason>`. A zone run whose
# CHECK values differ from the native run's (numbers beyond 1e-5 relative) is a FAIL. Kept in OUT_DIR: each
# run's stdout+stderr (<rung>.native.log, <rung>.zone.log), the zone's XEN_GPU_TRACE file (trace-<rung>.txt,
# where libvgpu writes one), the proxy's log (proxy.log) and summary.txt.
# Native and zone run of a rung run at the same time (LADDER_SERIAL=1: one after the other), each bounded by a
# timeout (programs 20 s, Python 60 s, PyTorch 120 s; LADDER_TIMEOUT_SCALE multiplies them); LADDER_BUDGET=N
# bounds the whole ladder to about N seconds (a rung's timeout is cut to what is left; rungs past it SKIP).
# Environment: LADDER_DRIVER=sim runs the zones on gpu-proxy --driver sim and the native runs on the simulated
# libcuda.so.1 (only to exercise this script without a GPU); LADDER_PYTHON (python3); LADDER_ONLY (a regex of
# rung ids to run); LADDER_TABLE_TRACE=1 (native runs record the driver's private-table calls, tables-<rung>.txt).
# Exit: 0 when every rung that passes natively passes in the zone with the same values and none fails
# natively; 77 (a visible SKIP) without an NVIDIA GPU (or when every rung skipped); 1 otherwise.
# Usage: run-ladder.sh BUILD_DIR OUT_DIR
set -u
B=$(cd "${1:?usage: run-ladder.sh BUILD_DIR OUT_DIR}" && pwd)
OUT_DIR=${2:?usage: run-ladder.sh BUILD_DIR OUT_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
DRIVER=${LADDER_DRIVER:-real}
PY=${LADDER_PYTHON:-python3}
SCALE=${LADDER_TIMEOUT_SCALE:-1}
BUDGET=${LADDER_BUDGET:-0}
SECONDS=0
mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
export PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1

if [ "$DRIVER" = real ]; then
  if ! [ -e /proc/driver/nvidia/version ] || ! "$B/bench/gpu_bench_probe" info >/dev/null 2>&1; then
    echo "SKIP: no NVIDIA driver/GPU on this machine (the ladder runs on the device machine; see STATUS.md)"
    exit 77
  fi
  native_env=()
else
  # The simulated driver natively: its libcuda.so.1 first on the library path (plumbing check only).
  native_env=(LD_LIBRARY_PATH="$B/sim${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" XG_KERNELS="$B/sim/demo_kernels.so")
fi

{
  echo "ladder $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname), driver mode $DRIVER"
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader 2>&1 | sed 's/^/gpu: /'
  fi
  [ -e /proc/driver/nvidia/version ] && head -1 /proc/driver/nvidia/version
  env "${native_env[@]}" "$B/bench/gpu_bench_probe" info 2>&1 | sed 's/^/probe: /'
  echo "python: $($PY --version 2>&1) ($(command -v "$PY"))"
  "$PY" - <<'EOF' 2>&1
import importlib
for m in ("cuda.bindings", "cuda", "numba", "numba.cuda", "cupy", "torch", "numpy"):
    try:
        mod = importlib.import_module(m)
        print(f"module {m}: {getattr(mod, '__version__', '?')} {getattr(mod, '__file__', '')}")
    except Exception as e:
        print(f"module {m}: not importable ({type(e).__name__}: {str(e)[:120]})")
EOF
} | tee "$OUT_DIR/header.txt"

dir=$(mktemp -d /tmp/xg-ladder.XXXXXX)
xg=("$B/gpu-proxy/xen-gpu" --socket "$dir/zone.sock" --admin-socket "$dir/admin.sock")
"$B/gpu-proxy/gpu-proxy" --driver "$DRIVER" --socket "$dir/zone.sock" --admin-socket "$dir/admin.sock" \
  2> "$OUT_DIR/proxy.log" &
proxy=$!
trap 'kill $proxy 2>/dev/null; wait $proxy 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do [ -S "$dir/admin.sock" ] && break; sleep 0.1; done
[ -S "$dir/admin.sock" ] || { echo "gpu-proxy did not start:"; cat "$OUT_DIR/proxy.log"; exit 1; }

# status EXIT_CODE LOG -> PASS|FAIL|SKIP
status() {
  case $1 in
    0) grep -q "^FAIL" "$2" && echo FAIL || echo PASS ;;
    77) echo SKIP ;;
    *) echo FAIL ;;
  esac
}
# why RC LOG TIMEOUT: one short line on what happened
why() {
  local line
  case $1 in
    124 | 137) echo "timeout after $3 s"; return ;;
  esac
  line=$(grep -E "^(FAIL|SKIP) " "$2" | tail -1 | sed -E 's/ at [^ ]+:[0-9]+$//')
  [ -n "$line" ] || line=$(grep -v '^\s*$' "$2" | tail -1)
  [ $1 -gt 128 ] && [ $1 -lt 160 ] && line="killed by signal $(($1 - 128)); $line"
  echo "exit $1: ${line:0:180}"
}
# compare NATIVE_LOG ZONE_LOG: the CHECK lines that differ (numbers within 1e-5 relative are equal)
compare() {
  "$PY" - "$1" "$2" <<'EOF'
import sys
def checks(path):
    out = {}
    for line in open(path, errors="replace"):
        parts = line.split(None, 2)
        if len(parts) == 3 and parts[0] == "CHECK":
            out[parts[1]] = parts[2].strip()
    return out
native, zone = checks(sys.argv[1]), checks(sys.argv[2])
diffs = []
for key, nv in native.items():
    zv = zone.get(key)
    if zv is None:
        diffs.append(f"{key} missing in the zone")
        continue
    try:
        a, b = float(nv), float(zv)
        same = a == b or abs(a - b) <= 1e-5 * max(abs(a), abs(b))
    except ValueError:
        same = nv == zv
    if not same:
        diffs.append(f"{key}: native {nv} zone {zv}")
print("; ".join(diffs)[:300])
EOF
}

pass=0 fail=0 skip=0 i=0
: > "$OUT_DIR/summary.txt"
# rung ID TIMEOUT CMD...: run CMD natively and in a zone, print the RUNG line
rung() {
  local id=$1 t=$(($2 * SCALE)); shift 2
  [ -n "${LADDER_ONLY:-}" ] && ! [[ $id =~ $LADDER_ONLY ]] && return
  if [ "$BUDGET" -gt 0 ]; then  # the rest of the budget bounds this rung; under 10 s left, it is not run
    local left=$((BUDGET - SECONDS))
    if [ $left -lt 10 ]; then
      echo "RUNG $id native=SKIP zone=SKIP the ladder's time budget (LADDER_BUDGET=$BUDGET s) is spent" |
        tee -a "$OUT_DIR/summary.txt"
      skip=$((skip + 1))
      return
    fi
    [ $t -gt $left ] && t=$left
  fi
  local nlog="$OUT_DIR/$id.native.log" zlog="$OUT_DIR/$id.zone.log" nrc zrc t0=$SECONDS
  i=$((i + 1))
  # LADDER_TABLE_TRACE=1: the native run goes through tests/gpu/table_tracer (its libcuda.so.1 in front of the
  # driver), which records every call into the driver's private tables in tables-<rung>.txt.
  local tracer=()
  if [ "${LADDER_TABLE_TRACE:-0}" = 1 ] && [ -e "$B/tests/gpu/table-tracer/libcuda.so.1" ]; then
    tracer=(LD_LIBRARY_PATH="$B/tests/gpu/table-tracer${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
            XG_TRACER_LOG="$OUT_DIR/tables-$id.txt")
  fi
  run_native() { env "${native_env[@]}" "${tracer[@]}" XG_NATIVE_NVIDIA=1 timeout -k 5 "$t" "$@" > "$nlog" 2>&1; }
  run_zone() {
    XEN_GPU_TRACE="$OUT_DIR/trace-$id.txt" timeout -k 5 "$t" "${xg[@]}" run --name "l$i-$id" --quota 8GiB -- "$@" \
      > "$zlog" 2>&1
  }
  if [ "${LADDER_SERIAL:-0}" = 1 ]; then
    run_native "$@"; nrc=$?
    run_zone "$@"; zrc=$?
  else
    run_native "$@" & local np=$!
    run_zone "$@" & local zp=$!
    wait $np; nrc=$?
    wait $zp; zrc=$?
  fi
  local ns zs reason=""
  ns=$(status $nrc "$nlog")
  zs=$(status $zrc "$zlog")
  if [ "$ns" = PASS ] && [ "$zs" = PASS ]; then
    local d
    d=$(compare "$nlog" "$zlog")
    if [ -n "$d" ]; then zs=FAIL; reason="results differ: $d"; else reason="same results ($(grep -c '^CHECK' "$zlog") checks)"; fi
  elif [ "$zs" != PASS ]; then
    local zw nw
    zw=$(why $zrc "$zlog" "$t")
    reason="zone: $zw"
    if [ "$ns" != PASS ]; then
      nw=$(why $nrc "$nlog" "$t")
      [ "$nw" = "$zw" ] && reason="both: $zw" || reason="native: $nw; $reason"
    fi
  else
    reason="native: $(why $nrc "$nlog" "$t")"
  fi
  local line="RUNG $id native=$ns zone=$zs $reason ($((SECONDS - t0)) s)"
  echo "$line" | tee -a "$OUT_DIR/summary.txt"
  if [ "$ns" = SKIP ] && [ "$zs" = SKIP ]; then skip=$((skip + 1))
  elif [ "$ns" = FAIL ] || [ "$zs" != PASS ]; then fail=$((fail + 1))
  else pass=$((pass + 1)); fi
}

if [ "$DRIVER" = sim ]; then  # a driver-API program that works on both sides: the compare path, exercised
  rung a-saxpy 20 env XG_KERNELS="$B/sim/demo_kernels.so" "$B/cuda-programs/saxpy"
fi
L=$B/tests/gpu/ladder
for p in vector_add matrix_mul bandwidth simple_streams atomics reduction vector_add_shared; do
  if [ -x "$L/$p" ]; then
    rung "b-$p" 20 "$L/$p"
  else
    echo "RUNG b-$p native=SKIP zone=SKIP not built (nvcc was not found at build time)" | tee -a "$OUT_DIR/summary.txt"
    skip=$((skip + 1))
  fi
done
rung c-cuda_python 60 "$PY" "$HERE/rung_c_cuda_python.py"
rung d-numba 60 "$PY" "$HERE/rung_d_numba.py"
rung e-cupy 60 "$PY" "$HERE/rung_e_cupy.py"
rung f-torch 120 "$PY" "$HERE/rung_f_torch.py"
rung g-torch_cublas_cudnn 120 "$PY" "$HERE/rung_g_torch_libs.py"

kill -TERM $proxy
wait $proxy
echo "proxy exit $?" >> "$OUT_DIR/summary.txt"
{
  echo "--- proxy log: most frequent lines naming something missing or refused"
  grep -iE "not supported|unsupported|unknown|refus|export|not found|missing|killed|signal" "$OUT_DIR/proxy.log" |
    sed -E 's/[0-9]+/N/g' | sort | uniq -c | sort -rn | head -20
  echo "--- traces written: $(ls "$OUT_DIR"/trace-*.txt 2>/dev/null | wc -l)"
  echo "$pass rungs pass natively and in a zone, $fail fail, $skip skipped"
} | tee -a "$OUT_DIR/summary.txt"
[ $fail -eq 0 ] && [ $pass -eq 0 ] && exit 77
[ $fail -eq 0 ]
