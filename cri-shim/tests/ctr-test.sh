#!/usr/bin/env bash
# The shim with real components, driven by `ctr` as containerd's own tests drive runtimes: a private containerd
# (Debian's, own root/state/sockets, our shim on its PATH), Debian's runc, gpu-proxy on the simulated driver,
# OCI images built offline from local files and imported. Exits 77 (CTest SKIP, shown as such) without root,
# containerd, ctr or runc.
# Usage: ctr-test.sh BUILD_DIR
set -uo pipefail
B=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root (containerd, runc, mounts)"
for t in containerd ctr runc; do command -v $t >/dev/null || skip "$t not installed (scripts/deps.sh installs it)"; done

fails=0 checks=0
pass() { checks=$((checks+1)); echo "ok   $*"; }
fail() { checks=$((checks+1)); fails=$((fails+1)); echo "FAIL $*"; }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }

# shellcheck source=node-env.sh
source "$HERE/node-env.sh"

CUDA_ENV=(--env XG_KERNELS=/kernels/demo_kernels.so --env ASAN_OPTIONS=detect_leaks=0)
zones() { $XG zones --table; }
# The bracket keeps pgrep from matching a shell whose command line holds the pattern.
shims() { pgrep -f "$B/cri-shim/[c]ontainerd-shim-xen-gpu-v1" | wc -l; }
no_shim() { [ "$(shims)" -eq 0 ]; }
no_mount() { ! grep -q "/$1/rootfs " /proc/mounts; }  # containerd's bundle for container $1
wait_until() { local n=$1; shift; for _ in $(seq "$n"); do "$@" && return 0; sleep 0.1; done; return 1; }
no_zone() { ! zones | grep -q " $1 "; }
has_zone() { zones | grep -qE "$1"; }
task_running() { $CTR tasks ls | grep -qE "^$1 .*RUNNING"; }
task_dead() { ! $CTR tasks ls | grep -qE "^$1 " || $CTR tasks ls | grep -qE "^$1 .*STOPPED"; }
ran_ok() { [ "$1" -eq 0 ] && grep -q "$2" <<<"$3"; }

# Every event containerd receives, to check the shim published what containerd needs.
$CTR events >"$W/events.log" 2>&1 &
EV_PID=$!

# A name of its own: runc's state for runc.v2 containers is host-wide (/run/containerd/runc/<namespace>).
BY=xgs-bystander-$$
# ---- a plain runc container on the same containerd: must not notice any of this ----------------------------
$CTR run -d xen-gpu.test/pause:1 "$BY" /pause >/dev/null
check "runc bystander running" wait_until 50 task_running "$BY"

# ---- 1. an unmodified CUDA program in a container uses the pod's zone; its output arrives -----------------------
out=$($CTR run --rm --runtime $RT --annotation xen-gpu.io/memory=256MiB "${CUDA_ENV[@]}" xen-gpu.test/cuda:1 t-saxpy /bin/saxpy 2>&1)
rc=$?
echo "$out" | sed 's/^/     | /'
check "saxpy in a xen-gpu container exits 0" test $rc -eq 0
check "saxpy's output arrives through containerd" grep -q "saxpy: OK" <<<"$out"
check "the zone served it (proxy log names zone default.t-saxpy)" grep -q "'default.t-saxpy': program 1 registered" "$W/proxy.log"

# ---- 2. quota from the annotation, shown by xen-gpu zones; allocating past it is OUT_OF_MEMORY -----------------
$CTR run -d --runtime $RT --annotation xen-gpu.io/memory=300MiB --annotation xen-gpu.io/weight=3 "${CUDA_ENV[@]}" \
  xen-gpu.test/cuda:1 t-zone /bin/pause >/dev/null
check "xen-gpu zones shows default.t-zone with quota 300MiB, weight 3" \
  wait_until 50 has_zone ' default.t-zone +declared +300.0MiB .* 3 ' 
zones | sed 's/^/     | /'
# What the container was given: our library and its own zone's socket; nothing else of the proxy's.
CFG="$W/state/io.containerd.runtime.v2.task/default/t-zone/config.json"
mount_sources() { grep -o '"source":"[^"]*"' "$CFG"; }
check "container mounts its zone's own socket" grep -q "\"source\":\"$W/zones/default.t-zone.sock\"" <(mount_sources)
check "container has no admin socket, no shared zone socket" sh -c "! grep -qE 'admin.sock|\"$W/zone.sock\"' '$CFG'"
# Stats: containerd reads the container's cgroup figures from the shim (CRI's container stats, ctr's metrics).
out=$($CTR tasks metrics t-zone 2>&1)
echo "$out" | grep -E "pids.current|memory.usage_in_bytes|cpuacct.usage " | sed 's/^/     | /'
check "Stats: the container's pids, memory and CPU figures" \
  sh -c "echo '$out' | grep -qE '^pids.current +[1-9]' && echo '$out' | grep -qE '^memory.usage_in_bytes +[1-9]'"
