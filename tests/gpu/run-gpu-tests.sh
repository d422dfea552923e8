#!/usr/bin/env bash
# The `gpu` tests: every driver-API test program (tests/cuda-programs and tests/gpu/gpu_vecadd), with the CUDA twins
# of their kernels (tests/gpu/kernels.cu) compiled by nvcc to a cubin and to PTX, run directly on the host's real
# driver and in zones of a gpu-proxy using that driver (--driver real), in the same run; every run must pass.
# Native runs set XG_NATIVE_NVIDIA=1: `errors` then skips the use-after-free checks NVIDIA's driver leaves undefined
# (zones still run them: the proxy defines them).
# Also checked: the zone workers serve under their system-call filter with the real driver loaded (Seccomp: 2),
# and the proxy's log has no worker killed by a signal. Exit 77 (a visible SKIP) where there is no NVIDIA GPU.
# Usage: run-gpu-tests.sh BUILD_DIR
set -u
B=$1
if ! [ -e /dev/nvidiactl ] || ! "$B/bench/gpu_bench_probe" info >/dev/null 2>&1; then
  echo "SKIP: no NVIDIA driver/GPU on this machine (gpu tests run on the device machine; see STATUS.md)"
  exit 77
fi
mods=()
for m in "$B/tests/gpu/kernels.sm_90.cubin" "$B/tests/gpu/kernels.ptx"; do [ -f "$m" ] && mods+=("$m"); done
[ ${#mods[@]} -gt 0 ] || { echo "SKIP: nvcc was not found at build time, no GPU modules"; exit 77; }
mapfile -t progs < "$B/cuda-programs.list"
progs+=("$B/tests/gpu/gpu_vecadd")
dir=$(mktemp -d /tmp/xg-gpu.XXXXXX)
xg=("$B/gpu-proxy/xen-gpu" --socket "$dir/zone.sock" --admin-socket "$dir/admin.sock")
"$B/gpu-proxy/gpu-proxy" --driver real --socket "$dir/zone.sock" --admin-socket "$dir/admin.sock" 2> "$dir/proxy.log" &
proxy=$!
trap 'kill $proxy 2>/dev/null; wait $proxy 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do [ -S "$dir/admin.sock" ] && break; sleep 0.1; done
pass=0 fail=0
result() {  # result NAME OK OUTPUT
  if [ "$2" = 0 ]; then echo "PASS $1"; pass=$((pass + 1)); else echo "FAIL $1:"; echo "$3" | sed 's/^/    /'; fail=$((fail + 1)); fi
}
i=0
for m in "${mods[@]}"; do
  kind=${m##*.}
  for p in "${progs[@]}"; do
    name=$(basename "$p")
    out=$(XG_NATIVE_NVIDIA=1 XG_KERNELS=$m "$p" "$m" 2>&1); result "native $name ($kind)" $? "$out"
    out=$(XG_KERNELS=$m "${xg[@]}" run --name "g$i-$name" --quota 2GiB -- "$p" "$m" 2>&1); result "zone   $name ($kind)" $? "$out"
    i=$((i + 1))
  done
done

# The system-call filter with the real driver: a zone that keeps working while we read its worker's status.
"${xg[@]}" run --name seccomp --quota 256MiB -- "$B/bench/gpu_bench_probe" loop "${mods[0]}" 300000 0 > "$dir/loop.out" 2>&1 &
loop=$!
status=""
for _ in $(seq 100); do
  for w in $(pgrep -P $proxy); do
    s=$(cat /proc/$w/status 2>/dev/null)
    grep -q "^Seccomp:[[:space:]]*2" <<<"$s" && status=$s
  done
  [ -n "$status" ] && break
  sleep 0.1
done
wait $loop
result "zone worker serves under its filter with the real driver (loop ran)" $? "$(cat "$dir/loop.out")"
grep -q "^Seccomp:[[:space:]]*2" <<<"$status"
result "worker status Seccomp: 2, NoNewPrivs: 1" $? "$(grep -E '^(Seccomp|NoNewPrivs):' <<<"$status")"
! grep -qiE "killed by signal|signal 31|SIGSYS|AddressSanitizer|runtime error" "$dir/proxy.log"
result "no worker killed by a signal, no sanitizer report" $? "$(grep -iE 'signal|Sanitizer|runtime error' "$dir/proxy.log" | head)"
kill -TERM $proxy
wait $proxy
result "proxy exits 0 on SIGTERM" $? "$(tail -5 "$dir/proxy.log")"
[ $fail -eq 0 ] || { echo "--- proxy log (end)"; tail -30 "$dir/proxy.log"; }
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
