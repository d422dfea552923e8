#!/usr/bin/env bash
# The zone's NVML against a real proxy (stub mode, simulated driver): a zone of two programs, a holder
# (nvml_zone hold: 4 MiB and a context) and the checker (nvml_zone check), which reads the zone through
# libnvidia-ml.so.1 as PyTorch and pynvml do (dlopen from the library path `xen-gpu run` sets) and checks the
# answers against the zone: its quota, its programs and their memory, its allocations as it makes them, a quota
# change made on the admin socket while it runs. Also: NVML refuses to start in a process whose libcuda.so.1 is not
# libvgpu (outside a zone nvmlInit fails instead of describing the wrong GPU).
# Usage: nvml-test.sh BUILD_DIR
set -u
B=$1
dir=$(mktemp -d /tmp/xg-nvml.XXXXXX)
xg=("$B/gpu-proxy/xen-gpu" --socket "$dir/zone.sock" --admin-socket "$dir/admin.sock")
prog=$B/tests/integration/nvml_zone
"$B/gpu-proxy/gpu-proxy" --driver sim --socket "$dir/zone.sock" --admin-socket "$dir/admin.sock" 2> "$dir/proxy.log" &
proxy=$!
holder=
trap 'touch "$dir/release"; [ -n "$holder" ] && wait $holder 2>/dev/null; kill $proxy 2>/dev/null; wait $proxy 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 200); do [ -S "$dir/admin.sock" ] && break; sleep 0.05; done

pass=0 fail=0
check() {  # check NAME COMMAND...
  if "${@:2}"; then echo "PASS $1"; pass=$((pass + 1)); else echo "FAIL $1"; fail=$((fail + 1)); fi
}

check "libnvidia-ml.so.1 is built beside libvgpu's libcuda.so.1" test -f "$B/libvgpu/libnvidia-ml.so.1"
"${xg[@]}" run --name nz --quota 64MiB -- "$prog" hold 4 "$dir/release" > "$dir/holder.out" 2>&1 &
holder=$!
for _ in $(seq 200); do grep -q "^holding" "$dir/holder.out" && break; sleep 0.05; done
holder_pid=$(awk '/^holding/ { print $2 }' "$dir/holder.out")
check "the holder runs in zone nz" test -n "$holder_pid"
# The checker joins the running zone with the environment `xen-gpu run` gives a zone's program (libvgpu's directory
# first on the library path, the zone's socket and name): a second program of the same zone.
LD_LIBRARY_PATH="$B/libvgpu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" XEN_GPU_SOCKET="$dir/zone.sock" XEN_GPU_ZONE=nz \
  "$prog" check 64 96 "$dir/admin.sock" nz "${holder_pid:-0}" 4 > "$dir/check.out" 2>&1
status=$?
cat "$dir/check.out"
check "every NVML check in the zone passed" test $status -eq 0
touch "$dir/release"
wait $holder
check "the holder ended cleanly" test $? -eq 0
holder=

# Not in a zone: the simulated driver is the libcuda.so.1 found (it is not libvgpu), so nvmlInit says the driver
# is not loaded rather than describing a GPU it does not serve.
LD_LIBRARY_PATH="$B/sim:$B/libvgpu" "$prog" check 64 96 "$dir/admin.sock" nz 0 4 > "$dir/outside.out" 2>&1
grep -q "^FAIL nvmlInit_v2: Driver Not Loaded" "$dir/outside.out"
check "outside a zone (NVIDIA's or the simulated libcuda.so.1): nvmlInit_v2 is DRIVER_NOT_LOADED" test $? -eq 0

echo "nvml-test: $pass passed, $fail failed"
[ $fail -eq 0 ] || { echo "--- proxy log"; tail -30 "$dir/proxy.log"; }
[ $fail -eq 0 ]
