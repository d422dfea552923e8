#!/usr/bin/env bash
# Runs ordinary driver-API programs as zones of one real gpu-proxy (stub mode), all at once, then checks that
# every zone passed, the proxy survived, every zone was reaped, and the proxy shuts down cleanly on SIGTERM.
# Usage: run-in-zones.sh BUILD_DIR PROGRAM...   (a PROGRAM may carry arguments: "quota_threads 64")
# Env: ZONE_QUOTA (default 256MiB); a program named quota_threads gets the quota it asks for in MiB.
set -u
build=$1
shift
dir=$(mktemp -d /tmp/xg-zones.XXXXXX)
proxy="$build/gpu-proxy/gpu-proxy"
xg="$build/gpu-proxy/xen-gpu"
export XG_KERNELS="$build/sim/demo_kernels.so"
"$proxy" --driver sim --socket "$dir/zone.sock" --admin-socket "$dir/admin.sock" 2> "$dir/proxy.log" &
proxy_pid=$!
trap 'kill -9 $proxy_pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 200); do [ -S "$dir/admin.sock" ] && break; sleep 0.05; done

pids=() names=()
i=0
for spec in "$@"; do
  set -- $spec
  prog=$1
  shift
  quota=${ZONE_QUOTA:-256MiB}
  [ "$prog" = quota_threads ] && quota="${1}MiB"
  name="z$i-$(basename "$prog")"
  path="$build/cuda-programs/$prog"
  [ -x "$path" ] || path="$build/tests/integration/$prog"
  [ -x "$path" ] || path=$(realpath "$prog")
  "$xg" --admin-socket "$dir/admin.sock" --socket "$dir/zone.sock" run --name "$name" --quota "$quota" \
        --weight $((i % 3 + 1)) -- "$path" "$@" > "$dir/$name.out" 2>&1 &
  pids+=($!) names+=("$name")
  i=$((i + 1))
done

pass=0 fail=0
for k in "${!pids[@]}"; do
  if wait "${pids[$k]}"; then
    echo "PASS zone ${names[$k]}"
    pass=$((pass + 1))
  else
    echo "FAIL zone ${names[$k]} (exit $?):"
    sed 's/^/    /' "$dir/${names[$k]}.out"
    fail=$((fail + 1))
  fi
done

check() {  # check NAME COMMAND...
  if "${@:2}"; then echo "PASS $1"; pass=$((pass + 1)); else echo "FAIL $1"; fail=$((fail + 1)); fi
}
check "proxy alive after all zones" kill -0 $proxy_pid
# Zones are torn down when their program exits; the daemon reaps their workers within a moment.
for _ in $(seq 100); do
  [ "$("$xg" --admin-socket "$dir/admin.sock" zones --table | wc -l)" -le 1 ] && break
  sleep 0.05
done
check "every zone and worker reclaimed" test "$("$xg" --admin-socket "$dir/admin.sock" zones --table | wc -l)" -le 1
check "every zone's end logged" test "$(grep -c "' ended after" "$dir/proxy.log")" -ge "${#names[@]}"
check "no sanitizer report in the proxy" bash -c "! grep -q -E 'AddressSanitizer|runtime error|LeakSanitizer' '$dir/proxy.log'"
kill -TERM $proxy_pid
wait $proxy_pid
check "proxy exits 0 on SIGTERM" test $? -eq 0
[ $fail -eq 0 ] || { echo "--- proxy log"; tail -n 40 "$dir/proxy.log"; }
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
