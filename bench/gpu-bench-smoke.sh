#!/usr/bin/env bash
# make test's check of `make bench-gpu` (stub mode unless a GPU is present): one quick run must finish, print the
# driver line and the table, and write a JSON table holding every figure and both concurrent counts.
# Usage: gpu-bench-smoke.sh BUILD_DIR
set -u
B=$1
json=$(mktemp /tmp/xg-gpu-bench-smoke.XXXXXX.json)
trap 'rm -f "$json"' EXIT
out=$("$B/bench/gpu_bench" --quick --runs 1 --zones 4 --loop-iters 300 --json "$json" 2>&1)
rc=$?
echo "$out"
fail=0
check() { if eval "$2"; then echo "PASS $1"; else echo "FAIL $1"; fail=1; fi; }
check "gpu_bench exits 0" '[ $rc -eq 0 ]'
check "first line names the driver" 'head -1 <<<"$out" | grep -qE "^gpu_bench: driver (real NVIDIA|SIMULATED)"'
for f in ctx_sync_idle mem_get_info launch_sync launch_async_rate vecadd_1m_sync alloc_free_256b alloc_free_1m \
         alloc_free_64m htod_4b dtoh_4b htod_pageable_1m dtoh_pinned_64m; do
  check "JSON has $f with both sides" "grep -q '\"name\": \"$f\", \"unit\": \"[^\"]*\", \"native\": [0-9.e+-]*, \"ours\": [0-9.e+-]*' '$json'"
done
check "JSON has 1 and 4 concurrent zones" "grep -q '\"programs\": 4, \"side\": \"zones\"' '$json' && grep -q '\"programs\": 1, \"side\": \"zones\"' '$json'"
[ $fail -eq 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $fail
