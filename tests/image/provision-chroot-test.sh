#!/usr/bin/env bash
# Runs packer/provision.sh for real in a Debian 12 root made with debootstrap (cached tarball) under chroot,
# then checks every file, unit and config it promised: systemd-analyze verify for the units,
# `containerd config dump` for containerd's config, idempotence of a rerun, and the --gpu-domain domU knobs.
# Usage: provision-chroot-test.sh <repo-root> <work-dir> [bin-dir]       exit 77 = SKIP (not root, no tools)
# Env: XG_CACHE (cache root), KEEP=1 (keep the root), ZONE_KERNEL (default <repo>/build/kernel/vmlinuz)
set -euo pipefail
if [ "${1:-}" = --inner ]; then INNER=1; shift; else INNER=0; fi
REPO=$(realpath "$1"); WORK=$(realpath -m "$2"); BIN_DIR=${3:-}
R=$WORK/root
skip() { echo "SKIP: $*"; exit 77; }
. "$REPO/packer/lib/rootfs.sh"      # XG_CACHE, xg_rootfs_tarball

if [ $INNER = 0 ]; then
  [ "$(id -u)" = 0 ] || skip "provision chroot test needs root (chroot, mounts)"
  for t in debootstrap unshare chroot python3; do command -v $t >/dev/null || skip "$t not installed (scripts/deps.sh image)"; done
  T0=$(date +%s)
  TB=$(xg_rootfs_tarball chroot-test systemd,systemd-sysv,ca-certificates) || skip "debootstrap failed (no Debian mirror reachable?)"
  rm -rf "$R" && mkdir -p "$R"
  tar -C "$R" --numeric-owner -xzf "$TB"
  echo "chroot-test: root from $TB in $(( $(date +%s) - T0 )) s"
  set +e
  # A private mount namespace: every mount below disappears with it, even if the test dies.
  unshare --mount --propagation private bash "$0" --inner "$REPO" "$WORK" "$BIN_DIR"
  rc=$?
  set -e
  [ "${KEEP:-0}" = 1 ] || rm -rf "$R"
  echo "chroot-test: total $(( $(date +%s) - T0 )) s"
  exit $rc
fi

# ----------------------------------------------------------------------------- inside the mount namespace
mount -t proc proc "$R/proc"
mount -t sysfs sys "$R/sys"
mount --rbind /dev "$R/dev"
mount -t tmpfs tmpfs "$R/run"          # no /run/systemd/system: the script sees "not booted"
mount -t tmpfs tmpfs "$R/tmp"
APT_CACHE=$XG_CACHE/apt-archives; mkdir -p "$APT_CACHE/partial"
mount --bind "$APT_CACHE" "$R/var/cache/apt/archives"
cp -L /etc/resolv.conf "$R/etc/resolv.conf"
# Packages must not start daemons in a chroot.
printf '#!/bin/sh\nexit 101\n' > "$R/usr/sbin/policy-rc.d"; chmod +x "$R/usr/sbin/policy-rc.d"
echo 'APT::Keep-Downloaded-Packages "true";' > "$R/etc/apt/apt.conf.d/99keep"
# The tree as a user would have it, and the build outputs.
mkdir -p "$R/opt/xen-gpu"
cp -a "$REPO/packer" "$R/opt/xen-gpu/"
for d in cri-shim gpu-proxy; do mkdir -p "$R/opt/xen-gpu/$d"; cp "$REPO/$d"/*.service "$R/opt/xen-gpu/$d/" 2>/dev/null || true; done
# What packer/build.sh stages for Xen-mode pods.
mkdir -p "$R/opt/xen-gpu/cri-shim/xen" "$R/opt/xen-gpu/cri-shim/zone"
cp "$REPO/cri-shim/xen/xg-block-hotplug" "$R/opt/xen-gpu/cri-shim/xen/"
cp "$REPO/cri-shim/zone/make-zone-initramfs.sh" "$R/opt/xen-gpu/cri-shim/zone/"
ARGS=(--nvidia auto)
if [ -n "$BIN_DIR" ] && [ -d "$BIN_DIR" ]; then
  mkdir -p "$R/opt/xen-gpu/bin"; mount --bind -o ro "$BIN_DIR" "$R/opt/xen-gpu/bin"; ARGS+=(--bin-dir /opt/xen-gpu/bin)
fi
ZK=${ZONE_KERNEL:-$REPO/build/kernel/vmlinuz}
if [ -f "$ZK" ]; then
  mkdir -p "$R/opt/xen-gpu/kernel"; cp "$ZK" "$R/opt/xen-gpu/kernel/vmlinuz"
  [ -f "$(dirname "$ZK")/config" ] && cp "$(dirname "$ZK")/config" "$R/opt/xen-gpu/kernel/config"
  ARGS+=(--zone-kernel /opt/xen-gpu/kernel/vmlinuz)
else
  echo "chroot-test: NOTE no zone kernel at $ZK (make kernel): the zone-kernel install is not exercised"
fi

PASS=0 FAIL=0
ok()  { echo "PASS: $*"; PASS=$((PASS+1)); }
bad() { echo "FAIL: $*"; FAIL=$((FAIL+1)); }
check() { local what=$1; shift; if "$@" >/dev/null 2>&1; then ok "$what"; else bad "$what"; fi; }
in_root() { chroot "$R" env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }

T0=$(date +%s)
echo "chroot-test: provision.sh ${ARGS[*]}"
if in_root /opt/xen-gpu/packer/provision.sh "${ARGS[@]}" > "$WORK/provision1.log" 2>&1; then
  ok "provision.sh ran ($(( $(date +%s) - T0 )) s)"
else
  tail -30 "$WORK/provision1.log"; bad "provision.sh failed (log $WORK/provision1.log)"; exit 1
fi
sed 's/^/  | /' "$WORK/provision1.log"

# Packages and what they bring
check "Xen hypervisor installed (/boot/xen-*.gz)" compgen -G "$R/boot/xen-4.*-amd64.gz"
XL=$(cd "$R" && ls usr/lib/xen-4.*/bin/xl 2>/dev/null | head -1)
check "xl and xenstored present" test -x "$R/usr/sbin/xl" -a -n "$XL" -a -n "$(ls "$R"/usr/lib/xen-4.*/bin/xenstored 2>/dev/null)"
if [ -n "$XL" ] && in_root ldd "/$XL" > "$WORK/xl.ldd" 2>&1 && ! grep -q 'not found' "$WORK/xl.ldd"; then ok "xl's libraries resolve"
else cat "$WORK/xl.ldd"; bad "xl has unresolved libraries"; fi
check "containerd + runc installed" test -x "$R/usr/bin/containerd" -a -x "$R/usr/sbin/runc"

