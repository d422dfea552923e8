#!/usr/bin/env bash
# make image: base disk (debootstrap) -> Packer (qemu builder, TCG by default) runs provision.sh in it ->
# build/image/out/xen-gpu-node.qcow2; then boots that image under QEMU far enough to see the services start.
# Usage: packer/build.sh [build-dir]     (default build; expects build/kernel/vmlinuz from `make kernel` and
#        uses build/release for binaries when present)
# Env: ACCEL=tcg|kvm  DOM0_MEM=4096M  GPU_DOMAIN=dom0|domU  NVIDIA=auto|yes|no  BOOT_TEST=1|0  DISK_SIZE=8G
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd); REPO=$(dirname "$HERE")
BUILD=$(realpath -m "${1:-build}"); IMG=$BUILD/image
[ "$(id -u)" = 0 ] || { echo "image: needs root (loop devices for the base disk)" >&2; exit 1; }
T0=$(date +%s)
mkdir -p "$IMG"
"$HERE/base-disk.sh" "$IMG/base"
T1=$(date +%s)
rm -rf "$IMG/stage" "$IMG/out"
mkdir -p "$IMG/stage/xen-gpu/bin" "$IMG/stage/xen-gpu/kernel" "$IMG/stage/xen-gpu/packer"
cp -a "$HERE/provision.sh" "$HERE/image-prepare.sh" "$HERE/files" "$IMG/stage/xen-gpu/packer/"
for d in cri-shim gpu-proxy; do
  ls "$REPO/$d"/*.service >/dev/null 2>&1 && mkdir -p "$IMG/stage/xen-gpu/$d" && cp "$REPO/$d"/*.service "$IMG/stage/xen-gpu/$d/"
done
# Xen-mode pods: the rootfs disks' hotplug script and the zone initramfs builder (provision.sh runs it).
mkdir -p "$IMG/stage/xen-gpu/cri-shim/xen" "$IMG/stage/xen-gpu/cri-shim/zone"
cp "$REPO/cri-shim/xen/xg-block-hotplug" "$IMG/stage/xen-gpu/cri-shim/xen/"
cp "$REPO/cri-shim/zone/make-zone-initramfs.sh" "$IMG/stage/xen-gpu/cri-shim/zone/"
if [ -f "$BUILD/kernel/vmlinuz" ]; then cp "$BUILD/kernel/vmlinuz" "$BUILD/kernel/config" "$IMG/stage/xen-gpu/kernel/"
else echo "image: no $BUILD/kernel/vmlinuz: run make kernel first" >&2; exit 1; fi
# Only the installable outputs of the release build, not the whole tree.
if [ -d "$BUILD/release" ]; then
  (cd "$BUILD/release" && find . -name CMakeFiles -prune -o -type f \( -name gpu-proxy -o -name 'containerd-shim-xen-gpu-v1' \
     -o -name libcuda.so.1 -o -name libnvidia-ml.so.1 -o -name xg-zone-init \) -print | cpio -pdm --quiet "$IMG/stage/xen-gpu/bin")
fi
echo "image: staged $(find "$IMG/stage" -type f | wc -l) files; running packer (accelerator ${ACCEL:-tcg})"
cd "$HERE"
export PACKER_CACHE_DIR=$IMG/packer_cache   # not packer/packer_cache in the source tree
PACKER_LOG=${PACKER_LOG:-0} packer build -color=false \
  -var base_disk="$IMG/base/base.qcow2" -var boot_kernel="$IMG/base/vmlinuz" -var boot_initrd="$IMG/base/initrd.img" \
  -var ssh_key="$IMG/base/build-key" -var stage_dir="$IMG/stage/xen-gpu" -var output_dir="$IMG/out" \
  -var accelerator="${ACCEL:-tcg}" -var dom0_mem="${DOM0_MEM:-4096M}" -var gpu_domain="${GPU_DOMAIN:-dom0}" \
  -var nvidia="${NVIDIA:-auto}" xen-gpu-node.pkr.hcl
T2=$(date +%s)
OUTIMG=$IMG/out/xen-gpu-node.qcow2
echo "image: $OUTIMG: $(du -h "$OUTIMG" | cut -f1) on disk, virtual $(qemu-img info --output=json "$OUTIMG" | python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"]//2**30)') GiB"
echo "image: base disk $((T1-T0)) s, packer $((T2-T1)) s"
if [ "${BOOT_TEST:-1}" = 1 ]; then
  "$REPO/tests/image/image-boot-test.sh" "$OUTIMG" "$IMG/boot"
fi
echo "image: total $(( $(date +%s) - T0 )) s"
