#!/usr/bin/env bash
# Pod start and stop latency through CRI, as kubelet sees it: the same pods on the same private node (see
# node-env.sh), alternately with containerd's runc handler (the baseline) and ours (xen-gpu: a shim per pod, the
# pod's zone declared on gpu-proxy, our library and the zone socket mounted), medians and the ratio.
#   start = RunPodSandbox + CreateContainer + StartContainer (a container running /bin/pause)
#   stop  = StopContainer + RemoveContainer + StopPodSandbox + RemovePodSandbox
# Usage: pod-start-bench.sh BUILD_DIR [PODS_PER_HANDLER]   (root; containerd, runc; xg-cri-client built)
set -uo pipefail
B=$(cd "$1" && pwd)
N=${2:-10}
HERE=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "pod-start-bench: needs root"; exit 1; }
for t in containerd ctr runc; do command -v $t >/dev/null || { echo "pod-start-bench: $t not installed"; exit 1; }; done
[ -x "$B/cri-shim/xg-cri-client" ] || { echo "pod-start-bench: $B/cri-shim/xg-cri-client not built"; exit 1; }
# shellcheck source=node-env.sh
source "$HERE/node-env.sh"

now() { date +%s%N; }
declare -A start stop
for i in $(seq "$N"); do
  for h in runc xen-gpu; do  # interleaved: drift on a shared machine hits both alike
    CRI=("$B/cri-shim/xg-cri-client" -e "unix://$W/c.sock" --handler "$h" --name "b$i-$h" --namespace bench)
    t0=$(now)
    pod=$("${CRI[@]}" run-pod) && cid=$("${CRI[@]}" create "$pod" c xen-gpu.test/cuda:1 -- /bin/pause) &&
      "${CRI[@]}" start "$cid" || { echo "pod-start-bench: $h pod $i failed"; exit 1; }
    t1=$(now)
    "${CRI[@]}" stop "$cid" && "${CRI[@]}" rm "$cid" && "${CRI[@]}" stop-pod "$pod" && "${CRI[@]}" rm-pod "$pod" ||
      { echo "pod-start-bench: $h pod $i did not stop"; exit 1; }
    t2=$(now)
    start[$h]+="$(( (t1 - t0) / 1000000 )) "
    stop[$h]+="$(( (t2 - t1) / 1000000 )) "
  done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
printf "%-8s %12s %12s   (%d pods each, ms; every pod's figures follow)\n" handler "start p50" "stop p50" "$N"
for h in runc xen-gpu; do
  printf "%-8s %12s %12s   start: %s| stop: %s\n" "$h" "$(median <<<"${start[$h]}")" "$(median <<<"${stop[$h]}")" "${start[$h]}" "${stop[$h]}"
done
rs=$(median <<<"${start[runc]}"); xs=$(median <<<"${start[xen-gpu]}")
rt=$(median <<<"${stop[runc]}"); xt=$(median <<<"${stop[xen-gpu]}")
awk -v rs="$rs" -v xs="$xs" -v rt="$rt" -v xt="$xt" \
  'BEGIN { printf "xen-gpu / runc: start %.2fx, stop %.2fx\n", xs / rs, xt / rt }'
