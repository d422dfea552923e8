#!/usr/bin/env bash
# make bench: the transport benchmark (idm-bench), then bench/zone_bench run twice in this same run -- natively on
# the simulated driver and in a zone of a stub-mode gpu-proxy -- with a table of native, ours, ratio, difference
# and the targets; then the GPU-time share of zones of different weights working at once, and fairness between
# zones of several programs each (weights 1:2:3, a zone going idle, a light zone's latency beside heavy ones). Exits non-zero only if a run failed (a missed target is reported, not fatal).
#   scripts/bench.sh BUILD_DIR
# Environment: ZB_SYNC_CALLS (default 200000), ZB_LAUNCHES (default 1000000), ZB_COPY_MIB (default 64),
#              ZB_SHARE_SECONDS (default 3, the weighted-sharing part), SKIP_IDM_BENCH=1 to skip the transport part.
set -uo pipefail

build=${1:-build/release}
B=$(cd "$build" 2>/dev/null && pwd) || { echo "bench: no build directory '$build' (run make first)"; exit 2; }
zb=$B/bench/zone_bench kernels=$B/bench/bench_kernels.so
for f in "$B/idm/idm-bench" "$B/gpu-proxy/gpu-proxy" "$B/gpu-proxy/xen-gpu" "$B/sim/libcuda.so.1" \
         "$B/libvgpu/libcuda.so.1" "$zb" "$kernels"; do
  [ -e "$f" ] || { echo "bench: missing $f (build it first: make release)"; exit 2; }
done
args=(--sync-calls="${ZB_SYNC_CALLS:-200000}" --launches="${ZB_LAUNCHES:-1000000}" --copy-mib="${ZB_COPY_MIB:-64}"
      "$kernels")

T=$(mktemp -d /tmp/xen-gpu-bench.XXXXXX)
proxy_pid=""
stop_proxy() {
  [ -n "$proxy_pid" ] || return 0
  kill -TERM "$proxy_pid" 2>/dev/null
  wait "$proxy_pid" 2>/dev/null
  proxy_pid=""
}
trap 'stop_proxy; rm -rf "$T"' EXIT
trap 'echo "bench: interrupted"; exit 130' INT TERM

echo "xen-gpu benchmarks ($(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg))"
echo "build: $B"
if [ "${SKIP_IDM_BENCH:-0}" != 1 ]; then
  echo
  echo "== 1. transport: idm-bench"
  "$B/idm/idm-bench" || { echo "bench: idm-bench failed"; exit 1; }
fi

echo
echo "== 2. zone_bench: one CUDA driver-API program, run natively and in a zone, in this run"
echo "   native = the simulated driver called directly (LD_LIBRARY_PATH=$B/sim)"
echo "   ours   = the same binary in a zone: libvgpu -> shm rings -> zone worker -> the same simulated driver"
echo "   (stub mode: no GPU; the simulated driver runs each kernel on a CPU stream thread, so launch figures are"
echo "    the issue rate of a one-thread empty kernel plus its trivial execution; copies are host memcpy speeds)"

echo "   running natively ..."
if ! LD_LIBRARY_PATH=$B/sim "$zb" "${args[@]}" >"$T/native.txt" 2>"$T/native.err"; then
  echo "bench: zone_bench failed natively:"; cat "$T/native.err"; exit 1
fi

"$B/gpu-proxy/gpu-proxy" --driver sim --socket "$T/zone.sock" --admin-socket "$T/admin.sock" 2>"$T/proxy.log" &
proxy_pid=$!
for _ in $(seq 100); do [ -S "$T/admin.sock" ] && break; sleep 0.05; done
[ -S "$T/admin.sock" ] || { echo "bench: gpu-proxy did not start:"; cat "$T/proxy.log"; exit 1; }
echo "   running in a zone (xen-gpu run --quota 1GiB) ..."
if ! "$B/gpu-proxy/xen-gpu" --admin-socket "$T/admin.sock" --socket "$T/zone.sock" \
     run --name bench --quota 1GiB --weight 1 -- "$zb" "${args[@]}" >"$T/zone.txt" 2>"$T/zone.err"; then
  echo "bench: zone_bench failed in a zone:"; cat "$T/zone.err"; echo "proxy log:"; tail -20 "$T/proxy.log"; exit 1
fi
stop_proxy

