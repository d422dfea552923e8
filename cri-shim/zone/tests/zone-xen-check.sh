#!/bin/bash
# zone-xen-check.sh BUILD: the zone init under real Xen. Boots Xen + Debian's kernel as a PV dom0 under QEMU (the
# packages tests/xen/run-xen-vm.sh fetched and unpacked into its cache: run that job once first), and in it two pod
# zones from our zone initramfs (make-zone-initramfs.sh, with Debian's modules), each driven over the xen-gpu-ctl
# control channel by xg-zone-ctl-probe, the shim's calls reduced to a script (tests/ctl_probe.cc).
# Exit 0 = every check passed, 1 = a check failed, 77 = skipped. XG_XEN_KEEP=1 keeps the work dir.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:?usage: zone-xen-check.sh BUILD_DIR}
skip() { echo "SKIP: $*"; exit 77; }
ts() { echo "[zone-xen $(date +%T)] $*"; }
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/xen-gpu
ROOT=$(ls -d "$CACHE"/root-* 2>/dev/null | head -1)
[ -n "$ROOT" ] && [ -f "$ROOT/.ok" ] || skip "no unpacked Xen/kernel packages in $CACHE (run tests/xen/run-xen-vm.sh once)"
for t in qemu-system-x86_64 cpio gzip depmod mkfs.erofs busybox bash; do command -v $t >/dev/null || skip "$t not found"; done
for f in cri-shim/zone/xg-zone-init cri-shim/zone/xg-zone-ctl-probe libvgpu/libcuda.so.1 libvgpu/libnvidia-ml.so.1; do
  [ -e "$BUILD/$f" ] || { echo "FAIL: $BUILD/$f is not built"; exit 1; }
done
KV=$(ls "$ROOT/lib/modules" | head -1)
VMLINUZ=$ROOT/boot/vmlinuz-$KV
XENGZ=$(ls "$ROOT"/boot/xen-*-amd64.gz | head -1)
XV=$(basename "$XENGZ" | sed 's/^xen-//; s/-amd64.gz$//')
WORK=$(mktemp -d "${TMPDIR:-/tmp}/xg-zone-xen.XXXXXX")
zcat "$XENGZ" >"$WORK/xen"

# The zone's initramfs with Debian's modules (the package has no modules.dep: depmod over a linked copy).
M=$WORK/kroot/lib/modules/$KV
mkdir -p "$M" && ln -s "$ROOT/lib/modules/$KV/kernel" "$M/kernel" && cp "$ROOT/lib/modules/$KV"/modules.{order,builtin}* "$M/"
depmod -b "$WORK/kroot" "$KV" || { echo "FAIL: depmod"; exit 1; }
XG_BUILD=$BUILD "$HERE/../make-zone-initramfs.sh" "$WORK/zone.cpio.gz" --modules "$M" || { echo "FAIL: zone initramfs"; exit 1; }

# A container image: busybox and a marker file.
mkdir -p "$WORK/img/bin" "$WORK/img/etc"
cp "$(command -v busybox)" "$WORK/img/bin/busybox"
for a in sh echo cat ls sleep hostname touch tr; do ln -s busybox "$WORK/img/bin/$a"; done
echo "from the image" >"$WORK/img/etc/marker"
mkfs.erofs "$WORK/rootfs.erofs" "$WORK/img" >/dev/null || { echo "FAIL: mkfs.erofs"; exit 1; }

# dom0: busybox, bash, the Xen tools and libraries, the probe, and every shared library they need.
R=$WORK/dom0
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,lib/modules/$KV,proc,sys,dev,tmp,run,etc,var/lib,root,lib64,boot} \
         "$R"/usr/lib/x86_64-linux-gnu "$R"/lib/x86_64-linux-gnu "$R"/usr/lib/xen-$XV
ln -s /run "$R/var/run"; ln -s xen-$XV "$R/usr/lib/xen"
cp "$(command -v busybox)" "$R/bin/busybox"
for a in $(busybox --list); do [ -e "$R/bin/$a" ] || ln -s busybox "$R/bin/$a"; done
cp "$(command -v bash)" "$R/usr/bin/bash"
for m in drivers/xen/xen-evtchn drivers/xen/xen-gntdev drivers/xen/xen-gntalloc drivers/xen/xen-privcmd \
         drivers/xen/xenfs/xenfs drivers/block/xen-blkback/xen-blkback drivers/block/loop; do
  cp "$ROOT/lib/modules/$KV/kernel/$m.ko" "$R/lib/modules/$KV/"
