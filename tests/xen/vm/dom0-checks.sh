#!/bin/sh
# Inside dom0: bring up the toolstack, then (a) loopback, (a') backend killed, (d) hostile, (e) bench, (b)+(c) with a
# PV domU, (f) GPU zones over Xen.
# Every outcome is a "CHECK PASS|FAIL name: detail" line; the host counts them.
T=/usr/local/bin/xen-idm-check
t() { echo "DOM0: [$(cut -d' ' -f1 /proc/uptime)s] $*"; }
# Each line ends with dom0's uptime, so a slow step shows between two checks.
check() { if [ "$1" = 0 ]; then r=PASS; else r=FAIL; fi; echo "CHECK $r $2${3:+: $3} [$(cut -d' ' -f1 /proc/uptime)s]"; }
# The binaries may be sanitizer builds: a report must fail the check, not scroll by.
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:symbolize=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
. /vm.env
# Every program runs under a hard limit; on failure its log tail goes to the console.
TO="timeout -s KILL ${XG_STEP_TIMEOUT:-400}"
dump() { for f in "$@"; do echo "---- $f (tail)"; tail -n 40 "$f" | sed 's/^/| /'; done; }
# no_sanitizer_report LOG NAME: a sanitizer report in LOG fails check NAME, and its start goes to the console.
no_sanitizer_report() {
  ! grep -a -q -E 'AddressSanitizer|runtime error|LeakSanitizer' "$1"; check $? "$2"
  grep -a -B2 -A30 -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error' "$1" | head -n 60 | sed 's/^/| /'
}

xenstored --pid-file /run/xenstored.pid || t "xenstored failed"
for i in 1 2 3 4 5 6 7 8 9 10; do [ -S /run/xenstored/socket ] && break; sleep 0.2; done
xen-init-dom0 >/dev/null || t "xen-init-dom0 failed"
t "toolstack up"

# Compares the Nop count/checksum a frontend sent with what the backend's session counted.
nop_match() {  # frontend-log backend-log session-regex name
  S=$(grep -a 'NOPSENT' "$1" | head -1 | sed 's/.*count=\([0-9]*\) sum=\([0-9]*\).*/\1 \2/')
  # A guest's console log can lose or splice a line (kernel messages share hvc0): then take the figures from
  # the frontend's own nop check line.
  [ -n "$S" ] || S=$(grep -a -E 'CHECK PASS [^ ]*nop: [0-9]+ posts, checksum [0-9]+' "$1" | head -1 |
                     sed 's/.*nop: \([0-9]*\) posts, checksum \([0-9]*\).*/\1 \2/')
  B=$(grep -a "SESSION .*$3" "$2" | head -1 | sed 's/.* nops=\([0-9]*\) nop_sum=\([0-9]*\) nop_order=\([a-zA-Z]*\).*/\1 \2 \3/')
  [ -n "$S" ] && [ "$B" = "$S ok" ]; check $? "$4" "sent '$S', backend counted '$B'"
}

XG_ONLY_GPU=${XG_ONLY_GPU:-0}  # 1: run only (f) (quick iteration on the GPU path)
if [ -f /boot/guest.cpio.gz ]; then xenconsoled --log=guest --log-dir=/var/log/xen/console || t "xenconsoled failed"; fi
cat > /tmp/guest.cfg <<EOC
name = "guest1"
type = "pv"
kernel = "/boot/vmlinuz"
ramdisk = "/boot/guest.cpio.gz"
extra = "console=hvc0 rdinit=/init quiet"
memory = 512
vcpus = 1
on_poweroff = "destroy"
on_crash = "destroy"
EOC
if [ "$XG_ONLY_GPU" != 1 ] && [ "${XG_ONLY_PODS:-0}" != 1 ]; then
# ---- (a) dom0 loopback: frontend and backend are two processes in dom0 (domid 0 grants to itself)
t "(a) loopback"
$TO $T backend --serve 0:1 --devid 1 --timeout 200 > /tmp/be-a.log 2>&1 & BP=$!
$TO $T frontend --backend-domid 0 --devid 1 --prefix loopback/ --nops $XG_NOPS > /tmp/fe-a.log 2>&1; FRC=$?
wait $BP; BRC=$?
grep -a '^CHECK' /tmp/fe-a.log
check $FRC loopback/frontend-exit "rc=$FRC"
check $BRC loopback/backend-exit "rc=$BRC"
nop_match /tmp/fe-a.log /tmp/be-a.log 'session=1' loopback/nop-count-and-checksum-at-backend
[ $FRC = 0 ] && [ $BRC = 0 ] || dump /tmp/fe-a.log /tmp/be-a.log

