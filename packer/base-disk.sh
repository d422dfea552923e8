#!/usr/bin/env bash
# Make the base disk Packer boots: Debian 12 (debootstrap, cached tarball) + kernel + openssh + grub-pc
# (installed, not yet written to a disk: image-prepare.sh does that inside the VM), root SSH by key only.
# Usage: base-disk.sh <outdir>   -> <outdir>/base.qcow2, vmlinuz, initrd.img, build-key{,.pub}
# Env: DISK_SIZE (default 8G), XG_CACHE, DEBIAN_MIRROR. Needs root (loop devices, mounts).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/rootfs.sh"
OUT=$(realpath -m "$1"); DISK_SIZE=${DISK_SIZE:-8G}
[ "$(id -u)" = 0 ] || { echo "base-disk: needs root" >&2; exit 1; }
mkdir -p "$OUT"
TB=$(xg_rootfs_tarball node-base systemd,systemd-sysv,linux-image-amd64,grub-pc,openssh-server,ifupdown,isc-dhcp-client,ca-certificates,e2fsprogs,iproute2,procps,less)
[ -f "$OUT/build-key" ] || ssh-keygen -q -t ed25519 -N '' -C xen-gpu-image-build -f "$OUT/build-key"
RAW=$OUT/base.raw
rm -f "$RAW"; truncate -s "$DISK_SIZE" "$RAW"
echo 'label: dos
start=2048, type=83, bootable' | sfdisk -q "$RAW"
# A loop device on the partition itself (offset 1 MiB): partition nodes (loopNp1) need udev, containers lack it.
SIZE=$(( $(stat -c %s "$RAW") - 1048576 ))
LOOP=$(losetup -f --show -o 1048576 --sizelimit $SIZE "$RAW")
MNT=$(mktemp -d)
cleanup() { umount -R "$MNT" 2>/dev/null || true; losetup -d "$LOOP" 2>/dev/null || true; rmdir "$MNT" 2>/dev/null || true; }
trap cleanup EXIT
mkfs.ext4 -q -L xen-gpu-root "$LOOP"
mount "$LOOP" "$MNT"
tar -C "$MNT" --numeric-owner -xzf "$TB"
UUID=$(blkid -s UUID -o value "$LOOP")
echo "UUID=$UUID / ext4 errors=remount-ro 0 1" > "$MNT/etc/fstab"
echo xen-gpu-node > "$MNT/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 xen-gpu-node\n' > "$MNT/etc/hosts"
printf 'auto lo\niface lo inet loopback\nauto eth0\niface eth0 inet dhcp\n' > "$MNT/etc/network/interfaces"
mkdir -p -m 700 "$MNT/root/.ssh"
install -m 600 "$OUT/build-key.pub" "$MNT/root/.ssh/authorized_keys"
echo 'PermitRootLogin prohibit-password' > "$MNT/etc/ssh/sshd_config.d/xen-gpu-build.conf"
# Regenerate host keys on first boot when the image build removed them (one image, many nodes).
cat > "$MNT/etc/systemd/system/xen-gpu-ssh-keygen.service" <<'UNIT'
[Unit]
Description=Generate SSH host keys on first boot (xen-gpu image)
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key
[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A
[Install]
WantedBy=multi-user.target
UNIT
# Seed apt's cache with debs the chroot test already fetched (saves downloads inside the slow VM).
[ -d "$XG_CACHE/apt-archives" ] && cp -n "$XG_CACHE/apt-archives/"*.deb "$MNT/var/cache/apt/archives/" 2>/dev/null || true
cp "$MNT"/boot/vmlinuz-* "$OUT/vmlinuz"; cp "$MNT"/boot/initrd.img-* "$OUT/initrd.img"
cleanup; trap - EXIT
qemu-img convert -O qcow2 "$RAW" "$OUT/base.qcow2"; rm -f "$RAW"
echo "base-disk: $OUT/base.qcow2 ($(du -h "$OUT/base.qcow2" | cut -f1)), kernel $(basename "$(ls "$OUT"/vmlinuz)")"
