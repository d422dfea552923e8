#!/usr/bin/env bash
# make demo: a stub-mode gpu-proxy (simulated driver, kernels run on the CPU) serving three zones at once, each
# real CUDA driver-API programs going through our libcuda.so.1 (libvgpu) and checking their own results (zone
# train runs two programs sharing its one quota, as a pod's processes do); the proxy's view while they run
# (xen-gpu top); a fourth zone refused with CUDA_ERROR_OUT_OF_MEMORY over its quota while the others go on;
# then a PASS/FAIL summary. Exits non-zero if anything failed.
#   scripts/demo.sh BUILD_DIR [SECONDS]      (SECONDS: how long each workload loops, default 4)
set -uo pipefail

build=${1:-build/release}
secs=${2:-4}
B=$(cd "$build" 2>/dev/null && pwd) || { echo "demo: no build directory '$build' (run make first)"; exit 2; }
proxy=$B/gpu-proxy/gpu-proxy xg_bin=$B/gpu-proxy/xen-gpu kernels=$B/sim/demo_kernels.so
for f in "$proxy" "$xg_bin" "$kernels" "$B/libvgpu/libcuda.so.1" "$B/sim/libcuda.so.1" \
         "$B/bench/demo_saxpy" "$B/bench/demo_reduce" "$B/bench/demo_matmul" "$B/bench/demo_oom"; do
  [ -e "$f" ] || { echo "demo: missing $f (build it first: make release)"; exit 2; }
done

