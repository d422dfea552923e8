#!/bin/sh
# Inside a PV domU. guest1: (b) conformance traffic to the backend in dom0, then (c) traffic until dom0 destroys
# us. gpu1: (f) unmodified driver-API programs through libvgpu over the Xen transport, then calls until destroyed.
T=/usr/local/bin/xen-idm-check
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:symbolize=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
echo "DOMU: domid $(xenstore-read domid) name $(xenstore-read name)"
# The kernel we run on (Debian's, or the zone kernel with XG_XEN_GUEST_KERNEL) and its Xen devices.
KDESC="kernel $(uname -r), $([ -e /proc/modules ] && echo "module support" || echo "no module support")"
missing=""; for d in gntdev gntalloc evtchn xenbus; do [ -c /dev/xen/$d ] || missing="$missing $d"; done
echo "CHECK $([ -z "$missing" ] && echo PASS || echo FAIL) domU/$(xenstore-read name)/xen-devices: $KDESC; /dev/xen/{gntdev,gntalloc,evtchn,xenbus}${missing:+ missing:$missing}"
if [ "$(xenstore-read name)" = gpu1 ]; then
  . /gpu.env
  export LD_LIBRARY_PATH=/opt/xg/libvgpu:/usr/lib/x86_64-linux-gnu XG_KERNELS=/opt/xg/sim/demo_kernels.so
  # dom0 runs `xen-gpu attach --domid <us>`: its worker creates our device node.
  n=0; while ! xenstore-read device/xen-gpu/0/backend-id >/dev/null 2>&1 && [ $n -lt 300 ]; do sleep 0.2; n=$((n+1)); done
  echo "DOMU: xen-gpu device node after $((n*200)) ms"
  $T fpu --seconds 4 --seed 3 --prefix domU/ 2>&1
  for p in $XG_GPU_PROGS; do
    t0=$(cut -d' ' -f1 /proc/uptime)
    # saxpy and copy_integrity run XG_GPU_REPEAT times (bulk copies through the data area); the first failure stops.
    case $p in saxpy|copy_integrity) reps=${XG_GPU_REPEAT:-1} ;; *) reps=1 ;; esac
    i=0; rc=0
    while [ $i -lt $reps ] && [ $rc = 0 ]; do
      timeout -s KILL 120 /opt/xg/cuda-programs/$p > /tmp/$p.out 2>&1; rc=$?; i=$((i+1))
    done
    t1=$(cut -d' ' -f1 /proc/uptime)
    R="$(tail -n 1 /tmp/$p.out) (rc=$rc, run $i of $reps, $t0 -> $t1 s)"
    echo "CHECK $([ $rc = 0 ] && echo PASS || echo FAIL) gpu-domU/$p: $R"
    [ $rc = 0 ] || tail -n 30 /tmp/$p.out | sed 's/^/| /' 
  done
  echo "DOMU: gpu soak starts"
  # demo_saxpy makes calls (copies, launches, syncs) for the seconds it is given: dom0 destroys us meanwhile.
  /opt/xg/bench/demo_saxpy 100 > /tmp/soak.out 2>&1 &
  SOAK=$!
  # A second program of the zone while the soak runs: served at once through its own device, not after it.
  sleep 3
  echo "DOMU: concurrent program starts"
  timeout -s KILL 120 /opt/xg/cuda-programs/saxpy > /tmp/conc.out 2>&1; rc=$?
  echo "CHECK $([ $rc = 0 ] && echo PASS || echo FAIL) gpu-domU-concurrent/saxpy-while-the-soak-runs: $(tail -n 1 /tmp/conc.out) (rc=$rc)"
  [ $rc = 0 ] || tail -n 20 /tmp/conc.out | sed 's/^/| /'
  echo "DOMU: concurrent program done"
  wait $SOAK
  echo "DOMU: gpu soak ended (not destroyed?) rc=$?"; tail -n 5 /tmp/soak.out
fi
$T frontend --backend-domid 0 --devid 0 --prefix domU/ --nops ${XG_DOMU_NOPS:-50000} 2>&1
echo "CHECK $([ $? = 0 ] && echo PASS || echo FAIL) domU/frontend-exit"
echo "DOMU: soak starts"
$T frontend --backend-domid 0 --devid 0 --prefix domU-soak/ --mode soak --soak-seconds 120 2>&1
echo "DOMU: soak ended (not destroyed?)"