# ---- (a') the backend process killed mid-traffic: the frontend learns it from the liveness page (gntdev clears
# the backend's byte and signals the event channel when the dying process's mapping goes), not from a timeout.
t "(a') backend killed"
$TO $T backend --serve 0:1 --devid 4 --timeout 200 > /tmp/be-k.log 2>&1 & BP=$!
$TO $T frontend --backend-domid 0 --devid 4 --prefix killed/ --mode soak --soak-seconds 100 > /tmp/fe-k.log 2>&1 & FP=$!
n=0; while ! grep -q "BACKEND connected" /tmp/be-k.log && [ $n -lt 300 ]; do sleep 0.1; n=$((n+1)); done
sleep 1
K0=$(cut -d' ' -f1 /proc/uptime); kill -9 $BP; wait $FP; K1=$(cut -d' ' -f1 /proc/uptime)
KMS=$(awk -v a=$K0 -v b=$K1 'BEGIN{printf "%d", (b-a)*1000}')
grep -q 'SOAK end=peer-gone' /tmp/fe-k.log && [ "$KMS" -lt 3000 ]
check $? killed/frontend-sees-peer-gone "$(grep -a SOAK /tmp/fe-k.log), ${KMS} ms after kill -9"
# A new backend on the same device serves a new frontend (the dead one's nodes are rewritten).
$TO $T backend --serve 0:1 --devid 4 --timeout 200 > /tmp/be-k2.log 2>&1 & BP=$!
$TO $T frontend --backend-domid 0 --devid 4 --prefix killed-after/ --nops 5000 > /tmp/fe-k2.log 2>&1; FRC=$?
wait $BP; BRC=$?
check $([ $FRC = 0 ] && [ $BRC = 0 ]; echo $?) killed/new-backend-serves "frontend rc=$FRC, backend rc=$BRC"
[ $FRC = 0 ] && [ $BRC = 0 ] || dump /tmp/fe-k.log /tmp/be-k2.log /tmp/fe-k2.log

# ---- (d) hostile frontend against a backend that must survive and keep serving
t "(a) done"
t "(d) hostile"
$TO $T backend --serve 0:5 --devid 2 --timeout 200 > /tmp/be-d.log 2>&1 & BP=$!
$TO $T hostile --backend-domid 0 --devid 2 > /tmp/fe-d.log 2>&1; FRC=$?
wait $BP; BRC=$?
grep -a '^CHECK' /tmp/fe-d.log
check $FRC hostile/client-exit "rc=$FRC"
check $BRC hostile/backend-survived "rc=$BRC, $(grep -a -c 'rejecting frontend' /tmp/be-d.log) handshakes rejected and logged, $(grep -a -c '^SESSION' /tmp/be-d.log) sessions"
grep -a -E 'xen: rejecting|broke the ring' /tmp/be-d.log | sed 's/^/  backend log: /'
[ $FRC = 0 ] && [ $BRC = 0 ] || dump /tmp/fe-d.log /tmp/be-d.log

# ---- (e) figures: Ping RTT and Nop rate over Xen (loopback) and over shm, same VM
t "(e) bench"
$TO $T backend --serve 0:1 --devid 3 --timeout 200 > /tmp/be-e.log 2>&1 & BP=$!
$TO $T frontend --backend-domid 0 --devid 3 --prefix bench/ --mode bench --nops $XG_BENCH_NOPS --pings $XG_BENCH_PINGS > /tmp/fe-e.log 2>&1; FRC=$?
wait $BP; BRC=$?
grep -a -E '^(CHECK|BENCH)' /tmp/fe-e.log
[ $FRC = 0 ] && [ $BRC = 0 ] || dump /tmp/fe-e.log /tmp/be-e.log

