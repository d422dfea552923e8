#!/bin/sh
# Inside dom0 (sourced by dom0-checks.sh after (f)): (g) Xen-mode pods. containerd with our shim in Xen mode; each
# pod is a PV domU booted by the shim from /boot/vmlinuz + the zone initramfs (xg-zone-init as PID 1); the
# container's root filesystem reaches it as an EROFS image on a hot-plugged read-only PV disk; its driver-API
# program runs through libvgpu over Xen against gpu-proxy in dom0. Two pods boot at once (each boot is minutes of
# TCG, so they overlap): pod A runs saxpy then sleeps (attached: its output comes through containerd's FIFOs),
# pod B sleeps (detached). Uses check/t/dump/TO from dom0-checks.sh.
t "(g) Xen-mode pods"
for m in loop xen-blkback; do insmod /lib/modules/$(uname -r)/$m.ko 2>/dev/null; done
P=/tmp/pods; mkdir -p $P/root $P/state $P/s
PX=/opt/xg/gpu-proxy/gpu-proxy XG=/opt/xg/gpu-proxy/xen-gpu CTR="ctr -a $P/c.sock" RT=io.containerd.xen-gpu.v1
SHIM=/opt/xg/cri-shim/containerd-shim-xen-gpu-v1
export XG_KERNELS=/opt/xg/sim/demo_kernels.so
ASAN_OPTIONS=$ASAN_OPTIONS:detect_leaks=0 $PX --driver sim > $P/proxy.log 2>&1 & PXP=$!
n=0; while [ ! -S /run/xen-gpu/admin.sock ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n+1)); done
cat > $P/shim.conf <<EOC
mode = xen
zone_kernel = /boot/vmlinux
zone_initramfs = /boot/zone.cpio.gz
zone_memory = 160MiB
block_script = /opt/xg/xg-block-hotplug
socket_dir = $P/s
EOC
cat > $P/containerd.toml <<EOC
version = 2
root = "$P/root"
state = "$P/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$P/c.sock"
[ttrpc]
  address = "$P/c.sock.ttrpc"
EOC
PATH=/opt/xg/cri-shim:$PATH XEN_GPU_SHIM_CONFIG=$P/shim.conf containerd -c $P/containerd.toml > $P/containerd.log 2>&1 & CDP=$!
n=0; while ! $CTR version >/dev/null 2>&1 && [ $n -lt 300 ]; do sleep 0.2; n=$((n+1)); done
$CTR version >/dev/null 2>&1; check $? pods/containerd-up "after $((n*200)) ms"
$TO $CTR images import --snapshotter native /images/cuda.tar > $P/import.log 2>&1; check $? pods/image-imported "$(tail -n 1 $P/import.log)"
RUN="$CTR run --snapshotter native --runtime $RT --env XG_KERNELS=/kernels/demo_kernels.so"
up() { cut -d' ' -f1 /proc/uptime; }
ms_since() { awk -v a="$1" -v b="$(up)" 'BEGIN { printf "%d", (b - a) * 1000 }'; }
running() { $CTR tasks ls | grep -q "^$1 .*RUNNING"; }
domain_gone() { ! xl list | grep -q -E "$1|\(null\)"; }
# Waits up to 300 s (a pod's boot under TCG takes one to two minutes, more with two at once).
wait_for() { n=0; while ! "$@" && [ $n -lt 1500 ]; do sleep 0.2; n=$((n+1)); done; "$@"; }

# ---- two pods at once ----------------------------------------------------------------------------------------
T0=$(up)
$RUN --rm --annotation xen-gpu.io/memory=96MiB xen-gpu.test/cuda:1 xpodA \
  /bin/busybox sh -c '/bin/saxpy; echo pod-a-sleeps; exec /bin/busybox sleep 600' > $P/a.out 2>&1 & RUNA=$!
$TO $RUN -d --annotation xen-gpu.io/memory=64MiB --annotation xen-gpu.io/weight=2 xen-gpu.test/cuda:1 xpodB \
  /bin/busybox sleep 600 > $P/b.out 2>&1 & RUNB=$!
saxpy_out() { grep -q "saxpy: OK" $P/a.out; }
wait_for saxpy_out; RCA=$?; A_MS=$(ms_since $T0)
check $RCA pods/saxpy-in-a-xen-pod "$(grep saxpy $P/a.out | head -n 1), first line ${A_MS} ms after ctr run (both pods booting)"
saxpy_out || { sed 's/^/  | /' $P/a.out | tail -n 20; tail -n 40 $P/containerd.log | sed 's/^/  containerd: /'; }
wait $RUNB; check $? pods/detached-pod-started "$(tail -n 1 $P/b.out)"
wait_for running xpodB; wait_for running xpodA
# Pod start's parts, from the shim's log (per pod: domain built, zone init answering, rootfs image).
for p in xpodA xpodB; do
  D=$(grep -a "pod $p: domain .* created in" $P/containerd.log | sed 's/.*created in \([0-9]*\) ms.*/\1/')
  Z=$(grep -a "pod $p: zone init answered" $P/containerd.log | sed 's/.*answered \([0-9]*\) ms.*/\1/')
  I=$(grep -a "$p: rootfs image built in" $P/containerd.log | sed 's/.*built in \([0-9]*\) ms.*/\1/')
  echo "BENCH pod-start $p: domain build ${D:-?} ms, kernel boot to zone init's answer ${Z:-?} ms, rootfs image ${I:-?} ms"
