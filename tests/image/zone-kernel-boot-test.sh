#!/usr/bin/env bash
# The zone kernel (`make kernel`) boots where it will live: as a PV domU under real Xen 4.17 in QEMU (TCG),
# with dom0 exactly as in the project's recipe. Inside, with no module loaded (the kernel has no module
# support), the guest must find /dev/xen/{gntdev,gntalloc,evtchn,xenbus}, and grant mapping/sharing, event
# channels and xenstore must work both ways with dom0 (the recipe's gnttest). Prints size and boot times.
# Usage: zone-kernel-boot-test.sh <repo-root> [vmlinuz]      exit 77 = SKIP (no zone kernel built / no tools)
set -euo pipefail
REPO=$(realpath "$1"); ZK=$(realpath -m "${2:-${ZONE_KERNEL:-$REPO/build/kernel/vmlinuz}}")
HERE=$(cd "$(dirname "$0")" && pwd)
[ -f "$ZK" ] || { echo "SKIP: no zone kernel at $ZK (run: make kernel)"; exit 77; }
if [ "$(id -u)" != 0 ]; then
  for t in qemu-system-x86_64 busybox cpio gcc; do command -v $t >/dev/null || { echo "SKIP: $t missing and not root to install it"; exit 77; }; done
fi
echo "zone kernel: $ZK, $(stat -c %s "$ZK") bytes ($(du -h "$ZK" | cut -f1)), $(file -b "$ZK" | grep -o 'version [^ ]*' || true)"
export GUEST_KERNEL=$ZK
export GUEST_TEST='fail=0
for d in gntdev gntalloc evtchn xenbus; do
  if [ -c /dev/xen/$d ]; then echo "ZONE: /dev/xen/$d present"; else echo "ZONE: /dev/xen/$d MISSING"; fail=1; fi
done
if [ -e /proc/modules ]; then echo "ZONE: kernel has module support (not expected)"; fail=1
else echo "ZONE: no module support, nothing was loaded"; fi
echo "ZONE: kernel $(uname -r), xenstore name=$(xenstore-read name), $(grep -c ^processor /proc/cpuinfo) vcpu"
exit $fail'
T0=$(date +%s)
set +e
"$HERE/xen-boot.sh" 2>&1 | tee "${TMPDIR:-/tmp}/zone-kernel-boot.$$.log"
rc=${PIPESTATUS[0]}
set -e
LOG=${TMPDIR:-/tmp}/zone-kernel-boot.$$.log
# Times: guest kernel start -> its /init (guest uptime), and dom0's xl create -> guest finished.
g_init=$(grep -a 'INIT: uptime' "$LOG" | tail -1 | grep -o '[0-9.]*s' | head -1 || true)
c0=$(grep -a 'xl create$' "$LOG" | grep -o '\[[0-9.]*s\]' | tr -d '[]s' | head -1 || true)
c1=$(grep -a 'guest gone' "$LOG" | grep -o '\[[0-9.]*s\]' | tr -d '[]s' | head -1 || true)
echo "zone kernel boot: guest kernel to /init ${g_init:-?} (guest clock), xl create -> tests done and guest gone $(awk -v a="${c0:-0}" -v b="${c1:-0}" 'BEGIN{printf "%.1f", b-a}') s (dom0 clock, TCG), whole run $(( $(date +%s) - T0 )) s"
grep -aq 'RESULT: DOMU-CUSTOM PASS' "$LOG" || { echo "FAIL: zone device checks did not pass in the domU"; rc=1; }
rm -f "$LOG"
exit $rc