# ---- (b) + (c): the frontend in a PV domU; then the domU is destroyed mid-traffic
if [ -f /boot/guest.cpio.gz ]; then
  t "(b) PV domU"
  xl create /tmp/guest.cfg >/dev/null 2>&1; check $? domU/xl-create
  G=$(xl domid guest1)
  t "guest domid $G"
  $TO $T backend --serve $G:2 --serve 0:1 --devid 0 --timeout 380 > /tmp/be-b.log 2>&1 & BP=$!
  GLOG=/var/log/xen/console/guest-guest1.log
  # (c) wait until the domU's second session (the soak) is connected and has run a moment, then destroy it.
  n=0; while ! grep -q "BACKEND connected domid=$G session=2" /tmp/be-b.log && [ $n -lt 1500 ]; do sleep 0.2; n=$((n+1)); done
  sleep 3
  grep -a '^CHECK' $GLOG
  nop_match $GLOG /tmp/be-b.log "domid=$G session=1" domU/nop-count-and-checksum-at-backend
  t "(c) xl destroy $G during traffic"
  xl destroy $G; check $? domU-destroy/xl-destroy
  n=0; while ! grep -q "SESSION domid=$G session=2" /tmp/be-b.log && [ $n -lt 50 ]; do sleep 0.2; n=$((n+1)); done
  L=$(grep -a "SESSION domid=$G session=2" /tmp/be-b.log)
  MS=$(echo "$L" | sed -n 's/.*silence_ms=\([0-9]*\).*/\1/p')
  [ -n "$MS" ] && [ "$MS" -lt 2000 ] && echo "$L" | grep -q 'end=peer-gone.*unmapped=1'
  check $? domU-destroy/backend-noticed "${MS:-?} ms after the last message; $(echo "$L" | sed -n 's/.*\(end=[^ ]*\).*/\1/p')"
  # A domain whose pages are still grant-mapped cannot die (it stays a zombie in `xl list`).
  n=0; while xl list | grep -q -E "guest1|\(null\)" && [ $n -lt 50 ]; do sleep 0.1; n=$((n+1)); done
  ! xl list | grep -q -E "guest1|\(null\)"; check $? domU-destroy/no-grant-left-mapped "domain fully released after $((n*100)) ms"
  # The same backend process now serves a new frontend (dom0 on the same device id).
  $TO $T frontend --backend-domid 0 --devid 0 --prefix after-destroy/ --nops 5000 > /tmp/fe-c.log 2>&1; FRC=$?
  grep -a '^CHECK' /tmp/fe-c.log
  check $FRC after-destroy/frontend-exit "rc=$FRC"
  wait $BP; BRC=$?
  check $BRC domU/backend-exit "rc=$BRC"
  grep -a -E '^(SESSION|BACKEND done)' /tmp/be-b.log | sed 's/^/  /'
  [ $FRC = 0 ] && [ $BRC = 0 ] || dump /tmp/be-b.log /tmp/fe-c.log $GLOG
fi
fi  # XG_ONLY_GPU