out=$($CTR tasks exec --exec-id q1 t-zone /bin/quota_threads 300 2>&1); rc=$?
echo "$out" | sed 's/^/     | /'
check "exec in the container: the quota holds, past it CUDA_ERROR_OUT_OF_MEMORY" \
  ran_ok $rc 'then CUDA_ERROR_OUT_OF_MEMORY' "$out"
$CTR tasks kill -s KILL t-zone >/dev/null; sleep 0.5
$CTR tasks rm t-zone >/dev/null 2>&1; $CTR containers rm t-zone >/dev/null
check "stop/remove: no zone left" wait_until 30 no_zone default.t-zone
check "stop/remove: no shim left" wait_until 30 no_shim
check "stop/remove: no rootfs mount left" wait_until 30 no_mount t-zone
check "stop/remove: no zone socket left" test ! -e "$W/zones/default.t-zone.sock"

# ---- 3. a pod: sandbox + container in one shim, one zone named after the pod ------------------------------------
POD=(--annotation io.kubernetes.cri.sandbox-id=pod1 --annotation io.kubernetes.cri.sandbox-name=web
     --annotation io.kubernetes.cri.sandbox-namespace=team)
$CTR run -d --runtime $RT "${POD[@]}" --annotation io.kubernetes.cri.container-type=sandbox \
  --annotation xen-gpu.io/memory=128MiB xen-gpu.test/pause:1 pod1 /pause >/dev/null
out=$($CTR run --rm --runtime $RT "${POD[@]}" --annotation io.kubernetes.cri.container-type=container \
  "${CUDA_ENV[@]}" xen-gpu.test/cuda:1 pod1-gpu /bin/quota_threads 128 2>&1); rc=$?
echo "$out" | sed 's/^/     | /'
check "pod container: CUDA program ran in the pod's 128MiB zone" ran_ok $rc 'quota 128 MiB .* then CUDA_ERROR_OUT_OF_MEMORY' "$out"
check "pod container: zone team.web served it" grep -q "'team.web': program 1 registered" "$W/proxy.log"
check "one shim for the pod's two containers" test "$(shims)" -eq 1
# A program that reaches this pod's socket cannot claim another zone, and the shared socket cannot claim this one.
host_run() { env LD_LIBRARY_PATH="$B/libvgpu" XG_KERNELS="$B/sim/demo_kernels.so" ASAN_OPTIONS=detect_leaks=0 "$@" \
  "$B/cuda-programs/saxpy" >/dev/null 2>&1; }
host_run XEN_GPU_SOCKET="$W/zones/team.web.sock" XEN_GPU_ZONE=team.other; rc=$?
check "pod socket refuses another zone's name" sh -c "test $rc -ne 0 && grep -q \"refused for zone 'team.other'\" '$W/proxy.log'"
host_run XEN_GPU_SOCKET="$W/zone.sock" XEN_GPU_ZONE=team.web; rc=$?
check "shared zone socket refuses the pod's zone name" sh -c "test $rc -ne 0 && test \$(grep -c \"refused for zone 'team.web'\" '$W/proxy.log') -eq 1"
$CTR tasks kill -s TERM pod1 >/dev/null; sleep 0.5; $CTR tasks rm pod1 >/dev/null 2>&1; $CTR containers rm pod1 >/dev/null
check "pod end: zone team.web gone" wait_until 30 no_zone team.web
check "pod end: shim gone" wait_until 30 no_shim
check "pod end: no rootfs mount left" no_mount pod1

# ---- 4. a bad annotation is refused, with its name, and leaves nothing ------------------------------------------
out=$($CTR run --rm --runtime $RT --annotation xen-gpu.io/memory=lots xen-gpu.test/cuda:1 t-bad /bin/saxpy 2>&1); rc=$?
echo "$out" | sed 's/^/     | /'
check "bad annotation refused" test $rc -ne 0
check "the error names xen-gpu.io/memory" grep -q "xen-gpu.io/memory" <<<"$out"
$CTR containers rm t-bad >/dev/null 2>&1
check "bad annotation: no zone" no_zone default.t-bad
check "bad annotation: no shim" wait_until 30 no_shim
check "bad annotation: no mount" no_mount t-bad

