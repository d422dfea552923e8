#!/usr/bin/env bash
# The `gpu` tests: the same driver-API program, with kernels nvcc compiled to a cubin and to PTX, run directly on
# the host's real driver and in a zone of a gpu-proxy using that driver (--driver real), in the same run; both
# must be correct, and the timings are printed side by side. Exit 77 (a visible SKIP) where no NVIDIA driver/GPU.
# Usage: run-gpu-tests.sh BUILD_DIR
set -u
B=$1
if ! ldconfig -p 2>/dev/null | grep -q 'libcuda.so.1 ' || ! ls /dev/nvidia0 >/dev/null 2>&1; then
  echo "SKIP: no NVIDIA driver/GPU on this machine (gpu tests run on the device machine; see STATUS.md)"
  exit 77
fi
prog=$B/tests/gpu/gpu_vecadd
mods=()
for m in "$B/tests/gpu/vecadd.sm_90.cubin" "$B/tests/gpu/vecadd.ptx"; do [ -f "$m" ] && mods+=("$m"); done
[ ${#mods[@]} -gt 0 ] || { echo "SKIP: nvcc was not found at build time, no GPU modules"; exit 77; }
dir=$(mktemp -d /tmp/xg-gpu.XXXXXX)
"$B/gpu-proxy/gpu-proxy" --driver real --socket "$dir/zone.sock" --admin-socket "$dir/admin.sock" 2> "$dir/proxy.log" &
proxy=$!
trap 'kill $proxy 2>/dev/null; wait $proxy 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do [ -S "$dir/admin.sock" ] && break; sleep 0.1; done
pass=0 fail=0
for m in "${mods[@]}"; do
  if out=$(env -u LD_LIBRARY_PATH "$prog" "$m" 2>&1); then echo "PASS native: $out"; pass=$((pass+1)); else echo "FAIL native: $out"; fail=$((fail+1)); fi
  if out=$("$B/gpu-proxy/xen-gpu" --socket "$dir/zone.sock" --admin-socket "$dir/admin.sock" run --name "gpu-$(basename "$m")" -- "$prog" "$m" 2>&1); then
    echo "PASS zone:   $out"; pass=$((pass+1))
  else
    echo "FAIL zone:   $out"; fail=$((fail+1))
  fi
done
[ $fail -eq 0 ] || tail -20 "$dir/proxy.log"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