done
cp -a "$ROOT/usr/lib/xen-$XV/bin" "$R/usr/lib/xen-$XV/"
cp -a "$ROOT/usr/lib/x86_64-linux-gnu/." "$R/usr/lib/x86_64-linux-gnu/"
cp -a "$ROOT/etc/xen" "$R/etc/"
cp "$HERE/zone-block" "$R/etc/xen/scripts/zone-block"
cp -a "$ROOT/usr/bin/xenstore" "$R/usr/bin/"
for b in read write ls list rm exists watch chmod; do ln -s xenstore "$R/usr/bin/xenstore-$b"; done
cp "$BUILD/cri-shim/zone/xg-zone-ctl-probe" "$R/usr/local/bin/"
cp "$HERE/zone-dom0.sh" "$R/init"
cp "$VMLINUZ" "$R/boot/vmlinuz"
cp "$WORK/zone.cpio.gz" "$WORK/rootfs.erofs" "$R/boot/"
{ find "$R" -type f -perm -u+x; find "$R/usr/lib/x86_64-linux-gnu" -name '*.so*' -type f; } |
  while read -r f; do LD_LIBRARY_PATH=$R/usr/lib/x86_64-linux-gnu ldd "$f" 2>/dev/null | awk '/=> \//{print $3}'; done |
  sort -u | while read -r l; do
    case $l in "$R"/*) continue;; esac
    mkdir -p "$R/$(dirname "$l")"; cp -L "$l" "$R/$l"; done
cp -L /lib64/ld-linux-x86-64.so.2 "$R/lib64/"
cp -L /lib/x86_64-linux-gnu/libgcc_s.so.1 "$R/lib/x86_64-linux-gnu/" 2>/dev/null || true
echo 'root:x:0:0:root:/root:/bin/sh' >"$R/etc/passwd"; echo 'root:x:0:' >"$R/etc/group"
(cd "$R" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -1) >"$WORK/dom0.cpio.gz"

ts "booting Xen $XV + $KV under QEMU (tcg), log $WORK/console.log"
XEN_CMD="console=com1 com1=115200 dom0_mem=1024M,max:1024M dom0_max_vcpus=2 loglvl=all guest_loglvl=all noreboot spec-ctrl=eager-fpu"
timeout --kill-after=10 "${XG_XEN_TIMEOUT:-900}" qemu-system-x86_64 -machine q35 -accel tcg,tb-size=256 -cpu max,-smap \
  -m 2048 -smp 2 -nographic -no-reboot -net none -kernel "$WORK/xen" -append "$XEN_CMD" \
  -initrd "$VMLINUZ console=hvc0 earlyprintk=xen rdinit=/init,$WORK/dom0.cpio.gz" </dev/null >"$WORK/console.log" 2>&1
QRC=$?
tr -d '\r' <"$WORK/console.log" >"$WORK/console.txt"
grep -a -E '^(DOM0:|PROBE|  zone console|  probe|  xenstore)' "$WORK/console.txt"
CHECKS=$(grep -a -E '^CHECK (PASS|FAIL) ' "$WORK/console.txt" | sed 's/^CHECK //')
echo "$CHECKS" | grep -v '^$' | sed 's/^/  /'
NPASS=$(echo "$CHECKS" | grep -c '^PASS' || true)
NFAIL=$(echo "$CHECKS" | grep -c '^FAIL' || true)
[ "$QRC" = 0 ] || { echo "  FAIL vm: QEMU exit status $QRC"; NFAIL=$((NFAIL+1)); }
grep -a -q 'ZONE-CHECK ALL-DONE' "$WORK/console.txt" || { echo "  FAIL vm: dom0 did not finish"; NFAIL=$((NFAIL+1)); }
echo "$NPASS passed, $NFAIL failed"
if [ "$NFAIL" = 0 ] && [ "${XG_XEN_KEEP:-0}" != 1 ]; then rm -rf "$WORK"; else echo "work dir kept: $WORK"; fi
[ "$NFAIL" = 0 ]
