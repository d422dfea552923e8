#!/usr/bin/env bash
# The operator's views and the Prometheus endpoint against a real proxy (stub mode): `gpu-proxy --driver sim
# --metrics 127.0.0.1:PORT` on a free port; a zone runs bench/demo_saxpy (32 MiB on the device, kernels and copies
# for a few seconds) under `xen-gpu run --name Z --quota Q`. While it runs: /metrics gives the zone's quota as Q,
# its memory in use and calls by opcode > 0; `xen-gpu zones --json` parses and names the zone; `xen-gpu zones` and
# `--table` list it; `xen-gpu top --iterations 2` over a pipe prints two frames that name it and no escape codes;
# `xen-gpu profile --json` parses. After it ends, the zone is gone from /metrics. A bad --metrics is refused.
# Exits 77 (skipped) when gpu-proxy was built without prometheus-cpp.
# Usage: metrics-test.sh BUILD_DIR
set -u
B=$1
dir=$(mktemp -d /tmp/xg-metrics.XXXXXX)
proxy=""
trap '[ -n "$proxy" ] && kill $proxy 2>/dev/null; wait 2>/dev/null; [ -n "${XG_KEEP:-}" ] || rm -rf "$dir"' EXIT
xg=("$B/gpu-proxy/xen-gpu" --socket "$dir/zone.sock" --admin-socket "$dir/admin.sock")
Z=metrics-zone Q=96MiB QBYTES=$((96 << 20))

pass=0 fail=0
check() {  # check NAME COMMAND...
  if "${@:2}"; then echo "PASS $1"; pass=$((pass + 1)); else echo "FAIL $1"; fail=$((fail + 1)); fi
}

# A bad address is refused before anything starts.
"$B/gpu-proxy/gpu-proxy" --driver sim --metrics nonsense --socket "$dir/bad-zone.sock" \
  --admin-socket "$dir/bad-admin.sock" 2> "$dir/bad.log"
rc=$?
if grep -q "built without prometheus-cpp" "$dir/bad.log"; then
  echo "SKIP: gpu-proxy was built without prometheus-cpp: $(cat "$dir/bad.log")"
  exit 77
fi
check "--metrics nonsense is refused (exit $rc): $(tail -1 "$dir/bad.log")" \
  bash -c "[ $rc -ne 0 ] && grep -q 'bad --metrics' '$dir/bad.log'"

# A free port: one nothing answers on now; if the proxy still cannot bind it (a race), try another.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for _ in 1 2 3 4 5; do
  port=$((20000 + RANDOM % 30000))
  port_in_use $port && continue
  "$B/gpu-proxy/gpu-proxy" --driver sim --metrics "127.0.0.1:$port" --socket "$dir/zone.sock" \
    --admin-socket "$dir/admin.sock" 2> "$dir/proxy.log" &
  proxy=$!
  for _ in $(seq 200); do [ -S "$dir/admin.sock" ] && break; kill -0 $proxy 2>/dev/null || break; sleep 0.05; done
  [ -S "$dir/admin.sock" ] && break
  wait $proxy 2>/dev/null
  proxy=""
done
if [ -z "$proxy" ]; then
  echo "FAIL: gpu-proxy did not start with --metrics; its log:"; cat "$dir/proxy.log"; exit 1
fi
check "the proxy says where it serves metrics" grep -q "metrics: http://127.0.0.1:$port/metrics" "$dir/proxy.log"

# GET /metrics: curl where it is installed, else bash's /dev/tcp (HTTP/1.0: the server closes after the answer).
scrape() {
  if command -v curl > /dev/null; then
    curl -sf --max-time 5 "http://127.0.0.1:$port/metrics"
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
     printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
     timeout 5 cat <&3 | tr -d '\r' | sed '1,/^$/d')
  fi
}
# value METRIC_WITH_LABELS FILE: its sample's value, or nothing.
value() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }
# The sum of a family's samples for the zone (calls by opcode).
zone_sum() { awk -v f="$1" -v z="zone=\"$Z\"" 'index($1, f "{") == 1 && index($1, z) { s += $2; n++ } END { if (n) print s }' "$2"; }
# json_check FILE JQ_FILTER PYTHON_EXPR: jq where installed (scripts/deps.sh test), else python3; j is the document.
json_check() {
  [ -s "$1" ] || return 1
  if command -v jq > /dev/null; then jq -e "$2" "$1" > /dev/null
  else python3 -c "import json, sys; j = json.load(open(sys.argv[1])); sys.exit(0 if ($3) else 1)" "$1"; fi
}
num_ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "" && a + 0 >= b + 0) }'; }

scrape > "$dir/empty.txt"
rc=$?
check "/metrics answers before any zone (GPU memory from the driver probe)" \
  bash -c "[ $rc -eq 0 ] && grep -q '^xen_gpu_gpu_memory_total_bytes{gpu=\"0\"} [1-9]' '$dir/empty.txt'"

"${xg[@]}" run --name "$Z" --quota "$Q" -- env XG_KERNELS="$B/sim/demo_kernels.so" "$B/bench/demo_saxpy" 5 \
  > "$dir/zone.out" 2>&1 &
