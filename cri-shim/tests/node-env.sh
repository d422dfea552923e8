# A private node for the shim's test and benchmark (sourced, with B = the build dir, HERE = this directory):
# gpu-proxy on the simulated driver, our shim's config, Debian's containerd with its own root/state/sockets, our
# shim on its PATH and the CRI plugin configured with a `xen-gpu` handler as on a real node, and two images built
# offline and imported (xen-gpu.test/pause:1, xen-gpu.test/cuda:1). Defines W (the work dir), CTR, RT, XG and an
# EXIT trap that removes everything (XG_KEEP=1 keeps $W).
W=$(mktemp -d /tmp/xgs.XXXXXX)   # short: socket paths are limited to 107 bytes
CTR="ctr -a $W/c.sock"
RT=io.containerd.xen-gpu.v1
XG="$B/gpu-proxy/xen-gpu --admin-socket $W/admin.sock"
cleanup() {
  set +e
  for t in $($CTR tasks ls -q 2>/dev/null); do $CTR tasks kill -s KILL "$t" >/dev/null 2>&1; done
  sleep 1
  for t in $($CTR tasks ls -q 2>/dev/null); do $CTR tasks rm -f "$t" >/dev/null 2>&1; done
  for c in $($CTR containers ls -q 2>/dev/null); do $CTR containers rm "$c" >/dev/null 2>&1; done
  [ -n "${CD_PID:-}" ] && kill "$CD_PID" 2>/dev/null && wait "$CD_PID" 2>/dev/null
  [ -n "${PX_PID:-}" ] && kill "$PX_PID" 2>/dev/null && wait "$PX_PID" 2>/dev/null
  # Nothing of ours may survive; kill stragglers by pid (each found by its own full path), then unmount.
  [ -n "${EV_PID:-}" ] && kill "$EV_PID" 2>/dev/null
  for p in $(pgrep -f "$B/cri-shim/[c]ontainerd-shim-xen-gpu-v1"); do kill -9 "$p"; done
  grep -o " $W[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m"; done
  [ "${XG_KEEP:-0}" = 1 ] || rm -rf "$W"
}
trap cleanup EXIT

# ---- gpu-proxy (stub mode) ---------------------------------------------------------------------------------
"$B/gpu-proxy/gpu-proxy" --driver sim --socket "$W/zone.sock" --admin-socket "$W/admin.sock" >"$W/proxy.log" 2>&1 &
PX_PID=$!
for _ in $(seq 100); do [ -S "$W/admin.sock" ] && break; sleep 0.1; done

# ---- the shim's config and containerd ------------------------------------------------------------------------
cat >"$W/shim.conf" <<CONF
admin_socket = $W/admin.sock
libvgpu_dir = $W/podlib
runc_root = $W/runc
socket_dir = $W/s
default_memory = 512MiB
mode = stub
CONF
cat >"$W/containerd.toml" <<CONF
version = 2
root = "$W/root"
state = "$W/state"
[grpc]
  address = "$W/c.sock"
[ttrpc]
  address = "$W/c.sock.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  # A VM without CAP_SYS_RESOURCE cannot raise oom_score_adj; the CRI plugin must not try.
  restrict_oom_score_adj = true
  sandbox_image = "xen-gpu.test/pause:1"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.xen-gpu]
    runtime_type = "io.containerd.xen-gpu.v1"
    pod_annotations = ["xen-gpu.io/*"]
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.xen-gpu.options]
      ConfigPath = "$W/shim.conf"
CONF
PATH="$B/cri-shim:$PATH" XEN_GPU_SHIM_CONFIG="$W/shim.conf" containerd -c "$W/containerd.toml" >"$W/containerd.log" 2>&1 &
CD_PID=$!
for _ in $(seq 100); do $CTR version >/dev/null 2>&1 && break; sleep 0.1; done
$CTR version >/dev/null 2>&1 || { echo "containerd did not start:"; tail -20 "$W/containerd.log"; exit 1; }

# ---- images, offline --------------------------------------------------------------------------------------------
# pause: our static pause program alone. cuda: driver-API test programs, the sim kernels they launch, and the
# shared libraries they need (copied from this machine) -- but no libcuda.so.1: the shim mounts ours.
mkdir -p "$W/img/pause" "$W/img/cuda/bin" "$W/img/cuda/kernels"
cp "$B/cri-shim/xg_pause" "$W/img/pause/pause"
cp "$B/cri-shim/xg_pause" "$W/img/cuda/bin/pause"
cp "$B/cuda-programs/saxpy" "$B/cuda-programs/memory_ops" "$B/tests/integration/quota_threads" "$W/img/cuda/bin/"
cp "$B/sim/demo_kernels.so" "$W/img/cuda/kernels/"
# A shell, for the OOM check (busybox-static, from the xen group of scripts/deps.sh).
[ -x /bin/busybox ] && cp /bin/busybox "$W/img/cuda/bin/busybox"
for f in "$W"/img/cuda/bin/* "$W/img/cuda/kernels/demo_kernels.so"; do
  LD_LIBRARY_PATH="$B/libvgpu" ldd "$f" 2>/dev/null | grep -o '/[^ ]*' | grep -v "$B" || true
done | sort -u | while read -r lib; do
  mkdir -p "$W/img/cuda$(dirname "$lib")"
  cp -L "$lib" "$W/img/cuda$lib"
done
# The pods' library directory, as packer/provision.sh lays it out: our libcuda.so.1, the zone's libnvidia-ml.so.1
# and the Xen libraries libcuda.so.1 links.
mkdir -p "$W/podlib"
cp -L "$B/libvgpu/libcuda.so.1" "$B/libvgpu/libnvidia-ml.so.1" "$W/podlib/"
for l in $(ldd "$B/libvgpu/libcuda.so.1" | awk '/libxen/ {print $3}'); do cp -L "$l" "$W/podlib/"; done
"$HERE/make-oci-image.sh" "$W/img/pause" xen-gpu.test/pause:1 "$W/pause.tar" /pause
"$HERE/make-oci-image.sh" "$W/img/cuda" xen-gpu.test/cuda:1 "$W/cuda.tar" /bin/saxpy
for ns in default k8s.io; do  # k8s.io: the CRI plugin's namespace
  $CTR -n $ns images import "$W/pause.tar" >/dev/null && $CTR -n $ns images import "$W/cuda.tar" >/dev/null ||
    { echo "image import failed"; exit 1; }
done

