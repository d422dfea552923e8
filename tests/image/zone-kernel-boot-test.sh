#!/usr/bin/env bash
# The zone kernel (`make kernel`) where it will live: as the PV domU under real Xen 4.17 in QEMU (TCG), running the
# GPU path of the real-Xen job (tests/xen/run-xen-vm.sh with XG_XEN_GUEST_KERNEL): with no module loaded (the
# kernel has no module support) the guest must have /dev/xen/{gntdev,gntalloc,evtchn,xenbus}, and unmodified
# driver-API programs must run through libvgpu over the Xen transport to a gpu-proxy in dom0 (grant sharing,
# event channels, xenstore, pinned pages lent by the guest), then the domain is destroyed mid-calls.
# Usage: zone-kernel-boot-test.sh <repo-root> <build-dir> [vmlinuz]   exit 77 = SKIP (no zone kernel built / no tools)
set -uo pipefail
REPO=$(realpath "$1"); BUILD=$(realpath "$2"); ZK=$(realpath -m "${3:-${ZONE_KERNEL:-$REPO/build/kernel/vmlinuz}}")
[ -f "$ZK" ] || { echo "SKIP: no zone kernel at $ZK (run: make kernel)"; exit 77; }
[ -x "$BUILD/tests/xen/xen-idm-check" ] || { echo "SKIP: no xen-idm-check in $BUILD (built without libxen-dev?)"; exit 77; }
echo "zone kernel: $ZK, $(stat -c %s "$ZK") bytes ($(du -h "$ZK" | cut -f1)), $(file -b "$ZK" | grep -o 'version [^ ]*' || true)"
LOG=$(mktemp "${TMPDIR:-/tmp}/zone-kernel-boot.XXXXXX")
XG_XEN_GUEST_KERNEL=$ZK XG_ONLY_GPU=1 "$REPO/tests/xen/run-xen-vm.sh" "$BUILD/tests/xen/xen-idm-check" "$BUILD" 2>&1 |
  tee "$LOG"
rc=${PIPESTATUS[0]}
# The programs must have run on the zone kernel, not on a fallback.
release=$(cat "$(dirname "$ZK")/kernel.release" 2>/dev/null || true)
if [ "$rc" = 0 ]; then
  grep -a -q "PASS domU/gpu1/xen-devices: kernel ${release:-[^ ]*xen-gpu-zone}, no module support" "$LOG" || {
    echo "FAIL: the domU did not report the zone kernel (${release:-?}) without module support"; rc=1; }
fi
rm -f "$LOG"
exit $rc
