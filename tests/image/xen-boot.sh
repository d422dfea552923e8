#!/bin/bash
# xen-boot.sh - copy of the project's verified recipe (shared/reference/xen-boot.sh) for tests/image, with
# small changes: the work dir defaults to the xen-gpu cache, GUEST_KERNEL picks the domU's kernel (the zone
# kernel from `make kernel`), and the domU skips insmod when its kernel has no module support. The dom0
# side is the recipe's, unchanged; ZONE: lines are echoed.  Superseded by the tests/xen harness once that exists (see README).
#
# boot a real Xen 4.17 hypervisor + Debian 12 Linux PV dom0 inside QEMU
# (TCG, no KVM needed) from Debian 12 packages only, and run real grant-table /
# event-channel / xenstore tests:
#   1. dom0 <-> dom0: two processes, gntalloc share + gntdev map, interdomain evtchn
#      bound to domid 0 itself, xenstore-write/read
#   2. dom0 <-> PV domU (same kernel + a small initramfs), created with `xl create`
#
# Usage: xen-boot.sh [--no-domu] [--shell] [--keep]
#   env WORK=dir             work dir (debs are cached in $WORK/debs); default ${XDG_CACHE_HOME:-$HOME/.cache}/xen-gpu/xen-boot
#   env GUEST_KERNEL=file    kernel for the PV domU (default: the same Debian kernel as dom0)
#   env EXTRA_FILES="host/path:/guest/path ..."  extra files for the dom0 initramfs
#                              (their shared libs are pulled in automatically via ldd)
#   env DOM0_TEST='cmd ...'    extra shell command run in dom0 after the built-in tests
#                              (xenstored running); its rc is reported as RESULT: DOM0-CUSTOM
#   env GUEST_EXTRA_FILES="host:/guest ..."  extra files for the domU initramfs
#   env GUEST_TEST='cmd ...'   run in the domU after its built-in tests ($DOMID set); rc -> RESULT: DOMU-CUSTOM
#   env DOM0_GUEST_TEST='cmd'  run in dom0 concurrently with GUEST_TEST ($GUEST_DOMID set);
#                              rc -> RESULT: DOM0-GUEST-CUSTOM (sync the two sides via xenstore)
#   env QEMU_TIMEOUT=300       hard wall-clock limit for the VM
# Exit status: 0 when every RESULT line says PASS.
# Needs: Debian 12 (bookworm) amd64, apt access to the Debian archive, root for apt-get.
set -euo pipefail

WORK=${WORK:-${XDG_CACHE_HOME:-$HOME/.cache}/xen-gpu/xen-boot}
DOMU=1; XSHELL=0
for a in "$@"; do
  case $a in
    --no-domu) DOMU=0;;
    --shell) XSHELL=1;;
    *) echo "unknown arg $a" >&2; exit 2;;
  esac
done
QEMU_TIMEOUT=${QEMU_TIMEOUT:-300}
mkdir -p "$WORK"; cd "$WORK"
ts() { echo "[xen-boot $(date +%T)] $*"; }

# ---------------------------------------------------------------- 1. host packages
HOSTPKGS="qemu-system-x86 busybox-static cpio gzip xz-utils libxen-dev gcc libc6-dev"
missing=$(for p in $HOSTPKGS; do dpkg-query -W -f='${Status}\n' $p 2>/dev/null | grep -q 'install ok installed' || echo $p; done)
if [ -n "$missing" ]; then
  ts "installing host packages: $missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# ---------------------------------------------------------------- 2. Xen + kernel debs (not installed on the host, just extracted)
