#!/usr/bin/env bash
# Build the xen-gpu zone kernel: allnoconfig + zone.config (merge_config.sh) from Debian's linux-source,
# checked (check.sh rules), compiled out of tree.  Usage: kernel-config/build.sh [outdir]   (default build/kernel)
#   JOBS=n (default 2)   LINUX_SRC=dir   XG_CACHE=dir   (see common.sh)
# Output: <outdir>/vmlinuz (bzImage; Xen PV and PVH boot it directly), <outdir>/config, <outdir>/System.map,
#         <outdir>/modules/ only if the fragment ever enables modules (today it does not).
set -euo pipefail
. "$(dirname "$0")/common.sh"
OUT=$(realpath -m "${1:-build/kernel}")
JOBS=${JOBS:-2}
SRC=$(kcfg_source)
OBJ=$OUT/obj
T0=$(date +%s)
echo "kernel: source $SRC, objects in $OBJ, -j$JOBS"
kcfg_merge "$SRC" "$OBJ"
kcfg_check "$OBJ/.config"
make -s -C "$SRC" O="$OBJ" ARCH=x86_64 -j"$JOBS" bzImage
cp "$OBJ/arch/x86/boot/bzImage" "$OUT/vmlinuz"
cp "$OBJ/.config" "$OUT/config"
cp "$OBJ/System.map" "$OUT/System.map"
rm -rf "$OUT/modules"
if grep -q '^CONFIG_MODULES=y' "$OBJ/.config"; then
  make -s -C "$SRC" O="$OBJ" ARCH=x86_64 -j"$JOBS" modules
  make -s -C "$SRC" O="$OBJ" ARCH=x86_64 INSTALL_MOD_PATH="$OUT/modules" modules_install
fi
KREL=$(cat "$OBJ/include/config/kernel.release")
echo "$KREL" > "$OUT/kernel.release"
T1=$(date +%s)
echo "kernel: $KREL -> $OUT/vmlinuz, $(stat -c %s "$OUT/vmlinuz") bytes ($(du -h "$OUT/vmlinuz" | cut -f1)), built in $((T1-T0)) s"
