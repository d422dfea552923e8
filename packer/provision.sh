#!/usr/bin/env bash
# Provision a Debian 12 machine as a xen-gpu node. Packer runs this inside the image it builds; on an
# existing node you run the very same script as root (see packer/README.md). Idempotent: rerun it freely.
#
# Usage: provision.sh [options]
#   --bin-dir DIR        install xen-gpu binaries found under DIR (a CMake build dir, e.g. build/release):
#                        gpu-proxy, containerd-shim-xen-gpu-v1, the zone's libcuda.so.1 (libvgpu), the
#                        simulated driver. Missing ones are reported and skipped.
#   --zone-kernel FILE   zone kernel (make kernel -> build/kernel/vmlinuz) -> /usr/lib/xen-gpu/zone/vmlinuz
#   --dom0-mem SIZE      memory fixed for dom0 (Xen dom0_mem=SIZE,max:SIZE; autoballoon off). Default 4096M
#   --dom0-vcpus N       dom0 vCPUs (dom0_max_vcpus). Default 4
#   --gpu-domain MODE    dom0: dom0 is the GPU driver domain (NVIDIA driver + gpu-proxy run in dom0). Default.
#                        domU: GPUs are hidden from dom0 (xen-pciback) and left to a separate driver domain;
#                        an xl template for it is written to /etc/xen-gpu/driver-domain.cfg.
#   --gpu-pci LIST|auto  GPUs (PCI BDFs, comma-separated, e.g. 0000:17:00.0) for --gpu-domain domU.
#                        auto = every NVIDIA (vendor 10de) display/3D controller lspci sees. Default auto
#   --iommu VALUE        Xen iommu= option. Default "1" (use the IOMMU; DMA of passed-through GPUs confined).
#                        "required" refuses to boot without one, which is what production wants.
#   --nvidia MODE        auto: install Debian's nvidia-driver when an NVIDIA GPU is present and apt can find it
#                        (enables contrib/non-free/non-free-firmware). yes: always try. no: never. Default auto
#   --serial-console     Xen, dom0 and GRUB on the first serial port (com1/ttyS0, 115200): for IPMI
#                        serial-over-LAN, and for the QEMU boot test of the image
#   --no-packages        do not run apt-get (only write configuration and install files)
#   --no-start           do not (re)start services even on a running system
#   --files DIR          where the shipped files live (default: files/ beside this script)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
FILES=$HERE/files
BIN_DIR="" ZONE_KERNEL="" DOM0_MEM=4096M DOM0_VCPUS=4 GPU_DOMAIN=dom0 GPU_PCI=auto IOMMU=1 NVIDIA=auto
PACKAGES=1 START=1 SERIAL=0
while [ $# -gt 0 ]; do
  case $1 in
    --bin-dir) BIN_DIR=$2; shift;;
    --zone-kernel) ZONE_KERNEL=$2; shift;;
    --dom0-mem) DOM0_MEM=$2; shift;;
    --dom0-vcpus) DOM0_VCPUS=$2; shift;;
    --gpu-domain) GPU_DOMAIN=$2; shift;;
    --gpu-pci) GPU_PCI=$2; shift;;
    --iommu) IOMMU=$2; shift;;
    --nvidia) NVIDIA=$2; shift;;
    --serial-console) SERIAL=1;;
    --no-packages) PACKAGES=0;;
    --no-start) START=0;;
    --files) FILES=$2; shift;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0;;
    *) echo "provision: unknown option $1 (try --help)" >&2; exit 2;;
  esac
  shift
done
case $GPU_DOMAIN in dom0|domU) ;; *) echo "provision: --gpu-domain must be dom0 or domU" >&2; exit 2;; esac
case $NVIDIA in auto|yes|no) ;; *) echo "provision: --nvidia must be auto, yes or no" >&2; exit 2;; esac
[[ $DOM0_MEM =~ ^[0-9]+[MG]$ ]] || { echo "provision: --dom0-mem like 4096M or 4G" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "provision: must run as root" >&2; exit 1; }
for f in gpu-proxy.service proxy.conf containerd-config.toml runtimeclass.yaml shim.conf gpu-pod.yaml; do
  [ -f "$FILES/$f" ] || { echo "provision: missing $FILES/$f" >&2; exit 1; }
done

say() { echo "provision: $*"; }
# A running systemd (a booted node or Packer's VM) versus a chroot / container build.
BOOTED=0; [ -d /run/systemd/system ] && BOOTED=1
export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-y -q --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

# install_file <src> <dst> <mode>: copy only when different (keeps reruns quiet and idempotent)
install_file() {
  if ! cmp -s "$1" "$2"; then install -D -m "$3" "$1" "$2"; say "installed $2"; fi
}

