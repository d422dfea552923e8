#!/bin/sh
# PID 1 of the dom0 of zone-xen-check.sh: the toolstack, then two pod zones booted from our zone initramfs, each
# driven by xg-zone-ctl-probe (the shim's calls): one without a rootfs disk, one with an EROFS image as xvda.
export PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/xen/bin
export LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu
t() { echo "DOM0: [$(cut -d' ' -f1 /proc/uptime)s] $*"; }
check() { if [ "$1" = 0 ]; then echo "CHECK PASS $2${3:+: $3}"; else echo "CHECK FAIL $2${3:+: $3}"; fi; }
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm; mount -t devpts devpts /dev/pts; mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run; mount -t tmpfs tmpfs /tmp
mkdir -p /run/xen /run/xenstored /run/lock /var/log/xen/console /var/lib/xen /var/lib/xenstored
KV=$(uname -r)
for m in xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs xen-blkback loop; do
  insmod /lib/modules/$KV/$m.ko || echo "DOM0: insmod $m failed"
done
mount -t xenfs xenfs /proc/xen
xenstored --pid-file /run/xenstored.pid || t "xenstored failed"
for i in 1 2 3 4 5 6 7 8 9 10; do [ -S /run/xenstored/socket ] && break; sleep 0.2; done
xen-init-dom0 >/dev/null || t "xen-init-dom0 failed"
xenconsoled --log=guest --log-dir=/var/log/xen/console || t "xenconsoled failed"
t "toolstack up"

zone() {  # NAME DISKLINE MODE
  cat > /tmp/$1.cfg <<EOC
name = "$1"
type = "pv"
kernel = "/boot/vmlinuz"
ramdisk = "/boot/zone.cpio.gz"
extra = "console=hvc0 rdinit=/init quiet"
memory = 384
vcpus = 1
on_poweroff = "destroy"
on_crash = "destroy"
$2
EOC
  xl create /tmp/$1.cfg >/tmp/$1.xl 2>&1; check $? zone-$3/xl-create "$(tail -2 /tmp/$1.xl | tr '\n' ' ')"
  G=$(xl domid $1) || return
  t "zone $1 is domain $G"
  timeout -s KILL 300 xg-zone-ctl-probe $G $3 > /tmp/$1.probe 2>&1 & P=$!
  # The handshake's nodes a while after the zone booted, for the log.
  sleep 40
  xenstore-ls -f /local/domain/$G/device 2>&1 | sed 's/^/  xenstore: /'
  xenstore-ls -f /local/domain/0/backend/xen-gpu-ctl 2>&1 | sed 's/^/  xenstore: /'
  wait $P; check $? zone-$3/probe-exit
  grep -a -E '^(CHECK|PROBE)' /tmp/$1.probe
  n=0; while xl list | grep -q " $1 \|^$1 " && [ $n -lt 600 ]; do sleep 0.1; n=$((n+1)); done
  ! xl list | grep -q "^$1 "; check $? zone-$3/powered-off "gone $((n*100)) ms after the probe ended"
  L=/var/log/xen/console/guest-$1.log
  grep -a -v '^\[' $L | tail -n 60 | sed 's/^/  zone console: /'
  grep -a -q 'xg-zone-init: control channel connected' $L; check $? zone-$3/console-stages
  grep -a -q 'xg-zone-init: powering off' $L; check $? zone-$3/console-power-off
  grep -a -q -E 'Kernel panic|BUG:' $L && check 1 zone-$3/no-panic
  grep -a -v '^CHECK' /tmp/$1.probe | tail -n 40 | sed 's/^/  probe: /'
}

zone zone1 "" nodisk
losetup -r /dev/loop0 /boot/rootfs.erofs || t "losetup failed"
zone zone2 "disk = ['format=raw,vdev=xvda,access=ro,script=/etc/xen/scripts/zone-block,target=/dev/loop0']" disk
t "ZONE-CHECK ALL-DONE"
poweroff -f
