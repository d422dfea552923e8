#!/usr/bin/env bash
# Inside the image build VM, before provision.sh: put GRUB on the disk so the image boots on its own.
# Usage: image-prepare.sh <disk> [--serial]
set -euo pipefail
DISK=$1; SERIAL=${2:-}
export DEBIAN_FRONTEND=noninteractive
echo "grub-pc grub-pc/install_devices multiselect $DISK" | debconf-set-selections
grub-install --target=i386-pc "$DISK"
if [ "$SERIAL" = --serial ]; then
  cat > /etc/default/grub.d/xen-gpu-serial.cfg <<'CFG'
GRUB_CMDLINE_LINUX="console=tty0 console=ttyS0,115200"   # bare-Linux entries; Xen entries get hvc0 from provision.sh
GRUB_TERMINAL="console serial"
GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"
CFG
fi
sed -i 's/^GRUB_CMDLINE_LINUX_DEFAULT=.*/GRUB_CMDLINE_LINUX_DEFAULT="net.ifnames=0"/' /etc/default/grub
update-grub
systemctl enable xen-gpu-ssh-keygen.service
echo "image-prepare: GRUB on $DISK"