# ---- (f) GPU zones over Xen: gpu-proxy (simulated driver) in dom0 serves a PV domU attached with `xen-gpu
# attach`; the domU runs unmodified driver-API programs through libvgpu; then it is destroyed mid-calls, and the
# same proxy serves a second Xen zone (dom0 loopback) and an shm zone.
if [ -f /boot/guest.cpio.gz ] && [ -f /gpu.env ] && [ "${XG_ONLY_PODS:-0}" != 1 ]; then
  t "(f) GPU zone over Xen"
  . /gpu.env
  PX=/opt/xg/gpu-proxy/gpu-proxy XG=/opt/xg/gpu-proxy/xen-gpu
  export XG_KERNELS=/opt/xg/sim/demo_kernels.so
  # The proxy and its workers run with leak checking on (a sanitized build): a worker's leak at exit fails
  # gpu/no-sanitizer-report-in-proxy below.
  $PX --driver sim > /tmp/proxy.log 2>&1 & PXP=$!
  n=0; while [ ! -S /run/xen-gpu/admin.sock ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n+1)); done
  sed 's/guest1/gpu1/' /tmp/guest.cfg > /tmp/gpu.cfg
  xl create /tmp/gpu.cfg >/dev/null 2>&1; check $? gpu/xl-create
  G=$(xl domid gpu1)
  $XG attach --domid $G --quota 256MiB > /tmp/attach.out 2>&1; check $? gpu/xen-gpu-attach "$(cat /tmp/attach.out)"
  $XG zones --table > /tmp/zones.out; grep -q " xen-$G " /tmp/zones.out; check $? gpu/zone-listed "$(grep " xen-$G " /tmp/zones.out | awk '{print $1, $2, $3, $4}')"
  ! $XG attach --domid $G --name again > /tmp/attach2.out 2>&1; check $? gpu/second-attach-of-a-domain-refused "$(cat /tmp/attach2.out)"
  ! $XG attach --domid 32752 > /tmp/attach3.out 2>&1; check $? gpu/reserved-domid-refused
  GLOG=/var/log/xen/console/guest-gpu1.log
  # The platform under the copies: the domU holds patterns in its vector registers meanwhile (domu-checks.sh).
  $T fpu --seconds 6 --seed 7 --prefix dom0/ > /tmp/fpu0.log 2>&1 & FPUP=$!
  n=0; while ! grep -q "gpu soak starts" $GLOG 2>/dev/null && [ $n -lt 1200 ]; do sleep 0.2; n=$((n+1)); done
  wait $FPUP; grep -a '^CHECK' /tmp/fpu0.log || check 1 dom0/vector-registers-survive-domain-switches "$(tail -n 3 /tmp/fpu0.log)"
  t "domU programs done"
  grep -a -E '^(CHECK|\| )' $GLOG
  NP=$(grep -a -c '^CHECK PASS gpu-domU/' $GLOG); NW=$(echo $XG_GPU_PROGS | wc -w)
  [ "$NP" = "$NW" ]; check $? gpu/all-programs-passed-in-domU "$NP of $NW"
  # Two programs of the domain at once (the soak and a second one): each through its own device and worker,
  # one zone, one quota.
  n=0; while ! grep -q "DOMU: concurrent program starts" $GLOG && [ $n -lt 300 ]; do sleep 0.2; n=$((n+1)); done
  PMAX=0; n=0
  while ! grep -q "DOMU: concurrent program done" $GLOG && [ $n -lt 600 ]; do
    P=$($XG zones --table | awk -v z="xen-$G" '$2 == z { print $8 }')
    [ "${P:-0}" -gt "$PMAX" ] && PMAX=$P
    sleep 0.2; n=$((n+1))
  done
  grep -a '^CHECK .* gpu-domU-concurrent/' $GLOG
  grep -a -q '^CHECK PASS gpu-domU-concurrent/' $GLOG; check $? gpu/second-program-of-the-domain-served-while-the-first-runs
  [ "$PMAX" -ge 2 ]; check $? gpu/zone-listed-two-programs-at-once "at most $PMAX programs listed at once"
  # Destroy the domain while its worker serves the soak program (demo_saxpy, calls for 100 s) a moment.
  N0=$(grep -a -c "serving a program of domain $G" /tmp/proxy.log)
  n=0; while [ "$(grep -a -c "serving a program of domain $G" /tmp/proxy.log)" = "$N0" ] && [ $n -lt 150 ]; do sleep 0.1; n=$((n+1)); done
  sleep 2
  t "(f) xl destroy $G during calls"
  echo "  programs served for the domU: $(grep -a -c "serving a program of domain $G" /tmp/proxy.log)"
  xl destroy $G; check $? gpu-destroy/xl-destroy
  T0=$(cut -d' ' -f1 /proc/uptime)
  n=0; while ! grep -q "(Xen domain $G) ended after" /tmp/proxy.log && [ $n -lt 100 ]; do sleep 0.1; n=$((n+1)); done
  T1=$(cut -d' ' -f1 /proc/uptime)
  L=$(grep -a "(Xen domain $G) ended after" /tmp/proxy.log)
  [ -n "$L" ]; check $? gpu-destroy/worker-exited-and-daemon-logged "within $T0 -> $T1 s: ${L#*gpu-proxy}"
  grep -a -E "zone ended|program ended" /tmp/proxy.log | tail -n 2 | sed 's/^/  proxy log: /'
  # The soak program's worker saw its peer go mid-calls and reclaimed what it held. It may log "program ended"
  # (the dying domain is still listed until its grants are unmapped; the next worker then finds it gone).
  ML=$(grep -a -E "domid $G\]: (program|zone) ended: peer-gone; [1-9][0-9]* handles" /tmp/proxy.log | tail -n 1)
  [ -n "$ML" ]; check $? gpu-destroy/ended-mid-program "${ML#*]: }"
  ! $XG zones --table | grep -q "xen-$G "; check $? gpu-destroy/zone-gone-from-table
  n=0; while xl list | grep -q -E "gpu1|\(null\)" && [ $n -lt 50 ]; do sleep 0.1; n=$((n+1)); done
  ! xl list | grep -q -E "gpu1|\(null\)"; check $? gpu-destroy/domain-fully-released "after $((n*100)) ms"
  # The proxy keeps serving: a second Xen zone (dom0 loopback, domid 0) and an shm zone.
  $XG attach --domid 0 --name dom0-loop > /tmp/attach0.out 2>&1; check $? gpu-after/attach-dom0-loopback
  i=0; rc=0  # XG_GPU_REPEAT times each, as in the domU
  while [ $i -lt ${XG_GPU_REPEAT:-1} ] && [ $rc = 0 ]; do
    for p in saxpy copy_integrity; do
      [ $rc = 0 ] || break
      XEN_GPU_TRANSPORT=xen LD_LIBRARY_PATH=/opt/xg/libvgpu:/usr/lib/x86_64-linux-gnu $TO /opt/xg/cuda-programs/$p > /tmp/s0.out 2>&1; rc=$?
    done
    i=$((i+1))
  done
  check $rc gpu-after/xen-loopback-zone-saxpy-and-copy-integrity "$(tail -n 1 /tmp/s0.out) (round $i)"
  $XG detach dom0-loop; n=0; while ! grep -q "'dom0-loop' (Xen domain 0) ended after" /tmp/proxy.log && [ $n -lt 50 ]; do sleep 0.1; n=$((n+1)); done
  grep -q "'dom0-loop' (Xen domain 0) ended after" /tmp/proxy.log; check $? gpu-after/detach-ends-worker
  $TO $XG run --name shm-after -- /opt/xg/cuda-programs/saxpy > /tmp/s1.out 2>&1
  check $? gpu-after/shm-zone-saxpy "$(tail -n 1 /tmp/s1.out)"
  kill -0 $PXP; check $? gpu/proxy-alive
  # Every worker that served one of the domU's programs did so under the system-call filter.
  NF=$(grep -a -c "domid $G\]: system-call filter on" /tmp/proxy.log)
  NS=$(grep -a -c "serving a program of domain $G" /tmp/proxy.log)
  [ "$NF" -ge 1 ] && [ "$NF" = "$NS" ]; check $? gpu/xen-zone-workers-under-syscall-filter "$NF of $NS serving workers"
  no_sanitizer_report /tmp/proxy.log gpu/no-sanitizer-report-in-proxy
  kill -TERM $PXP; wait $PXP; check $? gpu/proxy-exits-0-on-sigterm
  grep -a -E "registered|ended after" /tmp/proxy.log | sed 's/^/  proxy log: /'
  [ "$NP" = "$NW" ] && [ -n "$L" ] || dump /tmp/proxy.log $GLOG /tmp/s0.out /tmp/s1.out
fi
# ---- (g) Xen-mode pods through containerd and our shim
[ -f /pod-checks.sh ] && . /pod-checks.sh
t "ALL-DONE"
