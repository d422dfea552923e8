#!/usr/bin/env bash
# One zone, many programs (stub mode, a real gpu-proxy on the simulated driver): 8 programs of one zone allocate
# at once and together never exceed its quota; a program's death returns exactly its bytes; a lowered quota
# refuses new allocations without breaking running programs; a drained zone takes no new program and lets
# running ones finish; a flood of silent connections costs a bounded number of workers and leaves zones served;
# the admin socket refuses a peer that is neither root nor the daemon's user.
# Usage: zone-programs-test.sh BUILD_DIR
set -u
B=$1
dir=$(mktemp -d /tmp/xg-zprog.XXXXXX)
chmod 755 "$dir"  # the unprivileged admin client below must reach the socket (the daemon checks its uid)
fill="$B/tests/integration/zone_fill"
flood="$B/tests/integration/conn_flood"
xg=("$B/gpu-proxy/xen-gpu" --admin-socket "$dir/admin.sock" --socket "$dir/zone.sock")
"$B/gpu-proxy/gpu-proxy" --driver sim --socket "$dir/zone.sock" --admin-socket "$dir/admin.sock" \
  --max-unregistered 8 2> "$dir/proxy.log" &
proxy=$!
trap 'kill -9 $proxy 2>/dev/null; pkill -9 -f "$dir" 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 200); do [ -S "$dir/admin.sock" ] && break; sleep 0.05; done

pass=0 fail=0
check() {  # check NAME COMMAND...
  if "${@:2}"; then echo "ok   $1"; pass=$((pass + 1)); else echo "FAIL $1"; fail=$((fail + 1)); fi
}
wait_files() {  # wait_files N PATTERN: until N files match
  for _ in $(seq 400); do [ "$(ls $2 2>/dev/null | wc -l)" -ge "$1" ] && return 0; sleep 0.05; done
  return 1
}
zone_field() {  # zone_field ZONE N: field N of the zone's line in the daemon's table
  "${xg[@]}" zones --table 2>/dev/null | awk -v z="$1" -v n="$2" '$2 == z { print $n }'
}
mib() {  # a size as format_size prints it ("48.0MiB", "0B", "1.0GiB") in MiB
  awk -v s="$1" 'BEGIN { v = s + 0; if (s ~ /GiB/) v *= 1024; else if (s ~ /KiB/) v /= 1024; else if (s ~ /^[0-9.]+B$/) v /= 1048576; print v }'
}

# --- 1. Eight programs of zone "pod": the first creates it (64 MiB), seven join it.
"${xg[@]}" run --name pod --quota 64MiB -- "$fill" "$dir/start" "$dir/ready.0" "$dir/release" > "$dir/fill.0" 2>&1 &
first=$!
for _ in $(seq 200); do [ -n "$(zone_field pod 8)" ] && break; sleep 0.05; done
joiners=()
for i in 1 2 3 4 5 6 7; do
  "${xg[@]}" run --name pod -- "$fill" "$dir/start" "$dir/ready.$i" "$dir/release" > "$dir/fill.$i" 2>&1 &
  joiners+=($!)
done
# All eight hold their context (2 MiB each); then they allocate at once.
for _ in $(seq 400); do [ "$(zone_field pod 9)" = "16.0MiB" ] && break; sleep 0.05; done
touch "$dir/start"
wait_files 8 "$dir/ready.*"
sum=$(cat "$dir"/fill.* | awk '/^got/ { s += $2 } END { print s + 0 }')
refusals=$(cat "$dir"/fill.* | grep -c "first_refusal=CUDA_ERROR_OUT_OF_MEMORY")
echo "     | 8 programs of zone pod (64 MiB, 2 MiB per context) got $sum MiB together; $refusals refused with OUT_OF_MEMORY"
check "8 programs of one zone never exceed its quota together (<= 64 - 8x2 MiB)" test "$sum" -le 48
check "... and the quota is used up to the last MiB" test "$sum" -ge 47
check "every program's first refusal is CUDA_ERROR_OUT_OF_MEMORY" test "$refusals" -eq 8
check "the zone lists 8 programs" test "$(zone_field pod 8)" = 8
used=$(mib "$(zone_field pod 5)")
check "the zone's use is the sum of its programs' (+ 8 contexts): $used MiB" test "$(awk -v u="$used" -v s="$sum" 'BEGIN { print (u == s + 16) }')" = 1
check "a flag that contradicts the running zone is an error" bash -c "! '${xg[0]}' --admin-socket '$dir/admin.sock' --socket '$dir/zone.sock' run --name pod --quota 2GiB -- true 2>/dev/null"

