#!/usr/bin/env bash
# Merge zone.config onto allnoconfig (no compile) and check every required option survived olddefconfig
# and no forbidden one is on.  Usage: kernel-config/check.sh [workdir]   Exit 77 = SKIP (no kernel source).
set -euo pipefail
. "$(dirname "$0")/common.sh"
WORK=$(realpath -m "${1:-$(mktemp -d)}")
SRC=$(kcfg_source) || { rc=$?; [ $rc = 3 ] && { echo "SKIP: no Debian linux-source package"; exit 77; }; exit $rc; }
T0=$(date +%s)
kcfg_merge "$SRC" "$WORK"
kcfg_check "$WORK/.config"
echo "kernel-config: merge + check in $(( $(date +%s) - T0 )) s ($(grep -c '=y$' "$WORK/.config") options =y)"
