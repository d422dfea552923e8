#!/usr/bin/env bash
# Boot the built node image (GRUB -> Xen -> Debian dom0 -> systemd) under QEMU, TCG, serial console, and
# wait until the services start: Xen banner, dom0 on Xen, xenstored up, containerd started, login prompt.
# The disk is opened with snapshot=on, so the image file is not modified.
# Usage: image-boot-test.sh <image.qcow2> [work-dir]     Env: BOOT_TIMEOUT (s, default 900), ACCEL (tcg), BOOT_CPU
set -euo pipefail
IMG=$(realpath "$1"); WORK=$(realpath -m "${2:-$(dirname "$IMG")/boot}")
TIMEOUT=${BOOT_TIMEOUT:-900}
command -v qemu-system-x86_64 >/dev/null || { echo "SKIP: qemu-system-x86_64 not installed"; exit 77; }
mkdir -p "$WORK"; LOG=$WORK/console.log; : > "$LOG"
# CPU: qemu64 by default. `max,-smap` (enough for the busybox dom0 of the recipe) gave random segfaults of
# systemd and libc in this full Debian dom0 (likely TCG's AVX state under Xen PV); BOOT_CPU overrides.
qemu-system-x86_64 -machine q35 -accel "${ACCEL:-tcg}"$([ "${ACCEL:-tcg}" = tcg ] && echo ,tb-size=256) \
  -cpu "${BOOT_CPU:-qemu64}" -m 4608 -smp 2 -display none -vga none -no-reboot \
  -drive file="$IMG",if=virtio,snapshot=on -nic user,model=virtio-net-pci \
  -serial file:"$LOG" -monitor none &
QPID=$!
trap 'kill $QPID 2>/dev/null || true' EXIT
T0=$(date +%s)
# label|pattern (extended regex) in the console log, in the order they normally appear
MILESTONES=(
  "xen|Xen version 4\.[0-9]+"
  "iommu|I/O virtualisation (enabled|disabled)"
  "dom0-kernel|Linux version 6\.1\."
  "dom0-on-xen|Booting kernel on Xen|Xen: (using|PV)|paravirtualized kernel on Xen"
  "systemd|systemd\[1\]: systemd [0-9]+|Welcome to .*Debian"
  "xenstored|Started xenstored|Starting.*xen|xen.service|Xen daemons"
  "containerd|Started containerd"
  "login|xen-gpu-node login:"
)
declare -A seen
while :; do
  now=$(( $(date +%s) - T0 ))
  # systemd colours its status lines: strip escapes and CRs before matching
  sed 's/\x1b\[[0-9;]*[a-zA-Z]//g; s/\r//g' "$LOG" > "$WORK/console.txt"
  for m in "${MILESTONES[@]}"; do
    k=${m%%|*}; re=${m#*|}
    if [ -z "${seen[$k]:-}" ] && grep -a -q -E "$re" "$WORK/console.txt"; then seen[$k]=$now; echo "image-boot: [$now s] $k"; fi
  done
  [ -n "${seen[login]:-}" ] && break
  kill -0 $QPID 2>/dev/null || { echo "image-boot: QEMU exited"; break; }
  [ $now -ge "$TIMEOUT" ] && { echo "image-boot: timeout after $TIMEOUT s"; break; }
  sleep 2
done
kill $QPID 2>/dev/null || true; wait $QPID 2>/dev/null || true
sed 's/\x1b\[[0-9;]*[a-zA-Z]//g; s/\r//g' "$LOG" | grep -a -E 'Xen version|dom0_mem|Command line|I/O virt|\(XEN\) .*(IOMMU|panic)|Kernel panic|FAILED|Started (containerd|xen|gpu-proxy)|login:' | head -40
fail=0
for m in "${MILESTONES[@]}"; do k=${m%%|*}; [ -n "${seen[$k]:-}" ] || { echo "FAIL: never saw $k"; fail=1; }; done
echo "image-boot: $([ $fail = 0 ] && echo PASS || echo FAIL) in ${seen[login]:-?} s to login (TCG), console log $LOG"
exit $fail
