#!/bin/bash
# make-zone-initramfs.sh against a made-up modules tree: dependencies before dependents (modules.dep), "pre:" soft
# dependencies through aliases (modules.softdep, modules.alias), decompression, built-in modules skipped, and the
# cpio's layout. Usage: make_zone_initramfs_test.sh XG_ZONE_INIT
set -euo pipefail
init=${1:?usage: $0 path/to/xg-zone-init}
here=$(cd "$(dirname "$0")" && pwd)
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

m=$t/mods/6.1.0-test
mkdir -p "$m"/kernel/{drivers/block,fs/erofs,fs/overlayfs,drivers/xen,lib,crypto} "$t/lib"
for f in drivers/block/xen-blkfront fs/erofs/erofs fs/overlayfs/overlay drivers/xen/xen-evtchn drivers/xen/xen-gntdev \
         drivers/xen/xen-gntalloc lib/libcrc32c lib/crc32 crypto/crc32c_generic; do
  echo "module $f" | xz >"$m/kernel/$f.ko.xz"
done
cat >"$m/modules.dep" <<'X'
kernel/drivers/block/xen-blkfront.ko.xz:
kernel/fs/erofs/erofs.ko.xz: kernel/lib/libcrc32c.ko.xz kernel/lib/crc32.ko.xz
kernel/fs/overlayfs/overlay.ko.xz:
kernel/drivers/xen/xen-evtchn.ko.xz:
kernel/drivers/xen/xen-gntdev.ko.xz: kernel/drivers/xen/xen-evtchn.ko.xz
kernel/drivers/xen/xen-gntalloc.ko.xz:
kernel/lib/libcrc32c.ko.xz: kernel/lib/crc32.ko.xz
kernel/lib/crc32.ko.xz:
kernel/crypto/crc32c_generic.ko.xz:
X
echo "softdep libcrc32c pre: crc32c" >"$m/modules.softdep"
echo "alias crc32c crc32c_generic" >"$m/modules.alias"
echo "kernel/drivers/xen/xenfs.ko" >"$m/modules.builtin"
touch "$t/lib/libcuda.so.1" "$t/lib/libnvidia-ml.so.1"

"$here/make-zone-initramfs.sh" "$t/out.gz" --modules "$m" --lib "$t/lib" --init "$init" >"$t/log" 2>&1 || { cat "$t/log"; false; } ||
  fail "the script failed"
mkdir "$t/x"
(cd "$t/x" && zcat "$t/out.gz" | cpio -idm --quiet)
[ -x "$t/x/init" ] || fail "no /init"
cmp -s "$init" "$t/x/init" || fail "/init is not xg-zone-init"
for f in opt/xen-gpu/lib/libcuda.so.1 opt/xen-gpu/lib/libnvidia-ml.so.1 proc sys dev run tmp; do
  [ -e "$t/x/$f" ] || fail "missing /$f"
done
want="/lib/modules/6.1.0-test/kernel/drivers/block/xen-blkfront.ko
/lib/modules/6.1.0-test/kernel/lib/crc32.ko
/lib/modules/6.1.0-test/kernel/crypto/crc32c_generic.ko
/lib/modules/6.1.0-test/kernel/lib/libcrc32c.ko
/lib/modules/6.1.0-test/kernel/fs/erofs/erofs.ko
/lib/modules/6.1.0-test/kernel/fs/overlayfs/overlay.ko
/lib/modules/6.1.0-test/kernel/drivers/xen/xen-evtchn.ko
/lib/modules/6.1.0-test/kernel/drivers/xen/xen-gntdev.ko
/lib/modules/6.1.0-test/kernel/drivers/xen/xen-gntalloc.ko"
got=$(cat "$t/x/etc/xg-zone/modules")
[ "$got" = "$want" ] || fail "module list:
$got"
[ "$(cat "$t/x/lib/modules/6.1.0-test/kernel/fs/erofs/erofs.ko")" = "module fs/erofs/erofs" ] || fail "not decompressed"
# A module that is neither a module nor built in is an error, not a silent omission.
sed -i '/overlay/d' "$m/modules.dep"
"$here/make-zone-initramfs.sh" "$t/out2.gz" --modules "$m" --lib "$t/lib" --init "$init" >/dev/null 2>&1 &&
  fail "a missing module was not refused"
echo "make-zone-initramfs: ok"
