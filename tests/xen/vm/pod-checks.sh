#!/bin/sh
# Inside dom0 (sourced by dom0-checks.sh after (f)): (g) Xen-mode pods. containerd with our shim in Xen mode; each
# pod is a PV domU booted by the shim from /boot/vmlinuz + the zone initramfs (xg-zone-init as PID 1); the
# container's root filesystem reaches it as an EROFS image on a hot-plugged read-only PV disk; its driver-API
# program runs through libvgpu over Xen against gpu-proxy in dom0. Two pods boot at once (each boot is a minute of
# TCG, so they overlap): pod A through `ctr run` (attached: its output comes through containerd's FIFOs), pod B
# through CRI as kubelet makes one (RunPodSandbox, CreateContainer, StartContainer; its output in the CRI log
# file, ExecSync into it); at the end A's domain is destroyed behind the shim's back. Uses check/t/dump/TO from
# dom0-checks.sh.
t "(g) Xen-mode pods"
for m in loop xen-blkback; do insmod /lib/modules/$(uname -r)/$m.ko 2>/dev/null; done
P=/tmp/pods; mkdir -p $P/root $P/state $P/s
PX=/opt/xg/gpu-proxy/gpu-proxy XG=/opt/xg/gpu-proxy/xen-gpu CTR="ctr -a $P/c.sock" RT=io.containerd.xen-gpu.v1
SHIM=/opt/xg/cri-shim/containerd-shim-xen-gpu-v1
export XG_KERNELS=/opt/xg/sim/demo_kernels.so
$PX --driver sim > $P/proxy.log 2>&1 & PXP=$!
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
[grpc]
  address = "$P/c.sock"
[ttrpc]
  address = "$P/c.sock.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  restrict_oom_score_adj = true
  sandbox_image = "xen-gpu.test/pause:1"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
    default_runtime_name = "xen-gpu"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.xen-gpu]
      runtime_type = "io.containerd.xen-gpu.v1"
      pod_annotations = ["xen-gpu.io/*"]
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.xen-gpu.options]
        ConfigPath = "$P/shim.conf"
EOC
# What containerd's CRI copies into host-network sandboxes (a real dom0 has them).
[ -f /etc/hosts ] || echo "127.0.0.1 localhost" > /etc/hosts
[ -f /etc/resolv.conf ] || : > /etc/resolv.conf
[ "$(hostname)" != "(none)" ] || hostname dom0
PATH=/opt/xg/cri-shim:$PATH XEN_GPU_SHIM_CONFIG=$P/shim.conf containerd -c $P/containerd.toml > $P/containerd.log 2>&1 & CDP=$!
n=0; while ! $CTR version >/dev/null 2>&1 && [ $n -lt 300 ]; do sleep 0.2; n=$((n+1)); done
$CTR version >/dev/null 2>&1; check $? pods/containerd-up "after $((n*200)) ms"
$TO $CTR images import --snapshotter native /images/cuda.tar > $P/import.log 2>&1 &&
  for i in cuda pause; do $TO $CTR -n k8s.io images import --snapshotter native /images/$i.tar; done >> $P/import.log 2>&1
check $? pods/images-imported "$(tail -n 1 $P/import.log)"
CRI="/opt/xg/cri-shim/xg-cri-client -e unix://$P/c.sock --name gpu --namespace ml --log-dir $P/logs --annotation xen-gpu.io/memory=64MiB --annotation xen-gpu.io/weight=2"
mkdir -p $P/logs
RUN="$CTR run --snapshotter native --runtime $RT --env XG_KERNELS=/kernels/demo_kernels.so"
up() { cut -d' ' -f1 /proc/uptime; }
ms_since() { awk -v a="$1" -v b="$(up)" 'BEGIN { printf "%d", (b - a) * 1000 }'; }
running() { $CTR tasks ls | grep -q "^$1 .*RUNNING"; }
domain_gone() { ! xl list | grep -q -E "$1|\(null\)"; }
# Waits up to 300 s (a pod's boot under TCG takes one to two minutes, more with two at once).
wait_for() { n=0; while ! "$@" && [ $n -lt 1500 ]; do sleep 0.2; n=$((n+1)); done; "$@"; }

