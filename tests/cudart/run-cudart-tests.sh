#!/usr/bin/env bash
# Stub-mode test of the CUDA runtime in a zone (issue 15, rung 5): nvcc-built programs (static cudart, default
# flags) run unmodified as zones of a real gpu-proxy on the simulated driver.
#   runtime_basics: no kernels; must pass, and its XEN_GPU_TRACE must show the runtime's private tables answered
#                   (cudart interface, integrity check) and its calls reaching the worker.
#   runtime_basics_shared: the same against the shared libcudart.so (as CuPy and PyTorch load it); must pass.
#   runtime_kernel: its launch must fail cleanly with cudaErrorNotSupported, the log naming why.
# Usage: run-cudart-tests.sh BUILD_DIR   (exit 77 when the programs were not built: no nvcc)
set -u
build=$1
bin=$build/cudart
[ -x "$bin/runtime_basics" ] && [ -x "$bin/runtime_kernel" ] || { echo "SKIP: no nvcc-built programs"; exit 77; }
dir=$(mktemp -d /tmp/xg-cudart.XXXXXX)
export XG_KERNELS="$build/sim/demo_kernels.so"
"$build/gpu-proxy/gpu-proxy" --driver sim --socket "$dir/zone.sock" --admin-socket "$dir/admin.sock" \
  2> "$dir/proxy.log" &
proxy=$!
trap 'kill -9 $proxy 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 200); do [ -S "$dir/admin.sock" ] && break; sleep 0.05; done

# nvcc's programs are not built with the sanitizers; a sanitized libvgpu needs the compiler's shared sanitizer
# runtime loaded into them first (into them only: xen-gpu carries its own, linked statically).
preload=""
if nm -D "$build/libvgpu/libcuda.so.1" 2>/dev/null | grep -q " U __asan_"; then
  cxx=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")
  for rt in libclang_rt.asan-x86_64.so libasan.so; do
    f=$("${cxx:-c++}" -print-file-name=$rt 2>/dev/null)
    [ -n "$f" ] && [ "$f" != "$rt" ] && [ -e "$f" ] && { preload=$f; break; }
  done
  [ -n "$preload" ] || { echo "FAIL: a sanitized libvgpu but no shared sanitizer runtime for ${cxx:-c++}"; exit 1; }
fi
zone() {  # zone NAME PROGRAM: runs PROGRAM as zone NAME, output in $dir/NAME.out, returns its exit status
  "$build/gpu-proxy/xen-gpu" --admin-socket "$dir/admin.sock" --socket "$dir/zone.sock" \
    run --name "$1" --quota 256MiB -- env ${preload:+LD_PRELOAD=$preload} ASAN_OPTIONS=detect_leaks=0 \
    XEN_GPU_TRACE="$dir/$1.trace" "$2" > "$dir/$1.out" 2>&1
}
pass=0 fail=0
check() {  # check NAME COMMAND...
  if "${@:2}"; then echo "PASS $1"; pass=$((pass + 1)); else echo "FAIL $1"; fail=$((fail + 1)); fi
}

zone basics "$bin/runtime_basics"
rc=$?
check "runtime_basics passes in a zone (exit $rc)" test $rc -eq 0
check "runtime_basics printed PASS" grep -q "^PASS runtime_basics" "$dir/basics.out"
check "the zone reports the quota as the device's memory" grep -q ", 256 MiB," "$dir/basics.out"
check "trace: the runtime's interface table answered" grep -q "note cuGetExportTable cudart-interface" "$dir/basics.trace"
check "trace: the integrity check answered" grep -q "call integrity_check -> CUDA_SUCCESS" "$dir/basics.trace"
check "trace: context-local storage used" grep -q "call storage_register -> CUDA_SUCCESS" "$dir/basics.trace"
check "trace: allocations reached the worker" grep -q "msg MemAlloc " "$dir/basics.trace"

if [ -x "$bin/runtime_basics_shared" ]; then
  zone shared "$bin/runtime_basics_shared"
  rc=$?
  check "runtime_basics on the shared libcudart passes in a zone (exit $rc)" test $rc -eq 0
fi

zone kernel "$bin/runtime_kernel"
rc=$?
check "runtime_kernel: the launch is refused cleanly (exit $rc, want 3)" test $rc -eq 3
check "runtime_kernel: cudaErrorNotSupported reported" grep -q "launch refused: cudaErrorNotSupported" "$dir/kernel.out"
check "the log says why (the simulated driver cannot run NVIDIA code)" \
  grep -q "is NVIDIA GPU code" "$dir/proxy.log"

check "proxy alive" kill -0 $proxy
check "no sanitizer report in the proxy" bash -c "! grep -q -E 'AddressSanitizer|runtime error|LeakSanitizer' '$dir/proxy.log'"
if [ $fail -ne 0 ]; then
  for f in "$dir"/*.out; do echo "--- $f"; tail -n 20 "$f"; done
  echo "--- proxy log"; tail -n 30 "$dir/proxy.log"
fi
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
