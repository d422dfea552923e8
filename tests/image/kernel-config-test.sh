#!/usr/bin/env bash
# The zone kernel fragment, merged onto allnoconfig with merge_config.sh (no compile): every required option
# must survive olddefconfig and nothing forbidden may be on. Then two self-checks that the check bites:
# a fragment with a dependency removed, and one that turns on real hardware, must both be rejected.
# Usage: kernel-config-test.sh <repo-root> <work-dir>      exit 77 = SKIP (no linux-source / no compiler)
set -euo pipefail
REPO=$(realpath "$1"); WORK=$(realpath -m "$2")
for t in gcc make flex bison bc; do command -v $t >/dev/null || { echo "SKIP: $t not installed (scripts/deps.sh image)"; exit 77; }; done
rm -rf "$WORK"; mkdir -p "$WORK"
"$REPO/kernel-config/check.sh" "$WORK/zone"     # exits 77 itself when there is no kernel source
echo "PASS: zone.config merged, all required options kept, nothing forbidden"

# Self-check 1: drop a dependency (MISC_FILESYSTEMS) -> EROFS/SQUASHFS silently vanish -> must be caught.
grep -v '^CONFIG_MISC_FILESYSTEMS=y' "$REPO/kernel-config/zone.config" > "$WORK/nodep.config"
if KCFG_FRAGMENT=$WORK/nodep.config "$REPO/kernel-config/check.sh" "$WORK/nodep" > "$WORK/nodep.log" 2>&1; then
  cat "$WORK/nodep.log"; echo "FAIL: a dropped dependency was not detected"; exit 1
fi
grep -q 'REQUIRED CONFIG_EROFS_FS=y' "$WORK/nodep.log" || { cat "$WORK/nodep.log"; echo "FAIL: wrong diagnosis"; exit 1; }
echo "PASS: self-check: dropped dependency detected ($(grep -c ^REQUIRED "$WORK/nodep.log") options reported)"

# Self-check 2: real hardware (PCI + an Ethernet NIC) must be reported as forbidden.
{ cat "$REPO/kernel-config/zone.config"; echo CONFIG_PCI=y; echo CONFIG_ETHERNET=y; echo CONFIG_NET_VENDOR_INTEL=y; echo CONFIG_E1000=y; } > "$WORK/hw.config"
if KCFG_FRAGMENT=$WORK/hw.config "$REPO/kernel-config/check.sh" "$WORK/hw" > "$WORK/hw.log" 2>&1; then
  cat "$WORK/hw.log"; echo "FAIL: forbidden hardware options not detected"; exit 1
fi
grep -q 'FORBIDDEN option on: CONFIG_PCI=y' "$WORK/hw.log" || { cat "$WORK/hw.log"; echo "FAIL: wrong diagnosis"; exit 1; }
echo "PASS: self-check: forbidden hardware options detected"