t "(g) containerd up, images imported; two pods start"
# ---- two pods at once ----------------------------------------------------------------------------------------
T0=$(up)
$RUN --rm --annotation xen-gpu.io/memory=96MiB xen-gpu.test/cuda:1 xpodA \
  /bin/busybox sh -c '/bin/saxpy; echo pod-a-sleeps; exec /bin/busybox sleep 3600' > $P/a.out 2>&1 & RUNA=$!
# Pod B through CRI: the sandbox (our shim boots the domain; nothing runs in it), then the container.
( POD=$($CRI run-pod) && echo "$POD" > $P/pod.id &&
  CID=$($CRI create "$POD" app xen-gpu.test/cuda:1 --env XG_KERNELS=/kernels/demo_kernels.so --seccomp runtime-default -- \
        /bin/busybox sh -c '/bin/saxpy; echo pod-b-sleeps; exec /bin/busybox sleep 3600') && echo "$CID" > $P/cid &&
  $CRI start "$CID" ) > $P/b.out 2>&1 & RUNB=$!
saxpy_out() { grep -q "saxpy: OK" $P/a.out; }
wait_for saxpy_out; RCA=$?; A_MS=$(ms_since $T0)
check $RCA pods/saxpy-in-a-xen-pod "$(grep saxpy $P/a.out | head -n 1), first line ${A_MS} ms after ctr run (both pods booting)"
saxpy_out || { sed 's/^/  | /' $P/a.out | tail -n 20; tail -n 40 $P/containerd.log | sed 's/^/  containerd: /'; }
wait $RUNB; RCB=$?; POD=$(cat $P/pod.id 2>/dev/null); CID=$(cat $P/cid 2>/dev/null)
check $RCB pods/cri-run-pod-create-start "pod ${POD:-none}, container ${CID:-none}$([ $RCB = 0 ] || echo ": $(tail -n 2 $P/b.out)")"
[ $RCB = 0 ] || for f in /var/log/xen/console/guest-*.log; do grep -a -v '^\[' "$f" | tail -n 30 | sed "s|^|  $(basename "$f"): |"; done
cri_log() { grep -q "stdout F saxpy: OK" $P/logs/app.log 2>/dev/null; }
wait_for cri_log; RCL=$?; B_MS=$(ms_since $T0)
check $RCL pods/cri-container-output-in-its-log "$(grep -a saxpy $P/logs/app.log | head -n 1)"
t "(g) both pods answered"
wait_for running xpodA
# XG_POD_PROFILE=1: what things cost here, printed, not judged (TCG): two idle pods (both containers asleep)
# over 10 s (dom0's CPU, then top's per-process view of it; each domain's CPU), then the
# wall time of single commands (a process's start-up under TCG, with and without its exit-time leak check).
if [ "${XG_POD_PROFILE:-0}" = 1 ]; then
  cpu_busy() { awk '/^cpu /{print $2+$3+$4+$7+$8, $5+$6}' /proc/stat; }
  dom_s() { xl list | awk -v n="$1" '$1 == n {print $6}'; }
  B0=$(cpu_busy); DA0=$(dom_s default.xpodA); DB0=$(dom_s ml.gpu); sleep 10
  B1=$(cpu_busy); DA1=$(dom_s default.xpodA); DB1=$(dom_s ml.gpu)
  echo "$B0 $B1 $DA0 $DA1 $DB0 $DB1" | awk '{ busy = $3 - $1; idle = $4 - $2;
    printf "BENCH idle pods (10 s): dom0 %.0f%% busy, domain A %.1f s, domain B %.1f s (per process: top below)\n",
           100 * busy / (busy + idle), $6 - $5, $8 - $7 }'
  top -b -n 2 -d 3 2>/dev/null | awk '/^Mem:/ { n++ } n == 2' | head -n 14 | sed 's/^/  | top: /'
  took() { a=$(up); "$@" > /dev/null 2>&1; rc=$?; echo "BENCH took $(ms_since $a) ms (exit $rc): $*" | cut -c1-160; }
  took xl list
  took $CTR version
  took $XG zones --table
  took env ASAN_OPTIONS=$ASAN_OPTIONS:detect_leaks=0 $XG zones --table
  took /opt/xg/cri-shim/xg-cri-client --help
  took $CRI exec "$CID" /bin/busybox true
  took $CTR tasks exec --exec-id p1 xpodA /bin/busybox true
  took $CTR tasks exec --exec-id p2 xpodA /bin/busybox true
