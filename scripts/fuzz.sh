#!/usr/bin/env bash
# make fuzz: every libFuzzer target for SECONDS each (default 300), corpora kept under BUILD/fuzz-corpus.
set -euo pipefail
build=$1 secs=${2:-300}
here=$(cd "$(dirname "$0")" && pwd)
mapfile -t targets < <(find "$build" -type f -name '*_fuzz' -perm -u+x | sort)
[ ${#targets[@]} -gt 0 ] || { echo "no fuzz targets under $build (configure with XG_FUZZ=ON)"; exit 1; }
for t in "${targets[@]}"; do
  name=$(basename "$t")
  seeds=$(cat "$t.seeds" 2>/dev/null || true); [ -d "$seeds" ] || seeds=$(mktemp -d)
  echo "== $name for ${secs}s"
  "$here/run-fuzz.sh" "$t" "$seeds" "$build/fuzz-corpus/$name" "$secs"
done