done
echo "BENCH pod-start xpodA: ctr run to the container's first output line ${A_MS} ms (QEMU/TCG, two pods booting at once)"
GA=$(xl domid default.xpodA 2>/dev/null); GB=$(xl domid default.xpodB 2>/dev/null)
[ -n "$GA" ] && [ -n "$GB" ] && [ "$GA" != "$GB" ]; check $? pods/two-pods-are-two-domains "default.xpodA=$GA default.xpodB=$GB"
$XG zones --table > $P/zones.out
grep -q " default.xpodA " $P/zones.out && grep -q " default.xpodB " $P/zones.out
check $? pods/two-zones-listed "$(grep -E ' default.xpod[AB] ' $P/zones.out | awk '{print $2, $4}' | tr '\n' ' ')"
# Each zone's grants and event channels are its own: the proxy attached A's zone to A's domain and B's to B's.
grep -a -q "'default.xpodA' registered (Xen domain $GA," $P/proxy.log && grep -a -q "'default.xpodB' registered (Xen domain $GB," $P/proxy.log
check $? pods/each-zone-bound-to-its-own-domain "$(grep -a -o "'default.xpod[AB]' registered (Xen domain [0-9]*" $P/proxy.log | tr '\n' ' ')"

# ---- exec into pod A: a shell, then a second CUDA program of the zone ---------------------------------------
$TO $CTR tasks exec --exec-id e1 xpodA /bin/busybox sh -c 'echo exec-ok; cat /proc/1/cmdline | tr "\0" " "' > $P/exec.out 2>&1
grep -q exec-ok $P/exec.out; check $? pods/exec-into-the-zone "$(tr '\n' ' ' < $P/exec.out)"
$TO $CTR tasks exec --exec-id e2 xpodA /bin/busybox env XG_KERNELS=/kernels/demo_kernels.so /bin/saxpy > $P/exec2.out 2>&1
grep -q "saxpy: OK" $P/exec2.out; check $? pods/exec-runs-cuda-in-the-zone "$(tail -n 1 $P/exec2.out)"

# ---- pod B's shim SIGKILLed: containerd's `delete` of our shim reclaims the domain and the zone ---------------
SB=$(ps | awk '/containerd-shim-xen-gpu-v1 .*-id xpodB / && !/awk/ {print $1}')
[ -n "$SB" ] && kill -9 $SB; check $? pods/shim-of-pod-b-killed "pid ${SB:-none}"
[ -n "$SB" ] || ps | grep -v '\[' | tail -n 20 | sed 's/^/  ps: /'
dead_b() { ! running xpodB; }
wait_for dead_b; check $? pods/containerd-sees-pod-b-dead "$($CTR tasks ls | grep xpodB)"
$CTR tasks rm -f xpodB >/dev/null 2>&1; $CTR containers rm xpodB >/dev/null 2>&1
wait_for domain_gone xpodB; check $? pods/dead-shims-domain-destroyed "$(xl list | grep -E 'xpodB|null')"
! $XG zones --table | grep -q " default.xpodB "; check $? pods/dead-shims-zone-ended
running xpodA; check $? pods/pod-a-unaffected

# ---- pod A killed: the attached `ctr run --rm` returns 137, the pod's domain, zone and workers are gone --------
$CTR tasks kill -s KILL xpodA >/dev/null 2>&1
wait $RUNA; RC=$?
[ $RC = 137 ]; check $? pods/kill-ends-the-pod "ctr run returned $RC"
wait_for domain_gone xpodA; check $? pods/delete-destroys-the-domain "no domain left, no zombie: $(xl list | tail -n +2 | awk '{print $1}' | tr '\n' ' ')"
! $XG zones --table | grep -q " default.xpod"; check $? pods/delete-ends-the-zones
no_workers() { [ -z "$(pgrep -P $PXP)" ]; }
wait_for no_workers; check $? pods/no-worker-left "$(pgrep -P $PXP | tr '\n' ' ')"
! pgrep -f "[c]ontainerd-shim-xen-gpu-v1" >/dev/null; check $? pods/no-shim-left
! grep -q "/tmp/pods/state" /proc/mounts; check $? pods/no-rootfs-mount-left
[ -z "$(losetup -a 2>/dev/null)" ]; check $? pods/no-loop-device-left "$(losetup -a 2>/dev/null | head -n 3)"

kill -0 $PXP; check $? pods/proxy-alive
kill $CDP; wait $CDP
kill -TERM $PXP; wait $PXP
grep -a "xen-gpu shim" $P/containerd.log | tail -n 30 | sed 's/^/  shim: /'
for f in /var/log/xen/console/guest-default.xpod*.log; do [ -f "$f" ] && tail -n 8 "$f" | sed "s|^|  $(basename "$f"): |"; done
t "(g) done"