T=$(mktemp -d /tmp/xen-gpu-demo.XXXXXX)
proxy_pid="" keep_tmp=0 proxy_rc=""
stop_proxy() {
  [ -n "$proxy_pid" ] || return 0
  kill -TERM "$proxy_pid" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$proxy_pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$proxy_pid" 2>/dev/null; then
    kill -KILL "$proxy_pid" 2>/dev/null
    proxy_rc=timeout
  fi
  wait "$proxy_pid" 2>/dev/null
  local rc=$?
  [ -n "$proxy_rc" ] || proxy_rc=$rc
  proxy_pid=""
}
cleanup() {
  stop_proxy
  if [ "$keep_tmp" = 1 ]; then echo "(logs kept in $T)"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'echo "demo: interrupted"; exit 130' INT TERM

t0=$(date +%s.%N)
elapsed() { awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
xg() { "$xg_bin" --admin-socket "$T/admin.sock" --socket "$T/zone.sock" "$@"; }
indent() { sed 's/^/    /'; }
export XG_KERNELS=$kernels

echo "xen-gpu demo: stub mode (simulated CUDA driver; kernels are CPU functions in demo_kernels.so)"
echo "build: $B"
echo

# 1. The proxy.
"$proxy" --driver sim --socket "$T/zone.sock" --admin-socket "$T/admin.sock" 2>"$T/proxy.log" &
proxy_pid=$!
for _ in $(seq 100); do [ -S "$T/admin.sock" ] && break; kill -0 "$proxy_pid" 2>/dev/null || break; sleep 0.05; done
if [ ! -S "$T/admin.sock" ]; then
  echo "FAIL: gpu-proxy did not come up; its log:"; indent <"$T/proxy.log"; keep_tmp=1; exit 1
fi
echo "[$(elapsed) s] 1. gpu-proxy started (pid $proxy_pid, --driver sim), sockets in $T"

# 2. Three zones at once: name, quota, weight, program.
zones=(train:256MiB:1:demo_saxpy analytics:128MiB:2:demo_reduce science:64MiB:4:demo_matmul)
declare -A zpid zprog
echo "[$(elapsed) s] 2. three zones start at once, each a CUDA program through libvgpu, looping ${secs} s:"
for z in "${zones[@]}"; do
  IFS=: read -r name quota weight prog <<<"$z"
  zprog[$name]=$prog
  printf '    zone %-10s quota %-7s weight %s  runs %s\n' "$name" "$quota" "$weight" "$prog"
  xg run --name "$name" --quota "$quota" --weight "$weight" -- "$B/bench/$prog" "$secs" >"$T/$name.out" 2>&1 &
  zpid[$name]=$!
done
# A second program in zone train, as a pod's second process: it joins the zone (its quota and weight stay).
for _ in $(seq 100); do xg zones --table 2>/dev/null | grep -q ' train ' && break; sleep 0.05; done
echo "    zone train    + a second program, demo_reduce, joining it: xen-gpu run --name train -- demo_reduce"
xg run --name train -- "$B/bench/demo_reduce" "$secs" >"$T/train2.out" 2>&1 &
train2=$!

# 3. The proxy's view while they run.
sleep 1.2
echo
echo "[$(elapsed) s] 3. the proxy's view while they run (xen-gpu top: GPU% is each zone's share of GPU time over"
echo "    the last second: the three contend, so the proxy time-slices it by weight, 1:2:4; train's two programs"
echo "    share its one quota: MEMORY counts both, each context's own memory included (OVERHEAD)):"
xg top --iterations 1 >"$T/top.txt" 2>&1; indent <"$T/top.txt"
xg zones --table >"$T/zones1.txt" 2>&1
serving=$(grep -cE '^[0-9]+ +(train|analytics|science) +serving' "$T/zones1.txt")
train_programs=$(awk '$2 == "train" { print $8 }' "$T/zones1.txt")

# 4. A fourth zone allocating past its quota.
echo
echo "[$(elapsed) s] 4. zone 'greedy' (quota 48MiB) allocates 16 MiB at a time until the proxy refuses:"
xg run --name greedy --quota 48MiB --weight 1 -- "$B/bench/demo_oom" 16 >"$T/greedy.out" 2>&1
oom_rc=$?
indent <"$T/greedy.out"

# 5. The others went on.
sleep 1
echo
echo "[$(elapsed) s] 5. the proxy's view a second later: the three zones are still being served (CALLS grow;"
echo "    greedy is gone: a zone ends with its program and the proxy reclaims what it held)"
xg zones --table >"$T/zones2.txt" 2>&1; indent <"$T/zones2.txt"
still=$(grep -cE '^[0-9]+ +(train|analytics|science) +serving' "$T/zones2.txt")
# GPU_MS (column 14) of science (weight 4) and train (weight 1): the time each held the GPU while contending.
gpu_ms() { awk -v z="$1" '$2 == z { print $14 }' "$T/zones2.txt"; }
g_science=$(gpu_ms science); g_train=$(gpu_ms train)
share_ok=$(awk -v s="${g_science:-0}" -v t="${g_train:-0}" 'BEGIN { print (t > 0 && s >= 2 * t) ? 1 : 0 }')

# 6. Their verdicts.
echo
echo "[$(elapsed) s] 6. waiting for the three workloads; each checks its results against the host:"
declare -A zrc
for z in "${zones[@]}"; do
  name=${z%%:*}
  wait "${zpid[$name]}"; zrc[$name]=$?
  printf '    %-10s ' "$name"; sed -n '1p' "$T/$name.out"
  sed -n '2,$p' "$T/$name.out" | indent
done
wait "$train2"; train2_rc=$?
printf '    %-10s ' "train (2nd)"; sed -n '1p' "$T/train2.out"

# 7. Shut the proxy down.
echo
stop_proxy
echo "[$(elapsed) s] 7. gpu-proxy stopped with SIGTERM: exit status $proxy_rc"

# Summary.
fails=0
verdict() {  # verdict OK-CONDITION LABEL
  if [ "$1" = 1 ]; then printf '  PASS  %s\n' "$2"; else printf '  FAIL  %s\n' "$2"; fails=$((fails + 1)); fi
}
echo
echo "summary:"
for z in "${zones[@]}"; do
  IFS=: read -r name quota weight prog <<<"$z"
  verdict "$([ "${zrc[$name]}" = 0 ] && echo 1)" "zone $name ($quota, weight $weight): ${prog#demo_} results correct (exit ${zrc[$name]})"
done
verdict "$([ "$train2_rc" = 0 ] && echo 1)" "zone train's second program (demo_reduce) results correct (exit $train2_rc)"
verdict "$([ "$serving" = 3 ] && echo 1)" "proxy listed the 3 zones serving concurrently ($serving of 3)"
verdict "$([ "$train_programs" = 2 ] && echo 1)" "zone train served 2 programs at once under its one quota (PROGRAMS ${train_programs:-?})"
verdict "$([ "$oom_rc" = 0 ] && echo 1)" "zone greedy (48MiB): refused with CUDA_ERROR_OUT_OF_MEMORY at its quota (exit $oom_rc)"
verdict "$([ "$still" = 3 ] && echo 1)" "the other zones kept running after the refusal ($still of 3 still serving)"
verdict "$share_ok" "GPU time by weight: science (4) held the GPU ${g_science:-?} ms, train (1) ${g_train:-?} ms (>= 2x)"
verdict "$([ "$proxy_rc" = 0 ] && echo 1)" "gpu-proxy exited cleanly on SIGTERM (status $proxy_rc)"
echo
if [ "$fails" = 0 ]; then
  echo "demo: PASS (all checks, $(elapsed) s)"
  exit 0
fi
echo "demo: FAIL ($fails check(s) failed); the proxy's log:"
indent <"$T/proxy.log"
keep_tmp=1
exit 1