# ---- 5. the shim SIGKILLed: containerd reports the container dead; cleanup leaves nothing -----------------------
$CTR run -d --runtime $RT "${CUDA_ENV[@]}" xen-gpu.test/cuda:1 t-kill /bin/pause >/dev/null
check "zone default.t-kill there before the kill" wait_until 50 has_zone " default.t-kill "
kill -9 "$(pgrep -f "$B/cri-shim/[c]ontainerd-shim-xen-gpu-v1.*-id t-kill")"
check "shim killed: containerd reports the task dead" wait_until 100 task_dead t-kill
check "shim killed: the proxy ended the zone" wait_until 50 no_zone default.t-kill
runc_gone() { ! runc --root "$W/runc/default" list 2>/dev/null | grep -q t-kill; }
check "shim killed: runc container gone" wait_until 50 runc_gone
$CTR tasks rm -f t-kill >/dev/null 2>&1; $CTR containers rm t-kill >/dev/null 2>&1
check "shim killed: no rootfs mount left" wait_until 50 no_mount t-kill
no_shim_socket() { ! ls "$W/s" 2>/dev/null | grep -q '^xg-'; }
check "shim killed: its socket removed" no_shim_socket
no_pause() { ! pgrep -f '^/bin/[p]ause$' >/dev/null; }  # t-kill's process (the bystander runs /pause)
check "shim killed: no container process left" wait_until 50 no_pause

# ---- OOM: the kernel kills a container over its memory limit; the shim tells containerd --------------------------
if [ -x "$W/img/cuda/bin/busybox" ]; then
  $CTR run --rm --runtime $RT --memory-limit 33554432 xen-gpu.test/cuda:1 t-oom \
    /bin/busybox sh -c 'x=0123456789abcdef; while :; do x=$x$x; done' >/dev/null 2>&1; rc=$?
  check "OOM: a container over its 32 MiB limit is killed (exit 137)" test $rc -eq 137
  oom_seen() { grep -q "/tasks/oom.*t-oom" "$W/events.log"; }
  check "OOM: /tasks/oom published for it" wait_until 30 oom_seen
else
  echo "NOTE: no /bin/busybox (busybox-static): the OOM check did not run"
fi

# ---- stdin: what the client writes reaches the process, and its end (CloseIO) ends the process's input ------
if [ -x "$W/img/cuda/bin/busybox" ]; then
  out=$(printf 'line one\nline two\n' | $CTR run --rm --runtime $RT xen-gpu.test/cuda:1 t-stdin /bin/busybox wc -l 2>&1); rc=$?
  check "stdin: the container read both lines, then EOF (wc -l says 2)" sh -c "test $rc -eq 0 && test '$(echo $out)' = 2"
fi

# ---- a terminal (ctr -t, kubectl exec -it): runc's pty, its master copied to and from containerd's FIFOs --------
if [ -x "$W/img/cuda/bin/busybox" ] && command -v script >/dev/null; then
  # script(1) gives ctr the terminal it insists on.
  out=$(script -qec "$CTR run -t --rm --runtime $RT xen-gpu.test/cuda:1 t-tty /bin/busybox sh -c 'tty; echo tty-done'" /dev/null 2>&1)
  out=$(tr -d '\r' <<<"$out")
  echo "$out" | sed 's/^/     | /'
  check "terminal: the container's process runs on a pty" grep -q '/dev/pts/' <<<"$out"
  check "terminal: its output arrives" grep -q 'tty-done' <<<"$out"
  # Typed input reaches the shell through the pty (the shell computes what we check, so an echo cannot pass).
  out=$( (sleep 1; printf 'echo typed-$((40+2))\nexit\n'; sleep 1) |
        script -qec "$CTR run -t --rm --runtime $RT xen-gpu.test/cuda:1 t-tty3 /bin/busybox sh" /dev/null 2>&1)
  check "terminal: typed input reaches the process" grep -q 'typed-42' <<<"$out"
  $CTR run -d --runtime $RT xen-gpu.test/cuda:1 t-tty2 /bin/pause >/dev/null
  out=$(script -qec "$CTR tasks exec -t --exec-id e1 t-tty2 /bin/busybox sh -c 'tty; echo exec-tty-done'" /dev/null 2>&1)
  check "terminal: an exec on a pty too (kubectl exec -it)" grep -q "exec-tty-done" <<<"$out"
  $CTR tasks kill -s KILL t-tty2 >/dev/null; sleep 0.5; $CTR tasks rm t-tty2 >/dev/null 2>&1; $CTR containers rm t-tty2 >/dev/null
fi

