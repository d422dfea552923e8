#!/bin/sh
# Inside the PV domU: (b) conformance traffic to the backend in dom0, then (c) traffic until dom0 destroys us.
T=/usr/local/bin/xen-idm-check
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:symbolize=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
echo "DOMU: domid $(xenstore-read domid)"
$T frontend --backend-domid 0 --devid 0 --prefix domU/ --nops ${XG_DOMU_NOPS:-1100000} 2>&1
echo "CHECK $([ $? = 0 ] && echo PASS || echo FAIL) domU/frontend-exit"
echo "DOMU: soak starts"
$T frontend --backend-domid 0 --devid 0 --prefix domU-soak/ --mode soak --soak-seconds 120 2>&1
echo "DOMU: soak ended (not destroyed?)"
