#!/usr/bin/env bash
# `packer validate` of the node image template, with placeholder inputs (validation needs no disk or VM).
# Usage: packer-validate-test.sh <repo-root> <work-dir>        exit 77 = SKIP (packer not installed)
set -euo pipefail
REPO=$(realpath "$1"); WORK=$(realpath -m "$2")
command -v packer >/dev/null || { echo "SKIP: packer not installed (scripts/deps.sh image)"; exit 77; }
mkdir -p "$WORK/stage"
: > "$WORK/key"; chmod 600 "$WORK/key"
command -v ssh-keygen >/dev/null && { rm -f "$WORK/key"; ssh-keygen -q -t ed25519 -N '' -f "$WORK/key"; }
cd "$REPO/packer"
echo "packer $(packer version | head -1)"
out=$(packer validate \
  -var base_disk="$WORK/base.qcow2" -var boot_kernel="$WORK/vmlinuz" -var boot_initrd="$WORK/initrd" \
  -var ssh_key="$WORK/key" -var stage_dir="$WORK/stage" -var output_dir="$WORK/out" \
  xen-gpu-node.pkr.hcl 2>&1) || { echo "$out"; echo "FAIL: packer validate"; exit 1; }
grep -v -e "checksum of 'none'" -e 'ISO files are so big' -e 'checksum is highly' -e 'on xen-gpu-node.pkr.hcl line' \
     -e '(source code not available)' -e '^Warning: $' <<< "$out" | grep -v '^$' || true
# A broken template must fail (guards against a validate that accepts anything).
sed 's/disk_image       = true/disk_image = "maybe"/' xen-gpu-node.pkr.hcl > "$WORK/broken.pkr.hcl"
if packer validate -var base_disk=x -var boot_kernel=x -var boot_initrd=x -var ssh_key="$WORK/key" -var stage_dir=x \
     "$WORK/broken.pkr.hcl" >/dev/null 2>&1; then
  echo "FAIL: packer validate accepted a broken template"; exit 1
fi
# Every file the template and provision.sh ship must exist.
for f in provision.sh image-prepare.sh base-disk.sh build.sh files/gpu-proxy.service files/proxy.conf \
         files/containerd-config.toml files/runtimeclass.yaml; do
  [ -f "$f" ] || { echo "FAIL: packer/$f missing"; exit 1; }
done
bash -n provision.sh image-prepare.sh base-disk.sh build.sh
echo "PASS: packer validate xen-gpu-node.pkr.hcl"
