#!/usr/bin/env bash
# make bench, part 4: fairness between zones of several programs each (stub mode, a real gpu-proxy on the
# simulated driver). Three zones of weights 1:2:3, two programs each, submit GPU work back to back:
#   (a) each zone's share of GPU time over 10 s (the proxy's accounting), against 1/6, 2/6, 3/6 (within 5 points);
#   (b) when the weight-3 zone stops, its share goes to the others (the next second: the two left hold >= 95% of
#       the GPU between them, 1:2), and how many slices that took is shown;
#   (c) a light zone's launch+sync latency (p50) with two heavy zones working, against its latency alone
#       (target: within 3x).
# In stub mode every worker has its own simulated GPU: the time slicer's grants are what make them share one.
#   scripts/bench-fairness.sh BUILD_DIR
set -uo pipefail
B=$(cd "${1:-build/release}" && pwd) || exit 2
zb=$B/bench/zone_bench probe=$B/bench/gpu_bench_probe kernels=$B/bench/bench_kernels.so
T=$(mktemp -d /tmp/xen-gpu-fair.XXXXXX)
"$B/gpu-proxy/gpu-proxy" --driver sim --socket "$T/zone.sock" --admin-socket "$T/admin.sock" 2>"$T/proxy.log" &
proxy=$!
trap 'kill $proxy 2>/dev/null; wait $proxy 2>/dev/null; rm -rf "$T"' EXIT
for _ in $(seq 100); do [ -S "$T/admin.sock" ] && break; sleep 0.05; done
xg=("$B/gpu-proxy/xen-gpu" --admin-socket "$T/admin.sock" --socket "$T/zone.sock")
gpu_ms() { "${xg[@]}" zones --table | awk '$2 ~ /^fair-/ { printf "%s %s\n", $2, $14 }'; }  # GPU_MS per zone

# --- (a) and (b)
W=10  # the measured window, seconds
zone() {  # zone NAME WEIGHT SECONDS: two programs in zone NAME
  "${xg[@]}" run --name "$1" --quota 256MiB --weight "$2" -- "$zb" --share-seconds="$3" >"$T/$1.0" 2>&1 &
  runs+=($!)
  for _ in $(seq 100); do "${xg[@]}" zones --table | grep -q " $1 " && break; sleep 0.02; done
  "${xg[@]}" run --name "$1" -- "$zb" --share-seconds="$3" >"$T/$1.1" 2>&1 &
  runs+=($!)
}
runs=()
zone fair-w1 1 $((W + 4))
zone fair-w2 2 $((W + 4))
zone fair-w3 3 $((W + 2))
sleep 1
gpu_ms >"$T/t0"
sleep "$W"
gpu_ms >"$T/t1"
# fair-w3's programs end about a second later; the next full second belongs to the other two.
for _ in $(seq 200); do "${xg[@]}" zones --table | grep -q " fair-w3 " || break; sleep 0.01; done
t_gone=$(date +%s.%N)
sleep 0.2
gpu_ms >"$T/t2"
sleep 1
gpu_ms >"$T/t3"
wait "${runs[@]}"
echo "(a) three zones, weights 1:2:3, two programs each, GPU work back to back: GPU time over ${W} s"
awk -v w="$W" 'FNR == 1 { f++ } { g[f, $1] = $2; z[$1] = 1 }
  END {
    for (n in z) { d[n] = g[2, n] - g[1, n]; tot += d[n] }
    split("fair-w1 fair-w2 fair-w3", order, " ")
    worst = 0
    for (i = 1; i <= 3; i++) {
      n = order[i]; share = tot > 0 ? 100 * d[n] / tot : 0; want = 100 * i / 6
      off = share - want; if (off < 0) off = -off; if (off > worst) worst = off
      printf "    %-8s weight %d: %6.0f ms held, share %5.1f%%   (target %4.1f%% +- 5: %s)\n", n, i, d[n], share, want,
             off <= 5 ? "MEETS" : "MISSES"
    }
    printf "    the GPU was held %.0f%% of the window\n", 100 * tot / (w * 1000)
  }' "$T/t0" "$T/t1"
echo "(b) fair-w3 stopped: the next second's GPU time"
awk 'FNR == 1 { f++ } { g[f, $1] = $2 }
  END {
    a = g[2, "fair-w1"] - g[1, "fair-w1"]; b = g[2, "fair-w2"] - g[1, "fair-w2"]; tot = a + b
    verdict = (tot >= 950 && a > 0 && b / a >= 1.7 && b / a <= 2.3) ? "MEETS" : "MISSES"
    fmt = "    fair-w1 %.0f ms, fair-w2 %.0f ms: %.0f%% of the second held by the two left, w2/w1 = %.2f   (target: >= 95%%, 2.0 +- 0.3: %s)\n"
    printf fmt, a, b, tot / 10, (a > 0 ? b / a : 0), verdict
  }' "$T/t2" "$T/t3"
# How soon after a holder's last submission another zone holds the grant: at the slicer's next tick, which comes
# at least once a slice while slicing (time_slicer_test measures it in simulated time); not timed finer here.
echo "    hand-over after a zone goes idle: at the slicer's next tick, within one slice (10 ms), by design and" \
     "unit test (proxy_time_slicer_test), not timed here"

# --- (c)
N=2000
"${xg[@]}" run --name fair-light --quota 64MiB -- "$probe" loop "$kernels" $N 0 >"$T/alone" 2>&1
"${xg[@]}" run --name fair-heavy1 --quota 256MiB -- "$zb" --share-seconds=30 >/dev/null 2>&1 &
h1=$!
"${xg[@]}" run --name fair-heavy2 --quota 256MiB -- "$zb" --share-seconds=30 >/dev/null 2>&1 &
h2=$!
sleep 1
"${xg[@]}" run --name fair-light --quota 64MiB -- "$probe" loop "$kernels" $N 0 >"$T/busy" 2>&1
kill $h1 $h2 2>/dev/null
wait $h1 $h2 2>/dev/null
alone=$(awk '$2 == "loop_p50" { print $3 }' "$T/alone")
busy=$(awk '$2 == "loop_p50" { print $3 }' "$T/busy")
alone99=$(awk '$2 == "loop_p99" { print $3 }' "$T/alone")
busy99=$(awk '$2 == "loop_p99" { print $3 }' "$T/busy")
echo "(c) a light zone's launch+sync, p50 of $N"
awk -v a="$alone" -v b="$busy" 'BEGIN {
  r = a > 0 ? b / a : 0
  printf "    alone %.1f us; with two heavy zones working %.1f us: %.1fx   (target <= 3x: %s)\n", a, b, r,
         (a > 0 && r <= 3) ? "MEETS" : "MISSES" }'
# The tail, without a target: a light zone that contends waits for its slice (up to two heavy slices, 20 ms).
echo "    p99: alone $alone99 us; with two heavy zones $busy99 us (no target: the wait for its next slice)"
