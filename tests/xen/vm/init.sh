#!/bin/sh
# PID 1 of both the dom0 and the domU initramfs: mount, load the Xen device modules (where the kernel has modules),
# run the checks, power off.
export PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/xen/bin
export LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mkdir -p /run/xen /run/xenstored /run/lock /var/log/xen/console /var/lib/xen /var/lib/xenstored
KV=$(uname -r)
# A kernel without module support (the zone kernel) has the Xen devices built in.
[ -e /proc/modules ] && for m in xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs; do
  insmod /lib/modules/$KV/$m.ko || echo "VM: insmod $m failed"
done
mount -t xenfs xenfs /proc/xen
if grep -q control_d /proc/xen/capabilities; then
  sh /dom0-checks.sh
else
  sh /domu-checks.sh
fi
echo "VM: $(grep -q control_d /proc/xen/capabilities && echo dom0 || echo domU) done at uptime $(cut -d' ' -f1 /proc/uptime)s"
poweroff -f