echo
awk -v calls="${ZB_SYNC_CALLS:-200000}" -v launches="${ZB_LAUNCHES:-1000000}" -v mib="${ZB_COPY_MIB:-64}" '
  FNR == 1 { file++ }
  $1 == "metric" { v[file, $2] = $3 }
  function row(key, label, target, kind, limit,    n, o, verdict, d) {
    n = v[1, key]; o = v[2, key]
    if (n == "" || o == "") { printf "%-44s %12s\n", label, "(missing)"; missing++; return }
    d = o - n
    if (kind == "plus")      verdict = sprintf("<= native+%g us: %s", limit, d <= limit ? "MEETS" : "MISSES")
    else if (kind == "min")  verdict = sprintf(">= %s: %s", target, o >= limit ? "MEETS" : "MISSES")
    else                     verdict = ""
    printf "%-44s %12s %12s %10s %12s  %s\n", label, fmt(n), fmt(o), ratio(n, o), fmtd(d), verdict
  }
  function ratio(n, o) { if (n <= 0) return "-"; return (o / n < 0.1) ? sprintf("%.4fx", o / n) : sprintf("%.2fx", o / n) }
  function fmt(x) { return x >= 1000 ? sprintf("%.0f", x) : sprintf("%.3f", x) }
  function fmtd(x) { return (x >= 1000 || x <= -1000) ? sprintf("%+.0f", x) : sprintf("%+.3f", x) }
  END {
    printf "%-44s %12s %12s %10s %12s  %s\n", "figure", "native", "ours", "ours/nat", "ours-nat", "target (ours)"
    printf "(a) synchronous call latency, %d calls each, us\n", calls
    row("ctx_sync_p50",     "  cuCtxSynchronize p50",  "", "plus", 2)
    row("ctx_sync_p99",     "  cuCtxSynchronize p99",  "", "", 0)
    row("mem_get_info_p50", "  cuMemGetInfo p50",      "", "plus", 2)
    row("mem_get_info_p99", "  cuMemGetInfo p99",      "", "", 0)
    printf "(b) synchronous calls/s (cuCtxSynchronize, untimed loop)\n"
    row("ctx_sync_rate",    "  calls/s",               "200,000", "min", 200000)
    printf "(c) empty 1-thread kernel, %d async launches then one cuCtxSynchronize\n", launches
    row("launch_issue_rate", "  launches/s issued (cuLaunchKernel only)", "", "", 0)
    row("launch_rate",       "  launches/s incl. the final synchronize", "1,000,000", "min", 1000000)
    printf "(d) %d MiB copies, GB/s (median of 5)\n", mib
    row("htod_pageable", "  HtoD pageable", "", "", 0)
    row("dtoh_pageable", "  DtoH pageable", "", "", 0)
    row("htod_pinned",   "  HtoD pinned (cuMemAllocHost)", "", "", 0)
    row("dtoh_pinned",   "  DtoH pinned (cuMemAllocHost)", "", "", 0)
    exit missing ? 1 : 0
  }' "$T/native.txt" "$T/zone.txt"
table_rc=$?

# 3. GPU time shared by weight: the same GPU work (1 MiB memsets back to back) in two zones at once, weights 1
# and 3. In stub mode every worker has its own simulated GPU, so the slicer's serialisation is what makes them
# share one. The figure with a target is the proxy's own accounting; the work done is shown, without a target: how
# much each zone gets done per millisecond it holds the GPU varies with how three busy processes share 2 cores.
S=${ZB_SHARE_SECONDS:-3}
echo
echo "== 3. GPU time by weight: 1 MiB memsets back to back for ${S} s in two zones at once (weights 1 and 3)"
"$B/gpu-proxy/gpu-proxy" --driver sim --socket "$T/zone.sock" --admin-socket "$T/admin.sock" 2>"$T/proxy2.log" &
proxy_pid=$!
for _ in $(seq 100); do [ -S "$T/admin.sock" ] && break; sleep 0.05; done
share_run() {  # NAME WEIGHT
  "$B/gpu-proxy/xen-gpu" --admin-socket "$T/admin.sock" --socket "$T/zone.sock" \
    run --name "$1" --quota 256MiB --weight "$2" -- "$zb" --share-seconds="$S" >"$T/share-$1.txt" 2>"$T/share-$1.err"
}
share_run light 1 & lp=$!
share_run heavy 3 & hp=$!
# The proxy's accounting (GPU_MS: time each zone held the GPU while it had work), shortly before both end.
sleep "$(awk -v s="$S" 'BEGIN { print s - 0.4 }')"
"$B/gpu-proxy/xen-gpu" --admin-socket "$T/admin.sock" zones --table >"$T/share-zones.txt" 2>&1
wait $lp && wait $hp || { echo "bench: a share run failed:"; cat "$T/share-light.err" "$T/share-heavy.err"; exit 1; }
stop_proxy
awk '$1 == "metric" && $2 == "share_memsets" { split(FILENAME, p, "share-"); sub(/\.txt$/, "", p[2]); v[p[2]] = $3 }
  FILENAME ~ /share-zones/ && ($2 == "light" || $2 == "heavy") { g[$2] = $14 }
  END {
    l = v["light"]; h = v["heavy"]
    gr = (g["light"] > 0) ? g["heavy"] / g["light"] : 0
    printf "  GPU time held (proxy accounting): light %.0f ms, heavy %.0f ms: heavy/light = %.2fx   (target 3x within 15%%: %s)\n",
           g["light"], g["heavy"], gr, (gr >= 2.55 && gr <= 3.45) ? "MEETS" : "MISSES"
    printf "  memsets done: light %d, heavy %d: heavy/light %.2fx (no target)\n", l, h, (l > 0) ? h / l : 0
  }' "$T/share-light.txt" "$T/share-heavy.txt" "$T/share-zones.txt"

echo
echo "== 4. Fairness between zones of several programs (scripts/bench-fairness.sh)"
"$(dirname "$0")/bench-fairness.sh" "$B" || table_rc=1
exit $table_rc