fi
# Pod start's parts, from the shim's log (per pod: domain built, zone init answering, rootfs image).
for pc in xpodA:xpodA:xpodA "$POD:$CID:ml.gpu"; do
  p=${pc%%:*}; c=${pc#*:}; c=${c%%:*}; name=${pc##*:}  # the pod (sandbox) id, its container's id, a short name
  D=$(grep -a "pod $p: domain .* created in" $P/containerd.log | sed 's/.*created in \([0-9]*\) ms.*/\1/')
  Z=$(grep -a "pod $p: zone init answered" $P/containerd.log | sed 's/.*answered \([0-9]*\) ms.*/\1/')
  I=$(grep -a "$c: rootfs image built in" $P/containerd.log | sed 's/.*built in \([0-9]*\) ms.*/\1/')
  echo "BENCH pod-start $name: domain build ${D:-?} ms, kernel boot to zone init's answer ${Z:-?} ms, rootfs image ${I:-?} ms"
done
echo "BENCH pod-start xpodA: ctr run to the container's first output line ${A_MS} ms (QEMU/TCG, two pods booting at once)"
echo "BENCH pod-start ml.gpu (CRI): RunPodSandbox to the container's first line in its CRI log <= ${B_MS} ms (seen after pod A's)"
GA=$(xl domid default.xpodA 2>/dev/null); GB=$(xl domid ml.gpu 2>/dev/null)
[ -n "$GA" ] && [ -n "$GB" ] && [ "$GA" != "$GB" ]; check $? pods/two-pods-are-two-domains "default.xpodA=$GA ml.gpu=$GB"
$XG zones --table > $P/zones.out
grep -q " default.xpodA " $P/zones.out && grep -q " ml.gpu " $P/zones.out
check $? pods/two-zones-listed "$(grep -E ' (default.xpodA|ml.gpu) ' $P/zones.out | awk '{print $2, $4}' | tr '\n' ' ')"
# Each zone's grants and event channels are its own: the proxy attached A's zone to A's domain and B's to B's.
grep -a -q "'default.xpodA' registered (Xen domain $GA," $P/proxy.log && grep -a -q "'ml.gpu' registered (Xen domain $GB," $P/proxy.log
check $? pods/each-zone-bound-to-its-own-domain "$(grep -a -o "'[a-z.A-Z]*' registered (Xen domain [0-9]*" $P/proxy.log | tr '\n' ' ')"
# ExecSync into the CRI pod's container (kubelet's exec probes and `kubectl exec` without a terminal).
OUT=$($TO $CRI exec "$CID" /bin/busybox sh -c 'echo exec-sync-ok; exit 3' 2>&1); RC=$?
[ $RC = 3 ] && [ "$OUT" = exec-sync-ok ]; check $? pods/cri-exec-sync "output '$OUT', exit code $RC"

t "(g) pod B: stats and process set-up"
# ---- BEGIN pod B's container as runc would set it up (issue 16: cgroup, Stats, process set-up in the zone) ------
# CRI ContainerStats (containerd's CRI -> our Stats -> CtlStats -> the container's cgroup v2 in the zone), then
# ExecSync reads what the zone init set up, compared with what containerd wrote into the container's spec.
BSPEC=$P/state/io.containerd.runtime.v2.task/k8s.io/$CID/config.json
STATS=$($TO $CRI stats "$CID" 2>&1)
CPU_NS=$(echo "$STATS" | sed -n 's/.*cpu_usage_core_nano_seconds=\([0-9][0-9]*\).*/\1/p')
WSET=$(echo "$STATS" | sed -n 's/.*memory_working_set_bytes=\([0-9][0-9]*\).*/\1/p')
[ "${CPU_NS:-0}" -gt 0 ] && [ "${WSET:-0}" -gt 0 ]; check $? pods/cri-container-stats "$STATS"
$TO $CTR -n k8s.io tasks metrics "$CID" 2>&1 | sed 's/^/  | ctr tasks metrics: /'
# The exec is in the container's cgroup, which is the root of the container's own cgroup namespace (as under
# runc): /proc/self/cgroup says "0::/", and /sys/fs/cgroup is that cgroup (its pids, its files), read-only.
CGS=$($TO $CRI exec "$CID" /bin/busybox sh -c 'cat /proc/self/cgroup; grep -qx "$$" /sys/fs/cgroup/cgroup.procs &&
  echo own-pid-listed; [ -r /sys/fs/cgroup/memory.current ] && echo memory-current; touch /sys/fs/cgroup/x 2>/dev/null ||
  echo read-only; grep " /dev/mqueue " /proc/mounts' 2>&1)
[ "$(echo "$CGS" | head -n 1)" = "0::/" ] && echo "$CGS" | grep -qx own-pid-listed && echo "$CGS" | grep -qx memory-current &&
  echo "$CGS" | grep -qx read-only
check $? pods/cri-exec-in-the-containers-cgroup-namespace "saw '$(echo "$CGS" | tr '\n' '|')'"
echo "$CGS" | grep -q "^mqueue /dev/mqueue mqueue "; check $? pods/cri-container-has-dev-mqueue "$(echo "$CGS" | grep mqueue)"
STAT=$($TO $CRI exec "$CID" /bin/busybox sh -c \
  '/bin/busybox grep -E "^(NoNewPrivs|CapBnd|CapEff|Groups|Seccomp):" /proc/self/status; echo "nofile $(ulimit -n)"
   echo "init-seccomp $(/bin/busybox grep "^Seccomp:" /proc/1/status | /bin/busybox cut -f2)"' 2>&1)
got() { echo "$STAT" | sed -n "s/^$1:*[[:space:]]*//p" | head -n 1; }
# The spec's bounding set as /proc/PID/status prints it (config.json is compact: containerd's json.Marshal).
W_BND=$(grep -o '"bounding":\[[^]]*\]' "$BSPEC" 2>/dev/null | head -n 1 | sed 's/^"bounding":\[//; s/\]$//' |
  tr -d '"' | tr ',' '\n' | awk 'BEGIN { n = split("CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID " \
    "SETUID SETPCAP LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE " \
    "SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG " \
    "MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND " \
    "AUDIT_READ PERFMON BPF CHECKPOINT_RESTORE", c, " "); for (i = 1; i <= n; i++) bit["CAP_" c[i]] = i - 1 }
    ($0 in bit) && !seen[$0]++ { b = bit[$0]; p = 1; for (k = b % 32; k > 0; k--) p *= 2; if (b < 32) lo += p; else hi += p }
    END { printf "%08x%04x%04x\n", hi, int(lo / 65536), lo % 65536 }')
grep -q '"noNewPrivileges":true' "$BSPEC" 2>/dev/null && W_NNP=1 || W_NNP=0
W_NOFILE=$(grep -o '"type":"RLIMIT_NOFILE","hard":[0-9]*,"soft":[0-9]*' "$BSPEC" 2>/dev/null | sed 's/.*"soft"://')
[ -f "$BSPEC" ] && [ "$(got NoNewPrivs)" = "$W_NNP" ] && [ "$(got CapBnd)" = "$W_BND" ] &&
  { [ -z "$W_NOFILE" ] || [ "$(got nofile)" = "$W_NOFILE" ]; }
check $? pods/cri-exec-process-set-up-as-the-spec-says "saw NoNewPrivs=$(got NoNewPrivs) CapBnd=$(got CapBnd) CapEff=$(got CapEff) Groups='$(got Groups)' nofile=$(got nofile); spec$([ -f "$BSPEC" ] || echo " (config.json not found)"): NoNewPrivs=$W_NNP CapBnd=$W_BND nofile=${W_NOFILE:-none}"
[ -n "$(got CapBnd)" ] || echo "$STAT" | sed 's/^/  | exec: /'
# CRI's RuntimeDefault seccomp profile (containerd's, in the spec): the shim compiled it, the zone init installed
# it on the container's first process and on this exec (Seccomp 2: filter mode).
grep -q '"seccomp":{"defaultAction"' "$BSPEC" 2>/dev/null && [ "$(got Seccomp)" = 2 ] && [ "$(got init-seccomp)" = 2 ]
check $? pods/cri-seccomp-runtime-default-in-the-zone "exec Seccomp=$(got Seccomp), the container's first process $(got init-seccomp); spec $(grep -o '"defaultAction":"[A-Z_]*"' "$BSPEC" 2>/dev/null | head -n 1)"
grep -a "seccomp" $P/containerd.log | tail -n 2 | sed 's/^/  shim: /'
# ---- END pod B's container as runc would set it up ---------------------------------------------------------------

t "(g) the spec's mounts"
# ---- BEGIN the spec's mounts in a Xen pod (issue 16: CRI's /etc files, host files and directories, emptyDir) ---
# CRI writes the pod's hosts, resolv.conf and hostname in the sandbox's directory and passes them as bind mounts;
# the shim copies them into the container's mount image, the zone init binds them over the image's own.
SBX=$P/root/io.containerd.grpc.v1.cri/sandboxes/$POD
for f in hosts resolv.conf hostname; do
  SEEN=$($TO $CRI exec "$CID" /bin/busybox cat /etc/$f 2>&1); RC=$?
  WANT=$(cat "$SBX/$f" 2>/dev/null)
  [ $RC = 0 ] && [ -f "$SBX/$f" ] && [ "$SEEN" = "$WANT" ]
  check $? pods/mounts-cri-etc-$f "saw '$(echo "$SEEN" | head -n 3 | tr '\n' '|')' (exit $RC); CRI's $SBX/$f: '$(echo "$WANT" | head -n 3 | tr '\n' '|')'"
done
# A second container of pod B with a host file (read-only), a host directory (read-write: a copy, writes stay in
# the zone) holding a symlink that leads out of it, and an empty host directory (an emptyDir: a pod volume).
mkdir -p $P/vol/dir/sub $P/vol/empty && echo host-file-content > $P/vol/file && echo host-dir-content > $P/vol/dir/sub/f &&
  ln -sfn /etc/shadow $P/vol/dir/link
# It also asks for limits (32 MiB, half a CPU): checked below.
MCID=$($TO $CRI create "$POD" mounts xen-gpu.test/cuda:1 --mount $P/vol/file:/mnt/file:ro --mount $P/vol/dir:/mnt/dir \
  --mount $P/vol/empty:/mnt/empty --memory 33554432 --cpu-quota 50000 --cpu-period 100000 \
  -- /bin/busybox sleep 600 2> $P/mounts-start.out) &&
  $TO $CRI start "$MCID" >> $P/mounts-start.out 2>&1
check $? pods/mounts-container-with-host-mounts-started "container '${MCID:-none}' $(tail -n 1 $P/mounts-start.out 2>/dev/null)"
OUT=$($TO $CRI exec "$MCID" /bin/busybox sh -c '/bin/busybox cat /mnt/file; /bin/busybox cat /mnt/dir/sub/f;
  echo "link $(/bin/busybox readlink /mnt/dir/link)"
  if echo x 2>/dev/null >> /mnt/file; then echo ro-write-taken; else echo ro-write-refused; fi
  echo y > /mnt/dir/new && echo "rw-write $(/bin/busybox cat /mnt/dir/new)"
  echo e > /mnt/empty/e && echo empty-write-ok' 2>&1); RC=$?
echo "$OUT" | sed 's/^/  | mounts: /'
[ $RC = 0 ] && echo "$OUT" | grep -qx host-file-content && echo "$OUT" | grep -qx host-dir-content
check $? pods/mounts-host-file-and-dir-content "saw $(echo "$OUT" | head -n 2 | tr '\n' '|') (exit $RC)"
echo "$OUT" | grep -qx "link /etc/shadow"; check $? pods/mounts-symlink-copied-as-a-symlink "$(echo "$OUT" | grep '^link')"
echo "$OUT" | grep -qx ro-write-refused && [ "$(cat $P/vol/file)" = host-file-content ]
check $? pods/mounts-ro-file-refuses-a-write "$(echo "$OUT" | grep ro-write); host file: '$(cat $P/vol/file)'"
echo "$OUT" | grep -qx "rw-write y" && [ ! -e $P/vol/dir/new ]
check $? pods/mounts-rw-dir-writable-in-the-zone-only "$(echo "$OUT" | grep rw-write); on the host $P/vol/dir/new $([ -e $P/vol/dir/new ] && echo exists || echo absent)"
# The empty host directory is an emptyDir: the write lands in the pod's volume in the zone, the host's stays empty.
echo "$OUT" | grep -qx empty-write-ok && [ -z "$(ls -A $P/vol/empty)" ]
check $? pods/mounts-emptydir-in-the-zone "$(echo "$OUT" | grep empty-write); host dir: '$(ls -A $P/vol/empty | tr '\n' ' ')'"
grep -a "$MCID.*mount image\|standard mount" $P/containerd.log | tail -n 3 | sed 's/^/  shim: /'
# Limits through CRI: containerd's CRI wrote the container's resources into its spec, the shim sent them in
# CtlStart, the zone init wrote them into the container's cgroup v2. Read back through Stats (ctr's view of our
# v2 Metrics), then enforced: dd with a 64 MiB buffer in the container is OOM-killed under the 32 MiB limit.
MET=$($TO $CTR -n k8s.io tasks metrics "$MCID" 2>&1)
echo "$MET" | grep -E "^(memory.usage|cpu)" | sed 's/^/  | metrics: /'
echo "$MET" | grep -Eq "^memory.usage_limit[[:space:]]+33554432[[:space:]]*$"
check $? pods/cri-memory-limit-in-the-zones-cgroup "$(echo "$MET" | grep usage_limit); spec: $(grep -o '"memory":{"limit":[0-9]*' $P/state/io.containerd.runtime.v2.task/k8s.io/$MCID/config.json 2>/dev/null)"
# What the container itself reads (JVMs and Go runtimes size themselves by these files).
LIM=$($TO $CRI exec "$MCID" /bin/busybox sh -c 'cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max' 2>&1)
[ "$(echo "$LIM" | tr '\n' '|')" = "33554432|50000 100000|" ]
check $? pods/cri-limits-seen-in-the-containers-cgroupfs "memory.max|cpu.max: '$(echo "$LIM" | tr '\n' '|')'"
OUT=$($TO $CRI exec "$MCID" /bin/busybox dd if=/dev/zero of=/dev/null bs=64M count=1 2>&1); RC=$?
[ $RC = 137 ]; check $? pods/cri-memory-limit-enforced "dd bs=64M under a 32 MiB limit: exit $RC $(echo "$OUT" | tail -n 1)"
OUT=$($TO $CRI exec "$MCID" /bin/busybox dd if=/dev/zero of=/dev/null bs=4M count=1 2>&1); RC=$?
[ $RC = 0 ]; check $? pods/cri-memory-limit-leaves-room "dd bs=4M: exit $RC"
# CRI UpdateContainerResources (kubelet's in-place resize): containerd's Update -> CtlUpdate -> the cgroup's files.
$TO $CRI update "$MCID" --memory 50331648 --cpu-quota 20000 --cpu-period 100000 > $P/update.out 2>&1; RC=$?
LIM=$($TO $CRI exec "$MCID" /bin/busybox sh -c 'cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max' 2>&1)
[ $RC = 0 ] && [ "$(echo "$LIM" | tr '\n' '|')" = "50331648|20000 100000|" ]
check $? pods/cri-update-container-resources "update exit $RC $(tail -n 1 $P/update.out); now memory.max|cpu.max: '$(echo "$LIM" | tr '\n' '|')'"
# containerd's Pause and Resume (`ctr tasks pause/resume`): CtlFreeze on the container's cgroup in the zone.
$TO $CTR -n k8s.io tasks pause "$MCID" > $P/pause.out 2>&1; RC=$?
PST=$($CTR -n k8s.io tasks ls 2>/dev/null | awk -v id="$MCID" '$1 == id {print $3}')
$TO $CTR -n k8s.io tasks resume "$MCID" >> $P/pause.out 2>&1; RC2=$?
RST=$($CTR -n k8s.io tasks ls 2>/dev/null | awk -v id="$MCID" '$1 == id {print $3}')
EV=$($TO $CRI exec "$MCID" /bin/busybox grep frozen /sys/fs/cgroup/cgroup.events 2>&1)
[ $RC = 0 ] && [ "$PST" = PAUSED ] && [ $RC2 = 0 ] && [ "$RST" = RUNNING ] && [ "$EV" = "frozen 0" ]
check $? pods/pause-and-resume-freeze-the-container "pause exit $RC -> $PST, resume exit $RC2 -> $RST, then '$EV' $(tail -n 1 $P/pause.out)"
# CRI StopContainer: containerd's SIGTERM, then (the container's first process is its PID namespace's init and
# has no handler, so it ignores SIGTERM) SIGKILL after the 5 s timeout; both reach the zone as CtlSignal.
$TO $CRI stop "$MCID" > $P/mstop.out 2>&1; RC=$?
MST=$($TO $CRI status "$MCID" 2>&1)
[ $RC = 0 ] && echo "$MST" | grep -q "^CONTAINER_EXITED exit_code=137"
check $? pods/cri-stop-kills-through-the-control-channel "stop exit $RC $(tail -n 1 $P/mstop.out); status: $MST"
$TO $CRI rm "$MCID" > /dev/null 2>&1
# ---- END the spec's mounts in a Xen pod --------------------------------------------------------------------------

t "(g) exec into pod A"
# ---- exec into pod A: a shell, then a second CUDA program of the zone ---------------------------------------
$TO $CTR tasks exec --exec-id e1 xpodA /bin/busybox sh -c 'echo exec-ok; cat /proc/1/cmdline | tr "\0" " "' > $P/exec.out 2>&1
grep -q exec-ok $P/exec.out; check $? pods/exec-into-the-zone "$(tr '\n' ' ' < $P/exec.out)"
$TO $CTR tasks exec --exec-id e2 xpodA /bin/busybox env XG_KERNELS=/kernels/demo_kernels.so /bin/saxpy > $P/exec2.out 2>&1
grep -q "saxpy: OK" $P/exec2.out; check $? pods/exec-runs-cuda-in-the-zone "$(tail -n 1 $P/exec2.out)"
# On a terminal (`ctr tasks exec -t`, run on a pty of 33x111 by xg-pty-run): the exec's stdio is a terminal of
# the container's own devpts (`tty` names it), and ctr's ResizePty (its own terminal's size, sent after the start: until then the terminal is 0x0, as
# under runc) reaches it through CtlResize.
$TO /opt/xg/cri-shim/xg-pty-run 33 111 $CTR tasks exec -t --exec-id tty1 xpodA /bin/busybox sh -c \
  '[ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo zone-tty-yes; echo "name $(tty)"; for i in 1 2 3 4 5 6 7 8 9 10; do s=$(stty size 2>/dev/null);
   case "$s" in [1-9]*) break;; esac; sleep 0.5; done; echo "size $s"; exit 4' > $P/tty.out 2>&1; RC=$?
grep -q zone-tty-yes $P/tty.out && grep -q "size 33 111" $P/tty.out && grep -q "name /dev/pts/[0-9]" $P/tty.out &&
  [ $RC = 4 ]
check $? pods/exec-on-a-terminal-resized "exit $RC, $(tr -d '\r' < $P/tty.out | tr '\n' '|' | cut -c1-200)"

t "(g) cross-pod GPU memory"
# ---- two pods cannot reach each other's GPU memory: pod A holds 1 MiB filled with 0xA5, pod B is handed its
# device address and tries to read, write and copy it; A then finds its bytes unchanged
$CTR tasks exec --exec-id hold xpodA /bin/cross_zone hold /tmp/release-hold > $P/hold.out 2>&1 & HOLDP=$!
held() { grep -q "hold ptr=" $P/hold.out; }
wait_for held
PTR=$(sed -n 's/.*hold ptr=\(0x[0-9a-f]*\).*/\1/p' $P/hold.out | head -n 1)
OUT=$($TO $CRI exec "$CID" /bin/cross_zone peek "${PTR:-0}" 2>&1); RC=$?
[ -n "$PTR" ] && [ $RC = 0 ]; check $? pods/other-pods-gpu-memory-refused "A holds ${PTR:-nothing}; in B: $OUT (exit $RC)"
$TO $CTR tasks exec --exec-id release xpodA /bin/busybox touch /tmp/release-hold
exited() { ! kill -0 "$1" 2>/dev/null; }
wait_for exited $HOLDP; wait $HOLDP; RC=$?
[ $RC = 0 ] && grep -q "hold intact" $P/hold.out; check $? pods/pod-a-memory-intact "$(tail -n 1 $P/hold.out) (exit $RC)"

t "(g) pod B's shim killed"
# ---- pod B's shim SIGKILLed: containerd's `delete` of our shim reclaims the domain and the zone; CRI then stops
# and removes the pod as kubelet would
SB=$(ps | awk -v id="$POD" '$0 ~ "containerd-shim-xen-gpu-v1 .*-id " id " " && !/awk/ {print $1}')
[ -n "$SB" ] && kill -9 $SB; check $? pods/shim-of-pod-b-killed "pid ${SB:-none}"
[ -n "$SB" ] || ps | grep -v '\[' | tail -n 20 | sed 's/^/  ps: /'
wait_for domain_gone ml.gpu; check $? pods/dead-shims-domain-destroyed "$(xl list | grep -E 'ml.gpu|null')"
gone_b() { ! $XG zones --table | grep -q " ml.gpu "; }
wait_for gone_b; check $? pods/dead-shims-zone-ended
$CRI stop "$CID" > $P/cri-rm.out 2>&1 && $CRI rm "$CID" >> $P/cri-rm.out 2>&1 && $CRI stop-pod "$POD" >> $P/cri-rm.out 2>&1 &&
  $CRI rm-pod "$POD" >> $P/cri-rm.out 2>&1
check $? pods/cri-stop-and-remove-after-the-shim-died "$(tail -n 1 $P/cri-rm.out)"
running xpodA; check $? pods/pod-a-unaffected

t "(g) pod A's domain destroyed"
# ---- pod A's domain dies on its own (xl destroy, as a guest crash would look): the shim's watcher reports the
# container's exit (137), the attached `ctr run --rm` returns it and deletes the task; nothing of the pod is left
xl destroy default.xpodA
wait_for exited $RUNA; wait $RUNA; RC=$?
[ $RC = 137 ]; check $? pods/domain-dying-is-the-containers-exit "ctr run returned $RC; shim: $(grep -a 'xpodA' $P/containerd.log | grep -a -i 'gone\|ended' | tail -n 1)"
wait_for domain_gone xpodA; check $? pods/delete-destroys-the-domain "no domain left, no zombie: $(xl list | tail -n +2 | awk '{print $1}' | tr '\n' ' ')"
! $XG zones --table | grep -q " default.xpod"; check $? pods/delete-ends-the-zones
no_workers() { [ -z "$(pgrep -P $PXP)" ]; }
wait_for no_workers; check $? pods/no-worker-left "$(pgrep -P $PXP | tr '\n' ' ')"
! pgrep -f "[c]ontainerd-shim-xen-gpu-v1" >/dev/null; check $? pods/no-shim-left
! grep -q "/tmp/pods/state" /proc/mounts; check $? pods/no-rootfs-mount-left
[ -z "$(losetup -a 2>/dev/null)" ]; check $? pods/no-loop-device-left "$(losetup -a 2>/dev/null | head -n 3)"

kill -0 $PXP; check $? pods/proxy-alive
kill $CDP; wait $CDP
kill -TERM $PXP; wait $PXP; check $? pods/proxy-exits-0-on-sigterm
# The proxy and its workers ran with leak checking on (a sanitized build): every worker's exit was checked.
no_sanitizer_report $P/proxy.log pods/no-sanitizer-report-in-proxy
grep -a "xen-gpu shim" $P/containerd.log | tail -n 30 | sed 's/^/  shim: /'
for f in /var/log/xen/console/guest-*.log; do [ -f "$f" ] && tail -n 8 "$f" | sed "s|^|  $(basename "$f"): |"; done
t "(g) done"
