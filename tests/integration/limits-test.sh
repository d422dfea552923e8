#!/usr/bin/env bash
# Per-zone object limits against a real proxy (stub mode): a hostile zone (tests/integration/programs/object_flood)
# creates contexts, streams, events, modules, functions and pinned allocations in loops and then queues launches
# without ever synchronising, under the limits of its policy; meanwhile a second zone runs a launch+sync loop.
# Checks: each kind stops exactly at its limit with CUDA_ERROR_OUT_OF_MEMORY and a log line naming the limit; the
# other zone's latency stays near what it was alone; the hostile worker's threads, descriptors and memory stay
# bounded; when the hostile zone ends, its worker is reaped and the daemon's threads and descriptors are back to
# what they were.
# Usage: limits-test.sh BUILD_DIR
set -u
B=$1
dir=$(mktemp -d /tmp/xg-limits.XXXXXX)
xg=("$B/gpu-proxy/xen-gpu" --socket "$dir/zone.sock" --admin-socket "$dir/admin.sock")
module=$B/sim/demo_kernels.so
probe=$B/bench/gpu_bench_probe
bench_module=$B/bench/bench_kernels.so
cat > "$dir/policy.conf" <<'EOF'
zone hostile quota=256MiB weight=1 contexts=3 streams=16 events=40 modules=4 functions=20 host_allocs=8 async_ops=2000
zone good quota=256MiB weight=1
EOF
"$B/gpu-proxy/gpu-proxy" --driver sim --config "$dir/policy.conf" --socket "$dir/zone.sock" \
  --admin-socket "$dir/admin.sock" 2> "$dir/proxy.log" &
proxy=$!
trap 'kill $proxy 2>/dev/null; wait $proxy 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 200); do [ -S "$dir/admin.sock" ] && break; sleep 0.05; done

pass=0 fail=0
check() {  # check NAME COMMAND...
  if "${@:2}"; then echo "PASS $1"; pass=$((pass + 1)); else echo "FAIL $1"; fail=$((fail + 1)); fi
}
# Policy syntax: a limit must name a known object kind and lie in 1..1000000.
for bad in "streams=0" "streams=1000001" "streams=x" "threads=4"; do
  echo "zone z quota=1GiB weight=1 $bad" > "$dir/bad.conf"
  check "config refuses '$bad'" bash -c "! '$B/gpu-proxy/gpu-proxy' --check-config --config '$dir/bad.conf' 2>/dev/null"
done
check "config accepts every limit" "$B/gpu-proxy/gpu-proxy" --check-config --config "$dir/policy.conf"
threads() { ls "/proc/$1/task" 2>/dev/null | wc -l; }
fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
rss_mib() { awk '/^VmRSS/ { print int($2 / 1024) }' "/proc/$1/status" 2>/dev/null; }
loop_p50() {  # loop_p50 OUTFILE: the good zone's launch+sync p50 in us
  awk '$2 == "loop_p50" { print $3 }' "$1"
}
good_loop() {  # good_loop OUTFILE
  "${xg[@]}" run --name good -- "$probe" loop "$bench_module" 3000 0 > "$1" 2>&1
}

good_loop "$dir/alone.out"
alone=$(loop_p50 "$dir/alone.out")
sleep 0.5  # the good zone's worker and admin connection are gone
daemon_threads=$(threads $proxy) daemon_fds=$(fds $proxy)
echo "good zone alone: launch+sync p50 ${alone} us; daemon: $daemon_threads threads, $daemon_fds descriptors"

"${xg[@]}" run --name hostile -- "$B/tests/integration/object_flood" "$module" 4 "$dir/release" > "$dir/hostile.out" 2>&1 &
hostile=$!
# While the hostile zone floods the driver with launches, the good zone works.
for _ in $(seq 200); do grep -q "^created host_allocs" "$dir/hostile.out" && break; sleep 0.05; done
good_loop "$dir/during.out"
during=$(loop_p50 "$dir/during.out")
for _ in $(seq 400); do grep -q "^holding" "$dir/hostile.out" && break; sleep 0.05; done
cat "$dir/hostile.out"
worker=$("${xg[@]}" zones --table | awk '$2 == "hostile" { print $NF }')
echo "good zone during the flood: p50 ${during} us; hostile worker $worker: $(threads $worker) threads," \
     "$(fds $worker) descriptors, $(rss_mib $worker) MiB resident"

expect() {  # expect KIND N: created exactly N, then CUDA_ERROR_OUT_OF_MEMORY
  check "$1: stops at $2 with CUDA_ERROR_OUT_OF_MEMORY" grep -qx "created $1 $2 CUDA_ERROR_OUT_OF_MEMORY" "$dir/hostile.out"
  check "$1: the refusal is logged with the zone and the limit" \
    grep -q "hostile\].*limit $1=" "$dir/proxy.log"
}
"${xg[@]}" profile hostile > "$dir/profile.txt" 2>&1
cat "$dir/profile.txt"
check "profile: StreamCreate counted 17 times (16 created, 1 refused)" \
  awk '$2 == "StreamCreate" && $3 == 17 { found = 1 } END { exit !found }' "$dir/profile.txt"
check "profile: the launches counted" awk '$2 == "LaunchKernel" && $3 >= 1000 { found = 1 } END { exit !found }' "$dir/profile.txt"
check "profile of an unknown zone refused" bash -c "! '${xg[0]}' --admin-socket '$dir/admin.sock' profile nosuchzone 2>/dev/null"
expect contexts 2   # the primary context is the third
expect streams 16
expect events 40
expect modules 4
expect functions 20
expect host_allocs 8
check "asynchronous launches never refused" grep -q "^launched [1-9]" "$dir/hostile.out"
check "the good zone was served during the flood (p50 $during us vs $alone us alone: < 5x + 200 us)" \
  awk -v d="$during" -v a="$alone" 'BEGIN { exit !(d != "" && a != "" && d < 5 * a + 200) }'
check "hostile worker threads bounded (<= contexts + streams + 16)" test "$(threads $worker)" -le $((3 + 16 + 16))
check "hostile worker descriptors bounded (< 64)" test "$(fds $worker)" -lt 64
check "hostile worker memory bounded (< 512 MiB resident)" test "$(rss_mib $worker)" -lt 512

touch "$dir/release"
wait $hostile
check "hostile program exits 0" test $? -eq 0
for _ in $(seq 100); do kill -0 "$worker" 2>/dev/null || break; sleep 0.05; done
check "hostile worker reaped" bash -c "! kill -0 $worker 2>/dev/null"
for _ in $(seq 100); do grep -q "'hostile' ended" "$dir/proxy.log" && break; sleep 0.05; done
check "the zone's end logged with what was reclaimed" grep -q "hostile.*zone ended.*handles" "$dir/proxy.log"
# The zone's admin connection and the worker's control descriptors close a moment after the program's end.
for _ in $(seq 100); do [ "$(fds $proxy)" -eq "$daemon_fds" ] && break; sleep 0.05; done
check "daemon threads back to $daemon_threads" test "$(threads $proxy)" -eq "$daemon_threads"
check "daemon descriptors back to $daemon_fds (now $(fds $proxy))" test "$(fds $proxy)" -eq "$daemon_fds"
good_loop "$dir/after.out"
check "the good zone still served after" grep -q loop_p50 "$dir/after.out"
kill -TERM $proxy
wait $proxy
check "proxy exits 0 on SIGTERM" test $? -eq 0
[ $fail -eq 0 ] || { echo "--- proxy log"; tail -40 "$dir/proxy.log"; }
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