run=$!
# Wait until a scrape shows the zone's calls (the daemon publishes a snapshot once a second).
calls=""
for _ in $(seq 100); do
  scrape > "$dir/scrape.txt" 2> /dev/null
  calls=$(zone_sum xen_gpu_zone_calls_total "$dir/scrape.txt")
  num_ge "$calls" 1 && num_ge "$(value "xen_gpu_zone_memory_used_bytes{zone=\"$Z\"}" "$dir/scrape.txt")" $((32 << 20)) && break
  sleep 0.1
done
echo "--- /metrics while $Z runs (zone lines):"; grep -F "zone=\"$Z\"" "$dir/scrape.txt" | head -20
quota=$(value "xen_gpu_zone_memory_quota_bytes{zone=\"$Z\"}" "$dir/scrape.txt")
used=$(value "xen_gpu_zone_memory_used_bytes{zone=\"$Z\"}" "$dir/scrape.txt")
check "zone quota bytes = $Q ($quota)" awk -v a="$quota" -v b=$QBYTES 'BEGIN { exit !(a != "" && a + 0 == b) }'
check "zone calls total > 0 ($calls)" num_ge "$calls" 1
check "zone memory used >= the program's 32 MiB ($used)" num_ge "$used" $((32 << 20))
check "zone overhead bytes present" test -n "$(value "xen_gpu_zone_memory_overhead_bytes{zone=\"$Z\"}" "$dir/scrape.txt")"
check "zone GPU time counter present" test -n "$(value "xen_gpu_zone_gpu_time_seconds_total{zone=\"$Z\"}" "$dir/scrape.txt")"
check "zone programs = 1" test "$(value "xen_gpu_zone_programs{zone=\"$Z\"}" "$dir/scrape.txt")" = 1
check "counters are typed counter" grep -qx "# TYPE xen_gpu_zone_calls_total counter" "$dir/scrape.txt"
check "no NVML with the simulated driver: no utilisation metric (absent, not 0)" \
  bash -c "! grep -q '^xen_gpu_gpu_utilization_ratio' '$dir/scrape.txt'"

"${xg[@]}" zones --json > "$dir/zones.json"
check "xen-gpu zones --json parses and names the zone with its quota" json_check "$dir/zones.json" \
  "any(.zones[]; .name == \"$Z\" and .quota_bytes == $QBYTES)" \
  "any(z['name'] == '$Z' and z['quota_bytes'] == $QBYTES for z in j['zones'])"
"${xg[@]}" zones > "$dir/zones.txt"
echo "--- xen-gpu zones:"; cat "$dir/zones.txt"
check "xen-gpu zones: a row for the zone with its memory used/quota" \
  awk -v z="$Z" '$1 == z && $6 ~ /\/96\.0MiB$/ { found = 1 } END { exit !found }' "$dir/zones.txt"
"${xg[@]}" zones --table > "$dir/table.txt"
check "xen-gpu zones --table: the daemon's table (QUOTA 4th, WEIGHT 7th)" \
  awk -v z="$Z" 'NR == 1 && $1 == "ID" && $2 == "NAME" { h = 1 } $2 == z && $4 == "96.0MiB" && $7 == 1 { r = 1 } END { exit !(h && r) }' \
  "$dir/table.txt"
"${xg[@]}" top --iterations 2 | cat > "$dir/top.txt"
echo "--- xen-gpu top --iterations 2 | cat:"; cat "$dir/top.txt"
check "top over a pipe: two frames, blank-line separated, each naming the zone" \
  awk -v z="$Z" 'BEGIN { RS = "" } { n++ } index($0, "\n" z " ") { m++ } END { exit !(n == 2 && m == 2) }' "$dir/top.txt"
check "top over a pipe: no escape codes" bash -c "! grep -q $'\x1b' '$dir/top.txt'"
"${xg[@]}" profile --json "$Z" > "$dir/profile.json"
check "xen-gpu profile --json parses: rows of the zone, calls > 0" json_check "$dir/profile.json" \
  "length > 0 and all(.[]; .zone == \"$Z\" and .calls > 0)" \
  "len(j) > 0 and all(r['zone'] == '$Z' and r['calls'] > 0 for r in j)"

wait $run
rc=$?
check "the zone's program passed (exit $rc)" test $rc -eq 0
# The zone ends with its program: within a few snapshots it is gone from /metrics.
for _ in $(seq 50); do
  scrape > "$dir/after.txt" 2> /dev/null
  grep -qF "zone=\"$Z\"" "$dir/after.txt" || break
  sleep 0.1
done
check "the zone is gone from /metrics after it ended" bash -c "! grep -qF 'zone=\"$Z\"' '$dir/after.txt'"
check "the proxy is alive" kill -0 $proxy
# The exposer's threads stop with the daemon: a clean exit, nothing for the sanitizers to report.
kill -TERM $proxy
wait $proxy
rc=$?
proxy=""
check "proxy exits 0 on SIGTERM (exit $rc)" test $rc -eq 0
check "no sanitizer report in the proxy" bash -c "! grep -q -E 'AddressSanitizer|runtime error|LeakSanitizer' '$dir/proxy.log'"

[ $fail -eq 0 ] || { echo "--- proxy log"; tail -n 40 "$dir/proxy.log"; }
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