# ------------------------------------------------------------------------------------------ packages
gpus() {   # NVIDIA display/3D controllers as full BDFs
  command -v lspci >/dev/null || return 0
  lspci -D -n -d 10de: 2>/dev/null | awk '$2 ~ /^03(00|02):$/ {print $1}'
}
if [ $PACKAGES = 1 ]; then
  say "apt: Xen hypervisor + tools, containerd, runc, pciutils, prometheus-cpp (gpu-proxy --metrics), erofs-utils + cpio (Xen-mode pods: rootfs images, the zone initramfs)"
  apt-get update -q >/dev/null
  apt-get install "${APT_OPTS[@]}" xen-system-amd64 xen-utils-common containerd runc pciutils \
    libprometheus-cpp-pull1.0 erofs-utils cpio >/dev/null
  if [ "$NVIDIA" != no ] && { [ "$NVIDIA" = yes ] || [ -n "$(gpus)" ]; }; then
    # Debian ships the NVIDIA driver in non-free: enable the components, then install if it is there.
    src=/etc/apt/sources.list.d/debian.sources
    if [ -f $src ] && ! grep -q non-free-firmware $src; then
      sed -i 's/^Components: main.*/Components: main contrib non-free non-free-firmware/' $src
      apt-get update -q >/dev/null
    fi
    if apt-cache show nvidia-driver >/dev/null 2>&1; then
      say "apt: nvidia-driver (+ kernel headers for its DKMS module)"
      apt-get install "${APT_OPTS[@]}" nvidia-driver firmware-misc-nonfree linux-headers-amd64 >/dev/null
    else
      say "NOTE: nvidia-driver not available from apt here; install the NVIDIA driver yourself"
    fi
  else
    say "no NVIDIA GPU seen (--nvidia $NVIDIA): NVIDIA driver not installed; gpu-proxy uses the simulated driver"
  fi
else
  say "--no-packages: skipping apt"
fi

# ------------------------------------------------------------------------------------------ xen-gpu binaries
# zone/: the Xen zone kernel and its libcuda.so.1 + libnvidia-ml.so.1; pod/: only our libcuda.so.1 and
# libnvidia-ml.so.1 (the zone's NVML, which must travel with libvgpu), the directory the CRI shim mounts read-only
# into every container of a xen-gpu pod (stub mode).
mkdir -p /usr/lib/xen-gpu/zone /usr/lib/xen-gpu/pod /usr/lib/xen-gpu/sim /usr/share/xen-gpu /etc/xen-gpu
# find_built <name> [path-substring]: newest regular file called <name> under BIN_DIR
find_built() {
  find "$BIN_DIR" -name CMakeFiles -prune -o -type f -name "$1" -path "*${2:-}*" -printf '%T@ %p\n' 2>/dev/null |
    sort -n | tail -1 | cut -d' ' -f2-
}
if [ -n "$BIN_DIR" ]; then
  [ -d "$BIN_DIR" ] || { echo "provision: --bin-dir $BIN_DIR is not a directory" >&2; exit 1; }
  for spec in gpu-proxy:/usr/local/bin/gpu-proxy:755: \
              containerd-shim-xen-gpu-v1:/usr/local/bin/containerd-shim-xen-gpu-v1:755: \
              libcuda.so.1:/usr/lib/xen-gpu/zone/libcuda.so.1:644:/libvgpu/ \
              libcuda.so.1:/usr/lib/xen-gpu/pod/libcuda.so.1:644:/libvgpu/ \
              libnvidia-ml.so.1:/usr/lib/xen-gpu/zone/libnvidia-ml.so.1:644:/libvgpu/ \
              libnvidia-ml.so.1:/usr/lib/xen-gpu/pod/libnvidia-ml.so.1:644:/libvgpu/ \
              libcuda.so.1:/usr/lib/xen-gpu/sim/libcuda.so.1:644:/sim/; do
    IFS=: read -r name dst mode sub <<< "$spec"
    src=$(find_built "$name" "$sub")
    if [ -n "$src" ]; then install_file "$src" "$dst" "$mode"; else say "not built (skipped): $name${sub:+ from $sub}"; fi
  done
fi
# Pods load our libcuda.so.1 from /usr/lib/xen-gpu/pod (first on their LD_LIBRARY_PATH): the Xen libraries it
# links (for the Xen transport) are in no container image, so they go beside it. libc/libstdc++ come from the image.
if [ -f /usr/lib/xen-gpu/pod/libcuda.so.1 ]; then
  for l in $( (ldd /usr/lib/xen-gpu/pod/libcuda.so.1 2>/dev/null || true) | awk '/libxen/ {print $3}'); do
    install_file "$l" "/usr/lib/xen-gpu/pod/$(basename "$l")" 644
  done
