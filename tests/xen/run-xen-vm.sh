#!/bin/bash
# run-xen-vm.sh XEN_IDM_CHECK [BUILD_DIR]: the real-Xen job. Boots Xen 4.17 + a Debian 6.1 PV dom0 (and a PV domU) under
# QEMU once, runs the IDM checks of tests/xen/vm/dom0-checks.sh inside, prints one line per check and a final
# "N passed, N failed". Exit 0 = all passed, 1 = something failed, 77 = skipped (printed as "SKIP: why").
#
# Guest software comes from Debian packages fetched with `apt-get download` into a cache reused between runs
# (${XDG_CACHE_HOME:-$HOME/.cache}/xen-gpu/debs) and unpacked, never installed on the host.
# Environment:
#   XG_XEN_ACCEL=tcg|kvm   QEMU accelerator (default tcg: nested KVM without VMX cannot run Xen)
#   XG_XEN_TIMEOUT=1700    hard wall-clock limit for QEMU, seconds (a hang guard: the job takes 400-1100 s)
#   XG_XEN_SMP=2           virtual CPUs of the machine (and of dom0)
#   XG_XEN_CPU=max,-smap   QEMU -cpu model (SMAP must stay off: see below)
#   XG_XEN_CMDLINE_EXTRA   appended to the Xen command line (experiments)
#   XG_XEN_NO_DOMU=1       dom0-only checks (a, d, e)
#   XG_XEN_GUEST_KERNEL=F  the PV domUs' kernel (default: Debian's, as dom0's), e.g. the zone kernel of `make kernel`
#   XG_XEN_KEEP=1          keep the work dir (images, full console log) even on success
#   XG_XEN_GPU=0           skip the GPU-path checks (f) (they run by default when BUILD_DIR is given)
#   XG_ONLY_GPU=1          only the GPU-path checks (f), for quick iteration
#   XG_XEN_PODS=0          skip the Xen-mode pod checks (g) (they run by default with BUILD_DIR)
#   XG_ONLY_PODS=1         only the pod checks (g)
#   XG_POD_PROFILE=1       (g) also prints what two idle pods cost and how long single commands take
#   XG_GPU_REPEAT=N        run saxpy and copy_integrity N times in the domU (default 1), to hunt intermittent faults
#   XG_NOPS / XG_DOMU_NOPS / XG_BENCH_NOPS / XG_BENCH_PINGS   message counts (defaults 50000 / 50000 / 30000 /
#                          500: every count wraps the rings many times; under TCG the figures are only indicative,
#                          and each 100 k Nops is 5-30 s of the job's time, depending on the host's load)
# With BUILD_DIR (the CMake build holding gpu-proxy, xen-gpu, libvgpu, the simulated driver and the driver-API
# programs) the job also runs (f): gpu-proxy in dom0 serving a PV domU attached with `xen-gpu attach`, the
# domU running unmodified driver-API programs through libvgpu over the Xen transport, then destroyed mid-calls.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${1:?usage: run-xen-vm.sh path/to/xen-idm-check [build-dir]}
BUILD=${2:-}
[ -z "$BUILD" ] || BUILD=$(cd "$BUILD" && pwd)  # absolute: paths under it are filtered out of ldd listings
SKIP=77
skip() { echo "SKIP: $*"; exit $SKIP; }
ts() { echo "[xen-vm $(date +%T)] $*"; }
T_START=$(date +%s)

# ---------------------------------------------------------------- host tools
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not found (apt-get install qemu-system-x86)"
for t in cpio gzip dpkg-deb apt-get apt-cache ldd; do command -v $t >/dev/null || skip "$t not found"; done
BUSYBOX=$(command -v busybox || true)
[ -n "$BUSYBOX" ] && ! ldd "$BUSYBOX" >/dev/null 2>&1 || skip "a static busybox is needed (apt-get install busybox-static)"
[ -x "$BIN" ] || { echo "FAIL: $BIN is not built"; exit 1; }