# ---- 6. the same through CRI, as kubelet drives containerd ----------------------------------------------------
if [ -x "$B/cri-shim/xg-cri-client" ]; then
  CRI=("$B/cri-shim/xg-cri-client" -e "unix://$W/c.sock" --name gpu --namespace ml --log-dir "$W/logs/ml-gpu"
       --annotation xen-gpu.io/memory=192MiB --annotation xen-gpu.io/weight=2)
  mkdir -p "$W/logs/ml-gpu"
  POD_ID=$("${CRI[@]}" run-pod 2>&1); rc=$?
  check "CRI RunPodSandbox with runtime handler xen-gpu" test $rc -eq 0
  [ $rc -eq 0 ] || echo "     | $POD_ID"
  if [ $rc -eq 0 ]; then
  check "CRI pod's zone ml.gpu: 192MiB, weight 2" wait_until 50 has_zone ' ml.gpu +declared +192.0MiB .* 2 '
  CID=$("${CRI[@]}" create "$POD_ID" app xen-gpu.test/cuda:1 --env XG_KERNELS=/kernels/demo_kernels.so \
        --env ASAN_OPTIONS=detect_leaks=0 -- /bin/pause 2>&1) && "${CRI[@]}" start "$CID"; rc=$?
  check "CRI CreateContainer + StartContainer" test $rc -eq 0
  out=$("${CRI[@]}" exec "$CID" /bin/quota_threads 192 2>&1); rc=$?
  echo "$out" | sed 's/^/     | /'
  check "CRI ExecSync: the pod's quota holds, past it CUDA_ERROR_OUT_OF_MEMORY" ran_ok $rc 'quota 192 MiB .* then CUDA_ERROR_OUT_OF_MEMORY' "$out"
  CID2=$("${CRI[@]}" create "$POD_ID" app2 xen-gpu.test/cuda:1 --env XG_KERNELS=/kernels/demo_kernels.so \
         --env ASAN_OPTIONS=detect_leaks=0 -- /bin/saxpy 2>&1) && "${CRI[@]}" start "$CID2"
  exited() { "${CRI[@]}" status "$CID2" 2>/dev/null | grep -q "CONTAINER_EXITED exit_code=0"; }
  check "CRI: a second container's CUDA program exits 0" wait_until 100 exited
  check "CRI: its output is in the pod's container log" grep -q "stdout F saxpy: OK" "$W/logs/ml-gpu/app2.log"
  "${CRI[@]}" stop "$CID" && "${CRI[@]}" rm "$CID" && "${CRI[@]}" rm "$CID2" && "${CRI[@]}" stop-pod "$POD_ID" &&
    "${CRI[@]}" rm-pod "$POD_ID"; rc=$?
  check "CRI StopContainer, RemoveContainer, StopPodSandbox, RemovePodSandbox" test $rc -eq 0
  fi
  check "CRI pod gone: no zone" wait_until 30 no_zone ml.gpu
  check "CRI pod gone: no shim" wait_until 30 no_shim
  check "CRI pod gone: no rootfs mount" sh -c "! grep -qE '/($POD_ID|$CID|$CID2)/rootfs ' /proc/mounts"
  runc_empty() { ! runc --root "$W/runc/k8s.io" list 2>/dev/null | grep -qE "$POD_ID|$CID"; }
  check "CRI pod gone: no runc container" runc_empty
  out=$("$B/cri-shim/xg-cri-client" -e "unix://$W/c.sock" --name bad --namespace ml --annotation xen-gpu.io/weight=0 run-pod 2>&1); rc=$?
  echo "$out" | sed 's/^/     | /'
  check "CRI: a bad annotation fails RunPodSandbox, naming xen-gpu.io/weight" ran_ok $((rc == 0)) 'xen-gpu.io/weight' "$out"
  # containerd reaps the refused pod's shim after answering: wait for it, as for the other pods.
  refused_pod_gone() { ! $XG zones --table | grep -q ml.bad && no_shim; }
  check "CRI: the refused pod leaves no zone and no shim" wait_until 100 refused_pod_gone
else
  echo "NOTE: xg-cri-client not built (libgrpc++-dev, protobuf-compiler-grpc missing): CRI checks not run"
fi

# ---- the bystander ---------------------------------------------------------------------------------------------
check "runc bystander still running, untouched" task_running "$BY"
no_worker() { ! pgrep -P "$PX_PID" >/dev/null; }
check "no gpu-proxy worker left" wait_until 30 no_worker

sleep 1; kill "$EV_PID" 2>/dev/null
for topic in /tasks/create /tasks/start /tasks/exit /tasks/delete /tasks/exec-added /tasks/exec-started; do
  check "containerd received $topic from the shim" grep -qE "$topic .*t-(zone|saxpy)" "$W/events.log"
done

echo "$((checks-fails))/$checks checks passed"
if [ $fails -ne 0 ]; then
  echo "--- containerd log (tail)"; tail -40 "$W/containerd.log"
  echo "--- proxy log (tail)"; tail -20 "$W/proxy.log"
  exit 1
fi