# --- 2. A program's death returns exactly its bytes.
victim=$(pgrep -f "^$fill $dir/start $dir/ready.3" | head -1)
victim_mib=$(awk '/^got/ { print $2 }' "$dir/fill.3")
kill -9 "$victim"
for _ in $(seq 200); do [ "$(zone_field pod 8)" = 7 ] && break; sleep 0.05; done
after=$(mib "$(zone_field pod 5)")
echo "     | killed a program holding $victim_mib MiB + its context: the zone uses $after MiB (was $used)"
check "a dead program's bytes (its allocations and its context) return exactly" \
  test "$(awk -v a="$after" -v u="$used" -v v="$victim_mib" 'BEGIN { print (a == u - v - 2) }')" = 1

# --- 3. The quota lowered below use: new allocations (even a new context) refused; running programs go on.
# Below what the zone uses now (which depends on how much the killed program held): one MiB less.
newq=$(awk -v a="$after" 'BEGIN { print int(a) - 1 }')
check "xen-gpu set pod --quota ${newq}MiB (below its use, $after MiB)" "${xg[@]}" set pod --quota "${newq}MiB"
check "the zone shows its new quota" test "$(zone_field pod 4)" = "${newq}.0MiB"
"${xg[@]}" run --name pod -- "$fill" "$dir/start" "$dir/late.ready" "$dir/release" > "$dir/late.out" 2>&1
check "a new program of the over-quota zone cannot create a context (CUDA_ERROR_OUT_OF_MEMORY)" \
  grep -q "^context CUDA_ERROR_OUT_OF_MEMORY" "$dir/late.out"
check "xen-gpu set pod --weight 5" "${xg[@]}" set pod --weight 5
check "the zone shows its new weight" test "$(zone_field pod 7)" = 5

# --- 4. Drain: no new program; the running ones finish normally.
check "xen-gpu drain pod" "${xg[@]}" drain pod
check "a new program of a draining zone is refused" bash -c "! '${xg[0]}' --admin-socket '$dir/admin.sock' --socket '$dir/zone.sock' run --name pod -- true 2>'$dir/drained.err'"
grep -q "draining" "$dir/drained.err"; check "... saying the zone is draining" test $? -eq 0
touch "$dir/release"
ok=0
for p in "${joiners[@]}"; do wait "$p" && ok=$((ok + 1)); done
wait "$first" && ok=$((ok + 1))
check "the running programs finished normally (7 of 7 left)" test "$ok" -eq 7
check "every one saw the zone's total as its quota (${newq} MiB) when it ended" \
  test "$(cat "$dir"/fill.* | grep -c "total $((newq << 20))$")" -eq 7

# --- 5. A flood of silent connections on the shared socket, while another zone works.
"${xg[@]}" run --name steady --quota 64MiB -- "$fill" "$dir/start" "$dir/steady.ready" "$dir/steady.release" > "$dir/steady.out" 2>&1 &
steady=$!
wait_files 1 "$dir/steady.ready"
"$flood" "$dir/zone.sock" 300 2 > "$dir/flood.out" &
flooder=$!
sleep 1
workers=$(pgrep -c -P "$proxy")
echo "     | during a flood of 300 silent connections: the daemon has $workers worker(s) ($(head -1 "$dir/flood.out"))"
check "the flood costs at most --max-unregistered (8) workers besides the served zone's" test "$workers" -le 9
wait "$flooder"
echo "     | $(tail -1 "$dir/flood.out")"
check "connections over the limit were closed at once" \
  test "$(awk '/still open/ { print $NF }' "$dir/flood.out")" -le 8
check "the flood is logged" grep -q "connection refused: this socket's limit of unregistered connections" "$dir/proxy.log"
touch "$dir/steady.release"
check "the working zone was served through the flood" wait "$steady"
check "a new zone registers after the flood" "${xg[@]}" run --name after -- "$fill" "$dir/start" "$dir/after.ready" "$dir/release"
check "the daemon is alive" kill -0 "$proxy"

# --- 6. The admin socket: a peer that is neither root nor the daemon's user is refused, even if the socket's
# mode would let it in.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
  chmod 666 "$dir/admin.sock"
  setpriv --reuid=65534 --regid=65534 --clear-groups "${xg[0]}" --admin-socket "$dir/admin.sock" zones --table \
    > "$dir/nobody.out" 2>&1
  check "an unprivileged peer is refused by its credentials" grep -q "admin socket is root.s" "$dir/nobody.out" || cat "$dir/nobody.out"
  check "... and the refusal is logged" grep -q "admin connection refused: pid [0-9]* uid 65534" "$dir/proxy.log"
  chmod 600 "$dir/admin.sock"
else
  echo "skip the unprivileged admin peer (needs root and setpriv)"
fi

check "no sanitizer report in the proxy" bash -c "! grep -q -E 'AddressSanitizer|runtime error|LeakSanitizer' '$dir/proxy.log'"
kill -TERM "$proxy"
wait "$proxy"
check "the proxy shuts down cleanly" test $? -eq 0
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] || { echo "--- proxy log (tail)"; tail -40 "$dir/proxy.log"; }
[ "$fail" -eq 0 ]