# ---------------------------------------------------------------- packages (cached)
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/xen-gpu
mkdir -p "$CACHE/debs" || skip "cannot create $CACHE"
resolve() {
  KPKG=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
  XENHV=$(apt-cache search --names-only '^xen-hypervisor-4\.[0-9]+-amd64$' 2>/dev/null | awk '{print $1}' | sort -V | tail -1)
}
resolve
if [ -z "$KPKG" ] || [ -z "$XENHV" ]; then
  [ "$(id -u)" = 0 ] && apt-get update -qq >/dev/null 2>&1 && resolve
fi
[ -n "$KPKG" ] && [ -n "$XENHV" ] || skip "cannot resolve the Debian kernel / Xen hypervisor packages (no apt index?)"
XV=${XENHV#xen-hypervisor-}; XV=${XV%-amd64}
DEBPKGS="$KPKG $XENHV xen-utils-$XV xen-utils-common xenstore-utils libxencall1 libxenevtchn1 libxenforeignmemory1
  libxengnttab1 libxenmisc$XV libxenstore4 libxentoollog1 libyajl2 libxendevicemodel1 libxentoolcore1 libxenhypfs1"
STAMP=$KPKG-$XV
if [ ! -f "$CACHE/debs/.ok-$STAMP" ]; then
  ts "fetching $KPKG, $XENHV and the Xen userspace into $CACHE/debs"
  (cd "$CACHE/debs" && rm -f ./*.deb && apt-get download $DEBPKGS >/dev/null 2>"$CACHE/debs/download.log") ||
    skip "apt-get download failed: $(grep -v unsandboxed "$CACHE/debs/download.log" | tail -2 | tr '\n' ' ')"
  touch "$CACHE/debs/.ok-$STAMP"
fi
ROOT=$CACHE/root-$STAMP
if [ ! -f "$ROOT/.ok" ]; then
  rm -rf "$ROOT" && mkdir -p "$ROOT"
  for f in "$CACHE"/debs/*.deb; do dpkg-deb -x "$f" "$ROOT" || skip "cannot unpack $f"; done
  touch "$ROOT/.ok"
fi
KV=$(ls "$ROOT/lib/modules" | head -1)
VMLINUZ=$ROOT/boot/vmlinuz-$KV
[ -f "$VMLINUZ" ] && [ -f "$ROOT/boot/xen-$XV-amd64.gz" ] || skip "kernel or hypervisor missing from the packages"

# ---------------------------------------------------------------- images
WORK=$(mktemp -d "${TMPDIR:-/tmp}/xg-xen-vm.XXXXXX")
zcat "$ROOT/boot/xen-$XV-amd64.gz" > "$WORK/xen"   # an ELF32 multiboot image: QEMU -kernel loads it

# mkinitrd OUT [host-src:guest-dst ...]: busybox, the Xen modules, tools and libraries, our binary, and every
# shared library those need (ldd), plus libgcc_s.so.1 (glibc dlopens it for pthread_cancel; xl aborts without).
mkinitrd() {
  local out=$1; shift
  local R; R=$(mktemp -d "$WORK/rootfs.XXXXXX")
  mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,lib/modules/$KV,proc,sys,dev,tmp,run,etc,var/lib,root,lib64} \
           "$R"/usr/lib/x86_64-linux-gnu "$R"/lib/x86_64-linux-gnu "$R"/usr/lib/xen-$XV
  ln -s /run "$R/var/run"
  ln -s xen-$XV "$R/usr/lib/xen"
  cp "$BUSYBOX" "$R/bin/busybox"
  for a in $("$BUSYBOX" --list); do [ -e "$R/bin/$a" ] || ln -s busybox "$R/bin/$a"; done
  for m in xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs/xenfs; do
    cp "$ROOT/lib/modules/$KV/kernel/drivers/xen/$m.ko" "$R/lib/modules/$KV/"; done
  cp -a "$ROOT/usr/lib/xen-$XV/bin" "$R/usr/lib/xen-$XV/"
  cp -a "$ROOT/usr/lib/x86_64-linux-gnu/." "$R/usr/lib/x86_64-linux-gnu/"
  cp -a "$ROOT/etc/xen" "$R/etc/"
  cp -a "$ROOT/usr/bin/xenstore" "$R/usr/bin/"
  for b in read write ls list rm exists watch chmod; do ln -s xenstore "$R/usr/bin/xenstore-$b"; done
  cp "$BIN" "$R/usr/local/bin/xen-idm-check"
  cp "$HERE/vm/init.sh" "$R/init"
  local e
  for e in "$@"; do mkdir -p "$R/$(dirname "${e#*:}")"; cp -aL "${e%%:*}" "$R/${e#*:}"; done
  { find "$R" -type f -perm -u+x; find "$R/usr/lib/x86_64-linux-gnu" -name '*.so*' -type f; } |
    while read -r f; do LD_LIBRARY_PATH=$R/usr/lib/x86_64-linux-gnu ldd "$f" 2>/dev/null | awk '/=> \//{print $3}'; done |
    sort -u | while read -r l; do
      case $l in "$R"/*) continue;; esac
      mkdir -p "$R/$(dirname "$l")"; cp -L "$l" "$R/$l"; done
  cp -L /lib64/ld-linux-x86-64.so.2 "$R/lib64/"
  cp -L "$(gcc -print-file-name=libgcc_s.so.1 2>/dev/null || echo /lib/x86_64-linux-gnu/libgcc_s.so.1)" \
     "$R/lib/x86_64-linux-gnu/libgcc_s.so.1" 2>/dev/null || cp -L /lib/x86_64-linux-gnu/libgcc_s.so.1 "$R/lib/x86_64-linux-gnu/"
  echo 'root:x:0:0:root:/root:/bin/sh' > "$R/etc/passwd"; echo 'root:x:0:' > "$R/etc/group"
  (cd "$R" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -1) > "$out"
  rm -rf "$R"
}
cat > "$WORK/vm.env" <<EOV
XG_NOPS=${XG_NOPS:-50000}
XG_BENCH_NOPS=${XG_BENCH_NOPS:-30000}
XG_BENCH_PINGS=${XG_BENCH_PINGS:-500}
XG_ONLY_GPU=${XG_ONLY_GPU:-0}
XG_ONLY_PODS=${XG_ONLY_PODS:-0}
XG_POD_PROFILE=${XG_POD_PROFILE:-0}
EOV
# (f) the GPU path: our binaries under /opt/xg with the build tree's layout (gpu-proxy finds ../sim, xen-gpu
# finds ../libvgpu), in both images; the mkinitrd ldd pass copies their shared libraries.
GPU=()
GPU_PROGS="saxpy copy_integrity memory_ops reduce matmul streams_events errors module_data"
if [ -n "$BUILD" ] && [ "${XG_XEN_GPU:-1}" = 1 ]; then
  for f in gpu-proxy/gpu-proxy gpu-proxy/xen-gpu libvgpu/libcuda.so.1 sim/libcuda.so.1 sim/demo_kernels.so bench/demo_saxpy \
           $(for p in $GPU_PROGS; do echo cuda-programs/$p; done); do
    [ -e "$BUILD/$f" ] || { echo "FAIL: $BUILD/$f is not built"; exit 1; }
    GPU+=("$BUILD/$f:/opt/xg/$f")
  done
  { echo "XG_GPU_PROGS=\"$GPU_PROGS\""; echo "XG_GPU_REPEAT=${XG_GPU_REPEAT:-1}"; } > "$WORK/gpu.env"
  GPU+=("$WORK/gpu.env:/gpu.env")
fi
# (g) Xen-mode pods: containerd + our shim in dom0, each pod a PV domU booted from the zone initramfs
# (xg-zone-init as /init, the guest kernel's block/EROFS/overlay/Xen modules), an OCI image built offline.
PODS=()
if [ -n "$BUILD" ] && [ "${XG_XEN_GPU:-1}" = 1 ] && [ "${XG_XEN_PODS:-1}" = 1 ]; then
  missing=""
  GUEST_KERNEL_FOR_PODS=${XG_XEN_GUEST_KERNEL:-$VMLINUZ}
  for t in containerd ctr mkfs.erofs depmod perl xz strip; do command -v $t >/dev/null || missing="$missing $t"; done
  for f in cri-shim/containerd-shim-xen-gpu-v1 cri-shim/zone/xg-zone-init cri-shim/xg-cri-client cri-shim/xg-pty-run cri-shim/xg_pause; do [ -e "$BUILD/$f" ] || missing="$missing $BUILD/$f"; done
  if [ -n "$missing" ]; then
    echo "FAIL: the pod checks (g) need$missing (scripts/deps.sh installs containerd, erofs-utils and kmod; XG_XEN_PODS=0 skips them)"
    exit 1
  else
    M=$ROOT/lib/modules/$KV/kernel
    # The package has no modules.dep: depmod over a linked copy, then the zone's modules with their dependencies.
    KR=$WORK/kroot/lib/modules/$KV
    mkdir -p "$KR" && ln -s "$M" "$KR/kernel" && cp "$ROOT/lib/modules/$KV"/modules.{order,builtin}* "$KR/"
    depmod -b "$WORK/kroot" "$KV" || { echo "FAIL: depmod"; exit 1; }
    XG_BUILD=$BUILD "$HERE/../../cri-shim/zone/make-zone-initramfs.sh" "$WORK/zone.cpio.gz" --modules "$KR" \
      > "$WORK/zone-initramfs.log" 2>&1 || { echo "FAIL: zone initramfs"; cat "$WORK/zone-initramfs.log"; exit 1; }
    # The pods' kernel: the guest kernel as an uncompressed ELF. xl decompresses a bzImage itself, and Debian's is
    # xz-compressed: ~40 s of a pod's start under TCG (about a second on hardware).
    XZ_AT=$(perl -0777 -ne 'print index($_, "\xfd7zXZ\x00")' "$GUEST_KERNEL_FOR_PODS")
    [ "${XZ_AT:--1}" -ge 0 ] && tail -c +$((XZ_AT + 1)) "$GUEST_KERNEL_FOR_PODS" | xz -dc 2>/dev/null > "$WORK/vmlinux.full"
    strip -o "$WORK/vmlinux" "$WORK/vmlinux.full" 2>/dev/null || cp "$WORK/vmlinux.full" "$WORK/vmlinux"
    # Not xz (the zone kernel of `make kernel` may be gzip'd): xl takes the bzImage as it is.
    head -c 4 "$WORK/vmlinux" 2>/dev/null | grep -q ELF || cp "$GUEST_KERNEL_FOR_PODS" "$WORK/vmlinux"
    rm -f "$WORK/vmlinux.full"
    # The pods' image: driver-API programs, the simulated driver's kernels, busybox, their libraries; no libcuda.
    I=$WORK/img; mkdir -p "$I/bin" "$I/kernels"
    cp "$BUILD/cuda-programs/saxpy" "$BUILD/tests/integration/cross_zone" "$BUSYBOX" "$I/bin/"
    [ "$(basename "$BUSYBOX")" = busybox ] || mv "$I/bin/$(basename "$BUSYBOX")" "$I/bin/busybox"
    cp "$BUILD/sim/demo_kernels.so" "$I/kernels/"
    for f in "$I/bin/saxpy" "$I/bin/cross_zone" "$I/kernels/demo_kernels.so"; do
      LD_LIBRARY_PATH="$BUILD/libvgpu" ldd "$f" 2>/dev/null | grep -o '/[^ ]*' | grep -v "$BUILD" || true
    done | sort -u | while read -r l; do mkdir -p "$I$(dirname "$l")"; cp -L "$l" "$I$l"; done
    mkdir -p "$I/lib64" "$I/tmp"; cp -L /lib64/ld-linux-x86-64.so.2 "$I/lib64/"
    "$HERE/../../cri-shim/tests/make-oci-image.sh" "$I" xen-gpu.test/cuda:1 "$WORK/cuda.tar" || { echo "FAIL: OCI image"; exit 1; }
    # CRI's sandbox image (its pause container runs nothing in Xen mode, but containerd's CRI pulls it).
    mkdir -p "$WORK/pause-img" && cp "$BUILD/cri-shim/xg_pause" "$WORK/pause-img/pause"
    "$HERE/../../cri-shim/tests/make-oci-image.sh" "$WORK/pause-img" xen-gpu.test/pause:1 "$WORK/pause.tar" /pause ||
      { echo "FAIL: OCI image (pause)"; exit 1; }
    PODS=("$HERE/vm/pod-checks.sh:/pod-checks.sh" "$WORK/zone.cpio.gz:/boot/zone.cpio.gz" "$WORK/cuda.tar:/images/cuda.tar"
          "$WORK/pause.tar:/images/pause.tar" "$BUILD/cri-shim/xg-cri-client:/opt/xg/cri-shim/xg-cri-client"
          "$BUILD/cri-shim/xg-pty-run:/opt/xg/cri-shim/xg-pty-run"
          "$WORK/vmlinux:/boot/vmlinux"
          "$(command -v containerd):/usr/local/bin/containerd" "$(command -v ctr):/usr/local/bin/ctr"
          "$(command -v mkfs.erofs):/usr/bin/mkfs.erofs"
          "$BUILD/cri-shim/containerd-shim-xen-gpu-v1:/opt/xg/cri-shim/containerd-shim-xen-gpu-v1"
          "$HERE/../../cri-shim/xen/xg-block-hotplug:/opt/xg/xg-block-hotplug"
          "$M/drivers/block/loop.ko:/lib/modules/$KV/loop.ko"
          "$M/drivers/block/xen-blkback/xen-blkback.ko:/lib/modules/$KV/xen-blkback.ko")
  fi
fi
cp "$HERE/vm/domu-checks.sh" "$WORK/domu-checks.sh"
sed -i "2a export XG_DOMU_NOPS=${XG_DOMU_NOPS:-50000}" "$WORK/domu-checks.sh"
ts "building initramfs images (kernel $KV, Xen $XV)"
mkinitrd "$WORK/guest.cpio.gz" "$WORK/domu-checks.sh:/domu-checks.sh" ${GPU[@]+"${GPU[@]}"} ||
  { echo "FAIL: domU image"; exit 1; }
D0=("$HERE/vm/dom0-checks.sh:/dom0-checks.sh" "$WORK/vm.env:/vm.env" ${GPU[@]+"${GPU[@]}"} ${PODS[@]+"${PODS[@]}"})
GUEST_KERNEL=${XG_XEN_GUEST_KERNEL:-$VMLINUZ}
[ -f "$GUEST_KERNEL" ] || { echo "FAIL: XG_XEN_GUEST_KERNEL=$GUEST_KERNEL does not exist"; exit 1; }
[ "${XG_XEN_NO_DOMU:-0}" = 1 ] || D0+=("$WORK/guest.cpio.gz:/boot/guest.cpio.gz" "$GUEST_KERNEL:/boot/vmlinuz")
mkinitrd "$WORK/dom0.cpio.gz" "${D0[@]}" || { echo "FAIL: dom0 image"; exit 1; }

# ---------------------------------------------------------------- boot
# -cpu max,-smap: with SMAP exposed under TCG the PV dom0 dies at once (#PF in create_bounce_frame).
ACCEL=${XG_XEN_ACCEL:-tcg}
case $ACCEL in
  tcg) ACCEL_ARGS=(-accel tcg,tb-size=256) ;;
  kvm) [ -w /dev/kvm ] || skip "XG_XEN_ACCEL=kvm but /dev/kvm is not usable"; ACCEL_ARGS=(-accel kvm) ;;
  *) echo "FAIL: XG_XEN_ACCEL must be tcg or kvm"; exit 1 ;;
esac
SMP=${XG_XEN_SMP:-2}
# spec-ctrl=eager-fpu: Xen switches each vCPU's FPU/SSE/AVX state eagerly. Its default on an AMD-looking CPU
# (what TCG's "max" model reports) is lazy switching through CR0.TS/#NM, and under QEMU 7.2 TCG that loses vector
# registers across switches between domains: `xen-idm-check fpu` (check (f) below) saw 136 of 213 rounds come
# back changed in dom0, and memcpy-based bulk copies between the domains came out with 32-64-byte holes.
# Eager switching is what Xen does by default on CPUs exposed to LazyFP; nothing of ours depends on the choice.
# bootscrub=false: Xen would otherwise zero all free memory (~1.4 GiB) after boot, in its idle loop and
# synchronously for early allocations; under TCG that is minutes of CPU taken from the host's other tests, and
# pods created right after boot (XG_ONLY_PODS) took 33-99 s each to build instead of 4-7 s. A test machine holds
# no earlier tenant's data; a node keeps Xen's default.
XEN_CMD="console=com1 com1=115200 dom0_mem=1536M,max:1536M dom0_max_vcpus=$SMP loglvl=all guest_loglvl=all noreboot spec-ctrl=eager-fpu bootscrub=false ${XG_XEN_CMDLINE_EXTRA:-}"
QEMU=(qemu-system-x86_64 -machine q35 "${ACCEL_ARGS[@]}" -cpu "${XG_XEN_CPU:-max,-smap}" -m 3072 -smp $SMP -nographic -no-reboot
      -net none -kernel "$WORK/xen" -append "$XEN_CMD"
      -initrd "$VMLINUZ console=hvc0 earlyprintk=xen rdinit=/init,$WORK/dom0.cpio.gz")
ts "booting Xen under QEMU ($ACCEL), log $WORK/console.log"
T0=$(date +%s)
timeout --kill-after=10 "${XG_XEN_TIMEOUT:-1700}" "${QEMU[@]}" </dev/null >"$WORK/console.log" 2>&1 &
QPID=$!
# A dom0 that panics (Xen's `noreboot` then halts and QEMU idles) ends the run at once, not at the time limit.
while kill -0 $QPID 2>/dev/null; do
  if grep -a -q -E "Hardware Dom0 crashed|\(XEN\) Panic" "$WORK/console.log" 2>/dev/null; then
    sleep 2; pkill -P $QPID 2>/dev/null; kill $QPID 2>/dev/null; break
  fi
  sleep 2
done
wait $QPID
QRC=$?
VM_S=$(( $(date +%s) - T0 ))

# ---------------------------------------------------------------- report
tr -d '\r' < "$WORK/console.log" > "$WORK/console.txt"
grep -a -E '^(DOM0:|BENCH|  )' "$WORK/console.txt" | grep -a -v '^  *$' | grep -a -v -E '^\s+\[' || true
CHECKS=$(grep -a -E '^CHECK (PASS|FAIL) ' "$WORK/console.txt" | sed 's/^CHECK //')
echo "$CHECKS" | grep -v '^$' | sed 's/^/  /'
NPASS=$(echo "$CHECKS" | grep -c '^PASS' || true)
NFAIL=$(echo "$CHECKS" | grep -c '^FAIL' || true)
fail() { echo "  FAIL $*"; NFAIL=$((NFAIL+1)); }
[ "$QRC" = 0 ] || fail "vm: QEMU exit status $QRC (124 = hit XG_XEN_TIMEOUT)"
grep -a -q 'DOM0: .* ALL-DONE' "$WORK/console.txt" || fail "vm: the dom0 script did not finish"
grep -a -q -E 'Kernel panic|\(XEN\) Panic|ERROR: AddressSanitizer|runtime error:' "$WORK/console.txt" &&
  fail "vm: panic or sanitizer report in the console log"
[ "$NPASS" -gt 0 ] || fail "vm: no check ran"
echo "xen VM job: ${VM_S}s in QEMU, $(( $(date +%s) - T_START ))s in all"
echo "$NPASS passed, $NFAIL failed"
if [ "$NFAIL" = 0 ] && [ "${XG_XEN_KEEP:-0}" != 1 ]; then rm -rf "$WORK"; else echo "work dir kept: $WORK"; fi
[ "$NFAIL" = 0 ]