fi
# Xen-mode pods: the zone init's initramfs (xg-zone-init as /init, our libcuda.so.1 + libnvidia-ml.so.1; the zone
# kernel has its drivers built in, so no modules) and the hotplug script of their rootfs disks.
install_file "$HERE/../cri-shim/xen/xg-block-hotplug" /usr/lib/xen-gpu/xg-block-hotplug 755
if [ -n "$BIN_DIR" ] && zinit=$(find_built xg-zone-init /cri-shim/zone/) && [ -n "$zinit" ]; then
  tmp=$(mktemp)
  if why=$("$HERE/../cri-shim/zone/make-zone-initramfs.sh" "$tmp" --init "$zinit" \
              --lib "$(dirname "$(find_built libcuda.so.1 /libvgpu/)")" 2>&1); then
    install_file "$tmp" /usr/lib/xen-gpu/zone/initramfs 644
  else
    say "NOTE: the zone initramfs could not be built: $(echo "$why" | tail -n 1)"
  fi
  rm -f "$tmp"
fi
if [ -n "$ZONE_KERNEL" ]; then
  [ -f "$ZONE_KERNEL" ] || { echo "provision: --zone-kernel $ZONE_KERNEL not found" >&2; exit 1; }
  install_file "$ZONE_KERNEL" /usr/lib/xen-gpu/zone/vmlinuz 644
  kcfg=$(dirname "$ZONE_KERNEL")/config
  [ -f "$kcfg" ] && install_file "$kcfg" /usr/lib/xen-gpu/zone/config 644
fi
[ -f /usr/lib/xen-gpu/zone/vmlinuz ] || say "NOTE: no zone kernel installed (make kernel; rerun with --zone-kernel)"

# ------------------------------------------------------------------------------------------ configuration
# gpu-proxy: config written once (user edits win), unit always refreshed.
[ -f /etc/xen-gpu/proxy.conf ] || install_file "$FILES/proxy.conf" /etc/xen-gpu/proxy.conf 644
install_file "$FILES/gpu-proxy.service" /etc/systemd/system/gpu-proxy.service 644
install_file "$FILES/runtimeclass.yaml" /usr/share/xen-gpu/runtimeclass.yaml 644
install_file "$FILES/gpu-pod.yaml" /usr/share/xen-gpu/gpu-pod.yaml 644
# The CRI shim's settings (containerd-config.toml names this file): written once, user edits win.
[ -f /etc/xen-gpu/shim.conf ] || install_file "$FILES/shim.conf" /etc/xen-gpu/shim.conf 644
# Units of other components ship beside their code; install the ones that exist (the CRI shim's, later).
for u in "$HERE"/../cri-shim/*.service "$HERE"/../gpu-proxy/*.service; do
  [ -f "$u" ] && install_file "$u" "/etc/systemd/system/$(basename "$u")" 644
done

# containerd: our config with the xen-gpu runtime handler (the distribution's file is kept aside once).
if [ -f /etc/containerd/config.toml ] && [ ! -f /etc/containerd/config.toml.xen-gpu-orig ] &&
   ! cmp -s "$FILES/containerd-config.toml" /etc/containerd/config.toml; then
  cp -p /etc/containerd/config.toml /etc/containerd/config.toml.xen-gpu-orig
fi
install_file "$FILES/containerd-config.toml" /etc/containerd/config.toml 644

# Xen: fixed dom0 memory, no ballooning of dom0, IOMMU on, Xen as the default boot entry.
XEN_CMDLINE="dom0_mem=$DOM0_MEM,max:$DOM0_MEM dom0_max_vcpus=$DOM0_VCPUS dom0_vcpus_pin iommu=$IOMMU"
DOM0_CONSOLE=""
if [ $SERIAL = 1 ]; then XEN_CMDLINE="$XEN_CMDLINE console=com1,vga com1=115200,8n1"; DOM0_CONSOLE=" console=tty0 console=hvc0"; fi  # last = /dev/console
HIDE=""
if [ "$GPU_DOMAIN" = domU ]; then
  [ "$GPU_PCI" = auto ] && GPU_PCI=$(gpus | paste -sd, -)
  if [ -n "$GPU_PCI" ]; then
    HIDE=$(echo "$GPU_PCI" | tr ',' '\n' | sed 's/.*/(&)/' | tr -d '\n')
  else
    say "NOTE: --gpu-domain domU but no GPU found or given (--gpu-pci): nothing hidden from dom0"
  fi