# Files promised
for f in /etc/containerd/config.toml /etc/xen-gpu/proxy.conf /etc/systemd/system/gpu-proxy.service \
         /usr/share/xen-gpu/runtimeclass.yaml /etc/default/grub.d/zz-xen-gpu.cfg /etc/modules-load.d/xen-gpu.conf \
         /etc/xen-gpu/shim.conf /usr/share/xen-gpu/gpu-pod.yaml; do
  check "file $f" test -s "$R$f"
done
if grep -q -- --zone-kernel <<< "${ARGS[*]}"; then
  check "zone kernel installed and identical" cmp "$ZK" "$R/usr/lib/xen-gpu/zone/vmlinuz"
fi
if [ -n "$BIN_DIR" ] && [ -n "$(find "$BIN_DIR" -name CMakeFiles -prune -o -type f -name gpu-proxy -print -quit 2>/dev/null)" ]; then
  check "gpu-proxy binary installed" test -x "$R/usr/local/bin/gpu-proxy"
  check "Xen-mode pods' rootfs hotplug script installed" test -x "$R/usr/lib/xen-gpu/xg-block-hotplug"
  if [ -n "$(find "$BIN_DIR" -name CMakeFiles -prune -o -type f -name xg-zone-init -print -quit 2>/dev/null)" ]; then
    check "zone initramfs built and installed (xg-zone-init as /init)" \
      sh -c "zcat '$R/usr/lib/xen-gpu/zone/initramfs' | cpio -t --quiet 2>/dev/null | grep -qx init"
  fi
  if [ -n "$(find "$BIN_DIR" -name CMakeFiles -prune -o -type f -name containerd-shim-xen-gpu-v1 -print -quit 2>/dev/null)" ]; then
    check "CRI shim installed on containerd's PATH" test -x "$R/usr/local/bin/containerd-shim-xen-gpu-v1"
    check "pods' libcuda.so.1 installed" test -s "$R/usr/lib/xen-gpu/pod/libcuda.so.1"
    if [ -n "$(find "$BIN_DIR" -name CMakeFiles -prune -o -type f -name libnvidia-ml.so.1 -print -quit 2>/dev/null)" ]; then
      check "pods' libnvidia-ml.so.1 installed beside it" test -s "$R/usr/lib/xen-gpu/pod/libnvidia-ml.so.1"
    fi
  fi
  check "gpu-proxy.service enabled" in_root systemctl is-enabled gpu-proxy.service
else
  echo "chroot-test: NOTE no gpu-proxy binary under '${BIN_DIR:-}' yet: unit installed, not enabled (checked)"
  if in_root systemctl is-enabled gpu-proxy.service >/dev/null 2>&1; then bad "gpu-proxy.service enabled without a binary"
  else ok "gpu-proxy.service left disabled without a binary"; fi
fi
check "containerd.service enabled" in_root systemctl is-enabled containerd.service

