#!/usr/bin/env bash
# Installs the Debian 12 packages xen-gpu needs, or prints the exact command when not root.
# Usage: scripts/deps.sh [group...]   groups: build test xen image (default: all)
# Why each package:
#   build: clang + libclang-rt-14-dev (ASan/UBSan/TSan runtimes and libFuzzer), libxen-dev (Xen transport),
#          libcli11-dev (command lines), doctest-dev (unit tests), pkg-config,
#          libprotobuf-dev protobuf-compiler nlohmann-json3-dev (the CRI shim: containerd's ttrpc/protobuf API,
#          OCI specs as JSON), prometheus-cpp-dev (gpu-proxy's --metrics endpoint: Prometheus text over HTTP;
#          without it gpu-proxy builds without metrics), libseccomp-dev (the CRI shim compiles a container's
#          OCI seccomp profile into the filter its zone installs, with the library runc uses)
#   test:  containerd runc (the CRI shim's integration test runs its own containerd), libgrpc++-dev
#          protobuf-compiler-grpc (its CRI client, talking to containerd as kubelet does), curl jq (the metrics
#          test scrapes /metrics and checks xen-gpu's JSON)
#   xen:   qemu-system-x86 busybox-static cpio xz-utils (boot real Xen under QEMU in tests/xen), erofs-utils (the
#          shim's Xen mode builds each container's read-only root filesystem image with mkfs.erofs), kmod (depmod:
#          the Xen tests' zone initramfs takes a Debian guest kernel's modules with their dependencies)
#   image: debootstrap packer linux-source flex bison bc libelf-dev libssl-dev systemd (zone kernel, node image),
#          fdisk qemu-utils e2fsprogs (the base disk), openssh-client (Packer's provisioner), python3 (merge_config)
set -euo pipefail
declare -A group
group[build]="build-essential cmake git pkg-config clang libclang-rt-14-dev libxen-dev libcli11-dev doctest-dev libprotobuf-dev protobuf-compiler nlohmann-json3-dev prometheus-cpp-dev libseccomp-dev"
group[test]="containerd runc libgrpc++-dev protobuf-compiler-grpc curl jq"
group[xen]="qemu-system-x86 busybox-static cpio gzip xz-utils erofs-utils kmod"
group[image]="debootstrap packer linux-source flex bison bc libelf-dev libssl-dev systemd fdisk qemu-utils e2fsprogs openssh-client python3 qemu-system-x86"
groups=("$@")
[ ${#groups[@]} -gt 0 ] || groups=(build test xen image)
want=()
for g in "${groups[@]}"; do
  [ -n "${group[$g]:-}" ] || { echo "deps.sh: unknown group '$g'" >&2; exit 2; }
  for p in ${group[$g]}; do want+=("$p"); done
done
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "xen-gpu needs these Debian packages; run as root:" >&2
  echo "  apt-get update && $cmd" >&2
  exit 1
fi
echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
$cmd
