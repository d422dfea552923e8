#!/usr/bin/env bash
# Runs one libFuzzer target over its seed corpus for N seconds. Exit status is libFuzzer's (non-zero on a crash).
# Usage: run-fuzz.sh FUZZER SEED_DIR WORK_DIR SECONDS
set -euo pipefail
fuzzer=$1 seeds=$2 work=$3 secs=$4
mkdir -p "$work"
exec "$fuzzer" -max_total_time="$secs" -print_final_stats=1 -max_len=65536 -timeout=10 "$work" "$seeds"