# Units parse
verify_out=$(in_root systemd-analyze verify /etc/systemd/system/gpu-proxy.service /lib/systemd/system/containerd.service 2>&1 || true)
# The one acceptable complaint: gpu-proxy not built yet.
rest=$(grep -v -e 'gpu-proxy is not executable: No such file' -e 'gpu-proxy.service: Command /usr/local/bin/gpu-proxy' <<< "$verify_out" | grep -v '^$' || true)
if [ -z "$rest" ]; then ok "systemd-analyze verify gpu-proxy.service containerd.service"
else echo "$verify_out" | sed 's/^/  | /'; bad "systemd-analyze verify"; fi
[ -n "$verify_out" ] && echo "$verify_out" | sed 's/^/  (verify) /'

# containerd's own view of its config
if in_root containerd config dump > "$WORK/containerd-dump.toml" 2> "$WORK/containerd-dump.err"; then
  ok "containerd config dump parses /etc/containerd/config.toml"
else
  cat "$WORK/containerd-dump.err"; bad "containerd config dump"
fi
python3 - "$WORK/containerd-dump.toml" <<'PY' && ok "containerd: runtime handler xen-gpu -> io.containerd.xen-gpu.v1, default runc" || bad "containerd runtime handlers in dump"
import sys, tomllib
d = tomllib.load(open(sys.argv[1], "rb"))
c = d["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]
assert c["runtimes"]["xen-gpu"]["runtime_type"] == "io.containerd.xen-gpu.v1", c["runtimes"].get("xen-gpu")
assert c["default_runtime_name"] == "runc"
assert c["runtimes"]["runc"]["runtime_type"] == "io.containerd.runc.v2"
PY
# The installed policy file must parse with gpu-proxy's own parser (the one the unit runs).
if [ -x "${BIN_DIR:-}/gpu-proxy/gpu-proxy" ]; then
  check "proxy.conf parses (gpu-proxy --check-config)" "$BIN_DIR/gpu-proxy/gpu-proxy" --check-config --config "$R/etc/xen-gpu/proxy.conf"
fi

# Xen boot configuration
grubcfg() { bash -c ". '$R/etc/default/grub.d/zz-xen-gpu.cfg'; echo \"\$GRUB_CMDLINE_XEN_DEFAULT|\$GRUB_CMDLINE_LINUX_XEN_REPLACE_DEFAULT\""; }
g=$(grubcfg)
[[ $g == *"dom0_mem=4096M,max:4096M"* && $g == *"iommu=1"* && $g != *pciback* ]] && ok "grub: Xen cmdline '$g'" || bad "grub cfg: '$g'"
check "xl.conf autoballoon off" grep -q '^autoballoon="off"' "$R/etc/xen/xl.conf"

# Idempotence: a second run changes nothing
snap() { (cd "$R" && find etc usr/local usr/lib/xen-gpu usr/share/xen-gpu -type f -newer "$R/etc/hostname" -print0 2>/dev/null | sort -z | xargs -0 md5sum); }
before=$(snap)
in_root /opt/xen-gpu/packer/provision.sh "${ARGS[@]}" --no-packages > "$WORK/provision2.log" 2>&1 || bad "second run failed"
if grep -q '^provision: installed' "$WORK/provision2.log" || [ "$before" != "$(snap)" ]; then
  bad "rerun changed files: $(grep '^provision: installed' "$WORK/provision2.log" | tr '\n' ' ')"
else ok "rerun is idempotent (no file changed)"; fi

# --gpu-domain domU: GPUs hidden from dom0 and an xl template for the driver domain; then back to dom0
in_root /opt/xen-gpu/packer/provision.sh --no-packages --gpu-domain domU --gpu-pci 0000:17:00.0,0000:65:00.0 \
  --dom0-mem 8G --iommu required > "$WORK/provision3.log" 2>&1 || bad "domU-mode run failed"
g=$(grubcfg)
[[ $g == *"dom0_mem=8G,max:8G"* && $g == *"iommu=required"* && $g == *"xen-pciback.hide=(0000:17:00.0)(0000:65:00.0)"* ]] \
  && ok "domU mode: grub '$g'" || bad "domU mode grub: '$g'"
check "domU mode: modprobe pciback hide" grep -qx 'options xen-pciback hide=(0000:17:00.0)(0000:65:00.0)' "$R/etc/modprobe.d/xen-gpu-pciback.conf"
check "domU mode: driver-domain xl cfg" grep -q "pci = \[ '0000:17:00.0,permissive=1','0000:65:00.0,permissive=1' \]" "$R/etc/xen-gpu/driver-domain.cfg"
in_root /opt/xen-gpu/packer/provision.sh "${ARGS[@]}" --no-packages > "$WORK/provision4.log" 2>&1 || bad "back to dom0 mode failed"
check "dom0 mode again: pciback hide removed" test ! -e "$R/etc/modprobe.d/xen-gpu-pciback.conf"

echo "chroot-test: $PASS passed, $FAIL failed"
[ $FAIL = 0 ]
