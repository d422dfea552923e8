#!/bin/sh
# Inside dom0 (sourced by dom0-checks.sh after (f)): (g) Xen-mode pods. containerd with our shim in Xen mode; each
# pod is a PV domU booted by the shim from /boot/vmlinuz + the zone initramfs (xg-zone-init as PID 1); the
# container's root filesystem reaches it as an EROFS image on a hot-plugged read-only PV disk; its driver-API
# program runs through libvgpu over Xen against gpu-proxy in dom0.
# Uses check/t/dump/TO from dom0-checks.sh.
t "(g) Xen-mode pods"
for m in loop xen-blkback; do insmod /lib/modules/$(uname -r)/$m.ko 2>/dev/null; done
P=/tmp/pods; mkdir -p $P/root $P/state $P/s
PX=/opt/xg/gpu-proxy/gpu-proxy XG=/opt/xg/gpu-proxy/xen-gpu CTR="ctr -a $P/c.sock" RT=io.containerd.xen-gpu.v1
export XG_KERNELS=/opt/xg/sim/demo_kernels.so
ASAN_OPTIONS=$ASAN_OPTIONS:detect_leaks=0 $PX --driver sim > $P/proxy.log 2>&1 & PXP=$!
n=0; while [ ! -S /run/xen-gpu/admin.sock ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n+1)); done
cat > $P/shim.conf <<EOC
mode = xen
zone_kernel = /boot/vmlinuz
zone_initramfs = /boot/zone.cpio.gz
zone_memory = 192MiB
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

# ---- 1. a CUDA program in a Xen-mode pod: the domain boots, the program runs through libvgpu over Xen
T0=$(cut -d' ' -f1 /proc/uptime)
$TO $RUN --rm --annotation xen-gpu.io/memory=128MiB xen-gpu.test/cuda:1 xpod1 /bin/saxpy > $P/run1.out 2>&1; RC=$?
T1=$(cut -d' ' -f1 /proc/uptime)
sed 's/^/  | /' $P/run1.out | tail -n 8
grep -q "saxpy: OK" $P/run1.out || { tail -n 30 $P/containerd.log | sed 's/^/  containerd: /'; xenstore-ls /local/domain/0/backend/vbd 2>&1 | head -30 | sed 's/^/  xs: /'; }
grep -q "saxpy: OK" $P/run1.out && [ $RC = 0 ]
check $? pods/saxpy-in-a-xen-pod "rc=$RC, $(tail -n 1 $P/run1.out), $T0 -> $T1 s"
grep -a -q "'default.xpod1'.*(Xen domain" $P/proxy.log; check $? pods/zone-served-over-xen "$(grep -a "default.xpod1" $P/proxy.log | head -n 1 | cut -c1-160)"
! xl list | grep -q xpod1; check $? pods/domain-gone-after-rm
! $XG zones --table | grep -q " default.xpod1 "; check $? pods/zone-gone-after-rm

# ---- 2. a long-lived pod: exec into it, the zone listed, kill, delete
$TO $RUN -d --annotation xen-gpu.io/memory=128MiB xen-gpu.test/cuda:1 xpod2 /bin/busybox sleep 600 > $P/run2.out 2>&1
check $? pods/detached-pod-started "$(tail -n 1 $P/run2.out)"
n=0; while ! $CTR tasks ls | grep -q "^xpod2 .*RUNNING" && [ $n -lt 300 ]; do sleep 0.2; n=$((n+1)); done
xl list | grep -q xpod2; check $? pods/pod-is-a-domain "$(xl list | grep xpod2)"
$TO $CTR tasks exec --exec-id e1 xpod2 /bin/busybox sh -c 'echo exec-ok; hostname' > $P/exec.out 2>&1
grep -q exec-ok $P/exec.out; check $? pods/exec-into-the-zone "$(tr '\n' ' ' < $P/exec.out)"
$TO $CTR tasks exec --exec-id e2 --env XG_KERNELS=/kernels/demo_kernels.so xpod2 /bin/saxpy > $P/exec2.out 2>&1
grep -q "saxpy: OK" $P/exec2.out; check $? pods/exec-runs-cuda-in-the-zone "$(tail -n 1 $P/exec2.out)"
$XG zones --table | grep -q " default.xpod2 "; check $? pods/zone-listed "$($XG zones --table | grep " default.xpod2 " | awk '{print $1, $2, $3, $4}')"
$CTR tasks kill -s KILL xpod2 >/dev/null 2>&1
n=0; while ! $CTR tasks ls | grep -q "^xpod2 .*STOPPED" && [ $n -lt 150 ]; do sleep 0.2; n=$((n+1)); done
$CTR tasks ls | grep -q "^xpod2 .*STOPPED"; check $? pods/kill-stops-the-task "$($CTR tasks ls | grep xpod2)"
$CTR tasks rm xpod2 >/dev/null 2>&1; $CTR containers rm xpod2 >/dev/null 2>&1
n=0; while xl list | grep -q -E "xpod2|\(null\)" && [ $n -lt 100 ]; do sleep 0.1; n=$((n+1)); done
! xl list | grep -q -E "xpod2|\(null\)"; check $? pods/delete-destroys-the-domain
! $XG zones --table | grep -q " default.xpod2 "; check $? pods/delete-ends-the-zone

kill -0 $PXP; check $? pods/proxy-alive
kill $CDP; wait $CDP
kill -TERM $PXP; wait $PXP
grep -a -E "xen-gpu-shim|zone init|rootfs image" $P/containerd.log | tail -n 20 | sed 's/^/  shim: /'
for f in /var/log/xen/console/guest-default.xpod*.log; do [ -f "$f" ] && tail -n 15 "$f" | sed "s|^|  $(basename "$f"): |"; done
t "(g) done"