apt-cache show linux-image-amd64 >/dev/null 2>&1 || apt-get update -qq
KPKG=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
XENHV=$(apt-cache search --names-only '^xen-hypervisor-4\.[0-9]+-amd64$' | awk '{print $1}' | sort -V | tail -1)
XV=${XENHV#xen-hypervisor-}; XV=${XV%-amd64}          # e.g. 4.17
DEBPKGS="$KPKG $XENHV xen-utils-$XV xen-utils-common xenstore-utils libxencall1 libxenevtchn1 libxenforeignmemory1
  libxengnttab1 libxenmisc$XV libxenstore4 libxentoollog1 libyajl2 libxendevicemodel1 libxentoolcore1 libxenhypfs1"
mkdir -p debs
if [ ! -f debs/.done-$KPKG-$XV ]; then
  ts "downloading $KPKG $XENHV and Xen userspace debs"
  (cd debs && rm -f ./*.deb && apt-get download $DEBPKGS 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
  n=$(ls debs/*.deb | wc -l); want=$(echo $DEBPKGS | wc -w)
  [ "$n" = "$want" ] || { echo "expected $want debs, got $n" >&2; exit 1; }
  touch debs/.done-$KPKG-$XV
fi
rm -rf root && mkdir root
for f in debs/*.deb; do dpkg-deb -x "$f" root; done
KV=$(ls root/lib/modules | head -1)
VMLINUZ=root/boot/vmlinuz-$KV
zcat root/boot/xen-$XV-amd64.gz > xen      # ELF32 multiboot image, QEMU -kernel can load it
ts "kernel $KV, xen $XV"

# ---------------------------------------------------------------- 3. test program
cat > gnttest.c <<'CEOF'
/* gnttest: grant sharing (gntalloc -> gntdev), event channels and xenstore between
 * two processes in dom0, or between dom0 and a domU.
 *   gnttest share <peer-domid> <xs-dir> : share a page + unbound evtchn, publish gref/port
 *   gnttest map   <peer-domid> <xs-dir> : read gref/port, map page, bind evtchn, notify */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <poll.h>
#include <sys/mman.h>
#include <xengnttab.h>
#include <xenevtchn.h>
#include <xenstore.h>

#define DIE(...) do { fprintf(stderr, "gnttest: " __VA_ARGS__); fprintf(stderr, "\n"); exit(1); } while (0)

/* Wait for an event on `want` after which the page holds `expect`. */
static int wait_evtchn(xenevtchn_handle *xce, evtchn_port_t want, volatile char *page,
                       const char *expect, int timeout_ms, int *nevents) {
    struct pollfd pfd = { .fd = xenevtchn_fd(xce), .events = POLLIN };
    for (int waited = 0; waited < timeout_ms; waited += 100) {
        if (poll(&pfd, 1, 100) > 0) {
            xenevtchn_port_or_error_t p = xenevtchn_pending(xce);
            if (p < 0) return -1;
            xenevtchn_unmask(xce, p);
            if (p == (xenevtchn_port_or_error_t)want) ++*nevents;
        }
        if (*nevents > 0 && !strcmp((const char *)page, expect)) return 0;
    }
    return -1;
}

static char *xs_get(struct xs_handle *xs, const char *dir, const char *key, int tries) {
    char path[256]; snprintf(path, sizeof path, "%s/%s", dir, key);
    for (int i = 0; i < tries; i++) {
        unsigned len; char *v = xs_read(xs, XBT_NULL, path, &len);
        if (v) return v;
        usleep(100000);
    }
    return NULL;
}

static void xs_put(struct xs_handle *xs, const char *dir, const char *key, const char *val) {
    char path[256]; snprintf(path, sizeof path, "%s/%s", dir, key);
    if (!xs_write(xs, XBT_NULL, path, val, strlen(val))) DIE("xs_write %s failed", path);
}

int main(int argc, char **argv) {
    if (argc != 4) DIE("usage: %s share|map <peer-domid> <xenstore-dir>", argv[0]);
    int peer = atoi(argv[2]); const char *dir = argv[3];
    struct xs_handle *xs = xs_open(0);
    if (!xs) DIE("xs_open failed");
    xenevtchn_handle *xce = xenevtchn_open(NULL, 0);
    if (!xce) DIE("xenevtchn_open failed");
    char buf[64];

    if (!strcmp(argv[1], "share")) {
        xengntshr_handle *xgs = xengntshr_open(NULL, 0);
        if (!xgs) DIE("xengntshr_open (/dev/xen/gntalloc) failed");
        uint32_t ref;
        char *page = xengntshr_share_pages(xgs, peer, 1, &ref, 1);
        if (!page) DIE("xengntshr_share_pages failed");
        strcpy(page, "hello from sharer");
        xenevtchn_port_or_error_t port = xenevtchn_bind_unbound_port(xce, peer);
        if (port < 0) DIE("xenevtchn_bind_unbound_port failed");
        snprintf(buf, sizeof buf, "%u", ref); xs_put(xs, dir, "gref", buf);
        snprintf(buf, sizeof buf, "%d", port); xs_put(xs, dir, "port", buf);
        printf("share: gref=%u port=%d, waiting for event\n", ref, port); fflush(stdout);
        int nev = 0;
        if (wait_evtchn(xce, port, page, "reply from mapper", 120000, &nev)) DIE("share: no event/reply from mapper");
        printf("share: got %d event(s); page now says: '%s'\n", nev, page);
        strcpy(page, "ack from sharer");
        xenevtchn_notify(xce, port);
        sleep(1);
        xengntshr_unshare(xgs, page, 1);
        xengntshr_close(xgs);
        printf("share: PASS\n");
    } else {
        xengnttab_handle *xgt = xengnttab_open(NULL, 0);
        if (!xgt) DIE("xengnttab_open (/dev/xen/gntdev) failed");
        char *sref = xs_get(xs, dir, "gref", 600), *sport = xs_get(xs, dir, "port", 600);
        if (!sref || !sport) DIE("map: gref/port not in xenstore");
        uint32_t ref = strtoul(sref, NULL, 10); int rport = atoi(sport);
        char *page = xengnttab_map_grant_ref(xgt, peer, ref, PROT_READ | PROT_WRITE);
        if (!page) DIE("xengnttab_map_grant_ref(dom %d, ref %u) failed", peer, ref);
        printf("map: mapped gref %u, page says: '%s'\n", ref, page);
        if (strcmp(page, "hello from sharer")) DIE("map: unexpected page content");
        xenevtchn_port_or_error_t lport = xenevtchn_bind_interdomain(xce, peer, rport);
        if (lport < 0) DIE("xenevtchn_bind_interdomain(%d, %d) failed", peer, rport);
        /* Xen always marks the fresh local port pending at bind time: drain it. */
        int spurious = 0;
        {
            struct pollfd pfd = { .fd = xenevtchn_fd(xce), .events = POLLIN };
            while (poll(&pfd, 1, 300) > 0) {
                xenevtchn_port_or_error_t p = xenevtchn_pending(xce);
                if (p < 0) break;
                xenevtchn_unmask(xce, p);
                spurious++;
            }
        }
        printf("map: drained %d event(s) pending right after bind_interdomain\n", spurious);
        strcpy(page, "reply from mapper");
        xenevtchn_notify(xce, lport);
        printf("map: bound local port %d -> remote %d, notified; waiting for ack\n", lport, rport); fflush(stdout);
        int nev = 0;
        if (wait_evtchn(xce, lport, page, "ack from sharer", 60000, &nev)) DIE("map: no ack event");
        printf("map: got %d event(s); page says: '%s'\n", nev, page);
        xengnttab_unmap(xgt, page, 1);
        xengnttab_close(xgt);
        printf("map: PASS\n");
    }
    xenevtchn_close(xce);
    xs_close(xs);
    return 0;
}
CEOF
gcc -O2 -Wall -o gnttest gnttest.c -lxengnttab -lxenevtchn -lxenstore

# ---------------------------------------------------------------- 4. init scripts
cat > init <<IEOF
#!/bin/sh
export PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/xen-$XV/bin
export LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu
IEOF
cat >> init <<'IEOF'
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mkdir -p /run/xen /run/xenstored /run/lock /var/log/xen/console /var/lib/xen /var/lib/xenstored
echo "INIT: uptime $(cut -d' ' -f1 /proc/uptime)s"
KV=$(uname -r)
if [ -e /proc/modules ]; then
for m in xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs; do
  insmod /lib/modules/$KV/$m.ko || echo "INIT: insmod $m failed"
done
else
  echo "INIT: kernel $KV has no module support: nothing to insmod"
fi
mount -t xenfs xenfs /proc/xen
ls /dev/xen/ | tr '\n' ' '; echo
if grep -q control_d /proc/xen/capabilities; then
  /dom0-tests
else
  DOMID=$(xenstore-read domid)
  echo "GUEST: I am domid $DOMID; running gnttest map"
  gnttest map 0 /local/domain/$DOMID/data/gnttest && echo "GUEST: gnttest PASS" || echo "GUEST: gnttest FAIL"
  echo "GUEST: reverse direction: domU shares, dom0 maps"
  gnttest share 0 /local/domain/$DOMID/data/gnttest2 && echo "GUEST: gnttest2 PASS" || echo "GUEST: gnttest2 FAIL"
  if [ -x /guest-custom ]; then
    export DOMID; /guest-custom && echo "GUEST: custom PASS" || echo "GUEST: custom FAIL"
  fi
fi
echo "INIT: done at uptime $(cut -d' ' -f1 /proc/uptime)s"
if grep -q xshell /proc/cmdline; then exec setsid cttyhack sh; fi
poweroff -f
IEOF

cat > dom0-tests <<'IEOF'
#!/bin/sh
t() { echo "INIT: [$(cut -d' ' -f1 /proc/uptime)s] $*"; }
t "starting xenstored"
xenstored --pid-file /run/xenstored.pid || t "xenstored failed rc=$?"
for i in 1 2 3 4 5 6 7 8 9 10; do [ -S /run/xenstored/socket ] && break; sleep 0.2; done
xen-init-dom0 || t "xen-init-dom0 failed rc=$?"
xl info | grep -E '^(release|xen_version|virt_caps|total_memory|free_memory|xen_commandline)'
xl list
t "xenstore write/read"
xenstore-write /local/domain/0/test/hello world
V=$(xenstore-read /local/domain/0/test/hello)
[ "$V" = world ] && echo "RESULT: XENSTORE PASS" || echo "RESULT: XENSTORE FAIL"
t "gnttest (two processes in dom0, peer domid 0)"
gnttest share 0 /local/domain/0/gnttest & SP=$!
gnttest map 0 /local/domain/0/gnttest; MRC=$?
wait $SP; SRC=$?
[ $SRC = 0 ] && [ $MRC = 0 ] && echo "RESULT: DOM0-GNTTEST PASS" || echo "RESULT: DOM0-GNTTEST FAIL"
if [ -f /boot/guest.cpio.gz ]; then
  t "starting xenconsoled"
  xenconsoled --log=guest --log-dir=/var/log/xen/console || t "xenconsoled failed"
  cat > /tmp/guest.cfg <<EOC
name = "guest1"
type = "pv"
kernel = "/boot/vmlinuz"
ramdisk = "/boot/guest.cpio.gz"
extra = "console=hvc0 rdinit=/init quiet"
memory = 192
vcpus = 1
on_poweroff = "destroy"
on_crash = "destroy"
EOC
  t "xl create"
  xl create /tmp/guest.cfg || t "xl create failed rc=$?"
  DOMID=$(xl domid guest1)
  t "guest domid=$DOMID"
  gnttest share $DOMID /local/domain/$DOMID/data/gnttest; SRC=$?
  t "reverse: dom0 maps a page granted by the domU"
  gnttest map $DOMID /local/domain/$DOMID/data/gnttest2; MRC=$?
  if [ -x /dom0-guest-custom ]; then
    t "custom dom0<->guest test"
    GUEST_DOMID=$DOMID /dom0-guest-custom; CRC=$?
    echo "RESULT: DOM0-GUEST-CUSTOM $([ $CRC = 0 ] && echo PASS || echo FAIL)"
  fi
  for i in $(seq 1 ${GUEST_WAIT:-300}); do xl domid guest1 >/dev/null 2>&1 || break; sleep 0.2; done
  GLOG=/var/log/xen/console/guest-guest1.log
  t "guest gone"
  t "guest console log:"; grep -E 'GUEST|map:|gnttest|CUSTOM|INIT|ZONE' $GLOG
  if grep -q "GUEST: custom" $GLOG; then
    grep -q "GUEST: custom PASS" $GLOG && echo "RESULT: DOMU-CUSTOM PASS" || echo "RESULT: DOMU-CUSTOM FAIL"
  fi
  [ $SRC = 0 ] && grep -q "GUEST: gnttest PASS" $GLOG && echo "RESULT: DOM0-DOMU-GNTTEST PASS" || echo "RESULT: DOM0-DOMU-GNTTEST FAIL"
  [ $MRC = 0 ] && grep -q "GUEST: gnttest2 PASS" $GLOG && echo "RESULT: DOMU-DOM0-GNTTEST PASS" || echo "RESULT: DOMU-DOM0-GNTTEST FAIL"
fi
if [ -x /dom0-custom ]; then
  t "custom test"; /dom0-custom; echo "RESULT: DOM0-CUSTOM $([ $? = 0 ] && echo PASS || echo FAIL)"
fi
t "dom0 tests done"
IEOF
chmod +x init dom0-tests
mkhook() { if [ -n "$2" ]; then printf '#!/bin/sh\n%s\n' "$2" > $1; chmod +x $1; else rm -f $1; fi; }
mkhook dom0-custom "${DOM0_TEST:-}"
mkhook guest-custom "${GUEST_TEST:-}"
mkhook dom0-guest-custom "${DOM0_GUEST_TEST:-}"

# ---------------------------------------------------------------- 5. initramfs builder
mkinitrd() {   # mkinitrd <out.cpio.gz> [src:dst ...]
  local OUT=$1; shift
  local R; R=$(mktemp -d)
  mkdir -p $R/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,lib/modules/$KV,proc,sys,dev,tmp,run,etc,var/lib,root,lib64,lib/x86_64-linux-gnu,usr/lib/x86_64-linux-gnu,usr/lib/xen-$XV}
  ln -s /run $R/var/run
  cp /bin/busybox $R/bin/busybox
  for a in $(/bin/busybox --list); do [ -e $R/bin/$a ] || ln -s busybox $R/bin/$a; done
  for m in xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs/xenfs; do
    cp root/lib/modules/$KV/kernel/drivers/xen/$m.ko $R/lib/modules/$KV/; done
  cp -a root/usr/lib/xen-$XV/bin $R/usr/lib/xen-$XV/
  cp -a root/usr/lib/x86_64-linux-gnu/. $R/usr/lib/x86_64-linux-gnu/
  cp -a root/etc/xen $R/etc/
  cp -a root/usr/bin/xenstore $R/usr/bin/
  for b in read write ls list rm exists watch chmod; do ln -s xenstore $R/usr/bin/xenstore-$b; done
  cp gnttest $R/usr/local/bin/
  cp init $R/init
  local e src dst
  for e in "$@"; do src=${e%%:*}; dst=${e#*:}; mkdir -p $R/$(dirname $dst); cp -aL $src $R/$dst; done
  # shared libraries of every executable / library in the tree (host libc etc.)
  export LD_LIBRARY_PATH=$R/usr/lib/x86_64-linux-gnu
  { find $R -type f -perm -u+x; find $R/usr/lib/x86_64-linux-gnu -name '*.so*' -type f; } |
    while read -r f; do ldd "$f" 2>/dev/null | awk '/=> \//{print $3}' || true; done | sort -u |
    while read -r l; do case $l in $R/*) continue;; esac; mkdir -p $R/$(dirname $l); cp -L $l $R/$l; done
  unset LD_LIBRARY_PATH
  cp -L /lib64/ld-linux-x86-64.so.2 $R/lib64/
  cp -L /lib/x86_64-linux-gnu/libgcc_s.so.1 $R/lib/x86_64-linux-gnu/   # dlopen'ed by glibc for pthread_cancel (xl)
  echo 'root:x:0:0:root:/root:/bin/sh' > $R/etc/passwd; echo 'root:x:0:' > $R/etc/group
  (cd $R && find . | cpio -o -H newc -R 0:0 --quiet | gzip -1) > $OUT
  rm -rf $R
}

ts "building initramfs"
GEXTRA=""
[ -f guest-custom ] && GEXTRA="guest-custom:/guest-custom"
# shellcheck disable=SC2086
mkinitrd guest.cpio.gz $GEXTRA ${GUEST_EXTRA_FILES:-}
D0EXTRA="dom0-tests:/dom0-tests"
[ -f dom0-custom ] && D0EXTRA="$D0EXTRA dom0-custom:/dom0-custom"
[ -f dom0-guest-custom ] && D0EXTRA="$D0EXTRA dom0-guest-custom:/dom0-guest-custom"
[ $DOMU = 1 ] && D0EXTRA="$D0EXTRA guest.cpio.gz:/boot/guest.cpio.gz ${GUEST_KERNEL:-$VMLINUZ}:/boot/vmlinuz"
# shellcheck disable=SC2086
mkinitrd dom0.cpio.gz $D0EXTRA ${EXTRA_FILES:-}
ls -la dom0.cpio.gz

# ---------------------------------------------------------------- 6. boot
# TCG, not KVM: on this CI machine /dev/kvm is kvm-pvm (no VMX/SVM), which cannot run Xen.
# -cpu max,-smap: with SMAP exposed, TCG + Xen 4.17 crashes the PV dom0 (#PF[0001] in
# create_bounce_frame).  -cpu qemu64 also works.
XEN_CMD="console=com1 com1=115200 dom0_mem=512M,max:512M dom0_max_vcpus=2 loglvl=all guest_loglvl=all noreboot console_timestamps=boot"
DOM0_CMD="console=hvc0 earlyprintk=xen rdinit=/init"
[ $XSHELL = 1 ] && DOM0_CMD="$DOM0_CMD xshell"
QEMU=(qemu-system-x86_64 -machine q35 -accel tcg,tb-size=256 -cpu max,-smap -m 1024 -smp 2
      -nographic -no-reboot -net none
      -kernel xen -append "$XEN_CMD" -initrd "$VMLINUZ $DOM0_CMD,dom0.cpio.gz")
if [ $XSHELL = 1 ]; then
  ts "interactive dom0 shell (Ctrl-a x quits QEMU)"; exec "${QEMU[@]}"
fi
ts "booting: ${QEMU[*]}"
T0=$(date +%s.%N)
set +e
timeout "$QEMU_TIMEOUT" "${QEMU[@]}" < /dev/null > boot.log 2>&1
QRC=$?
set -e
T1=$(date +%s.%N)
tr -d '\r' < boot.log | grep -a -E '^(INIT|RESULT|GUEST|ZONE|share:|map:|Name|Domain-0|release|xen_version|virt_caps|total_memory|free_memory)|Unhandled|crashed|Panic|Kernel panic' || true
ts "qemu rc=$QRC, wall $(awk -v a=$T0 -v b=$T1 'BEGIN{printf "%.1f", b-a}')s, full log: $WORK/boot.log"
NPASS=$(grep -a -c '^RESULT: .* PASS' boot.log || true)
NFAIL=$(grep -a -c '^RESULT: .* FAIL' boot.log || true)
[ "$QRC" != 0 ] && NFAIL=$((NFAIL+1))
EXPECT=2; [ $DOMU = 1 ] && EXPECT=$((EXPECT+2)); [ -f dom0-custom ] && EXPECT=$((EXPECT+1))
[ $DOMU = 1 ] && [ -f guest-custom ] && EXPECT=$((EXPECT+1)); [ $DOMU = 1 ] && [ -f dom0-guest-custom ] && EXPECT=$((EXPECT+1))
[ "$NPASS" -lt "$EXPECT" ] && [ "$NFAIL" = 0 ] && NFAIL=$((EXPECT-NPASS))
echo "$NPASS passed, $NFAIL failed"
[ "$NFAIL" = 0 ]