fi
tmp=$(mktemp)
cat > "$tmp" <<EOF
# Written by xen-gpu packer/provision.sh; rerun it to change these (see packer/README.md).
# Xen: dom0 memory fixed at $DOM0_MEM (the GPU driver and zones' pinned pages must not be ballooned away),
# IOMMU policy iommu=$IOMMU.
GRUB_CMDLINE_XEN_DEFAULT="$XEN_CMDLINE"
# dom0 Linux: ${HIDE:+GPUs $GPU_PCI hidden from dom0 for the driver domain (xen-pciback).}
GRUB_CMDLINE_LINUX_XEN_REPLACE_DEFAULT="\$GRUB_CMDLINE_LINUX_DEFAULT${HIDE:+ xen-pciback.hide=$HIDE}$DOM0_CONSOLE"
# Boot Xen by default, not bare Linux.
XEN_OVERRIDE_GRUB_DEFAULT=1
EOF
if [ $SERIAL = 1 ]; then cat >> "$tmp" <<'EOF'
GRUB_TERMINAL="console serial"
GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"
GRUB_TIMEOUT=3
EOF
fi
install_file "$tmp" /etc/default/grub.d/zz-xen-gpu.cfg 644
printf '%s\n' "# xen-gpu: grant/event-channel devices for gpu-proxy; pciback for --gpu-domain domU" \
  xen-evtchn xen-gntdev xen-gntalloc xen-privcmd ${HIDE:+xen-pciback} > "$tmp"
install_file "$tmp" /etc/modules-load.d/xen-gpu.conf 644
if [ -n "$HIDE" ]; then
  echo "options xen-pciback hide=$HIDE" > "$tmp"
  install_file "$tmp" /etc/modprobe.d/xen-gpu-pciback.conf 644
  { echo "# xl create /etc/xen-gpu/driver-domain.cfg: the GPU driver domain (its disk/kernel are yours to set)."
    echo "name = \"xen-gpu-driver\""; echo "type = \"pvh\""; echo "memory = 8192"; echo "vcpus = 4"
    echo "pci = [ $(echo "$GPU_PCI" | tr ',' '\n' | sed "s/.*/'&,permissive=1'/" | paste -sd, -) ]"
    echo "driver_domain = 1"; } > "$tmp"
  install_file "$tmp" /etc/xen-gpu/driver-domain.cfg 644
else
  rm -f /etc/modprobe.d/xen-gpu-pciback.conf
fi
rm -f "$tmp"
# xl must not balloon dom0 down to make room for zones (dom0_mem is fixed).
if [ -f /etc/xen/xl.conf ]; then
  if grep -qE '^#?autoballoon=' /etc/xen/xl.conf; then
    grep -q '^autoballoon="off"' /etc/xen/xl.conf || sed -i 's/^#\?autoballoon=.*/autoballoon="off"/' /etc/xen/xl.conf
  else
    echo 'autoballoon="off"' >> /etc/xen/xl.conf
  fi
fi
if command -v update-grub >/dev/null && [ -d /boot/grub ]; then
  say "update-grub (Xen entry default: $XEN_CMDLINE)"
  update-grub >/dev/null 2>&1 || say "WARNING: update-grub failed; run it yourself"
else
  say "NOTE: no GRUB here; boot Xen with: $XEN_CMDLINE"
fi

# ------------------------------------------------------------------------------------------ services
systemctl enable containerd.service >/dev/null 2>&1
if [ -x /usr/local/bin/gpu-proxy ]; then
  systemctl enable gpu-proxy.service >/dev/null 2>&1
else
  say "NOTE: /usr/local/bin/gpu-proxy missing (--bin-dir): gpu-proxy.service installed but not enabled"
fi
for u in /etc/systemd/system/*.service; do
  case $(basename "$u") in gpu-proxy.service) continue;; esac
  grep -q 'xen-gpu' "$u" 2>/dev/null && grep -q '^WantedBy' "$u" && systemctl enable "$(basename "$u")" >/dev/null 2>&1 || true
done
if [ $BOOTED = 1 ] && [ $START = 1 ]; then
  systemctl daemon-reload
  systemctl restart containerd.service
  [ -x /usr/local/bin/gpu-proxy ] && systemctl restart gpu-proxy.service
  say "services restarted: containerd$([ -x /usr/local/bin/gpu-proxy ] && echo ', gpu-proxy')"
else
  say "not a booted system (or --no-start): services enabled, not started"
fi
if ! grep -q control_d /proc/xen/capabilities 2>/dev/null; then
  say "not running on Xen yet: reboot into the 'Debian GNU/Linux, with Xen hypervisor' entry"
fi
say "done"
