#!/bin/bash
# The zone's initramfs: /init = xg-zone-init (static), our GPU libraries under /opt/xen-gpu/lib (bound read-only
# into every container at /usr/lib/xen-gpu), and optionally the kernel modules a zone needs when its kernel is a
# distribution's (Debian's) rather than ours, which has them built in.
#
#   make-zone-initramfs.sh OUT [--modules KVER_MODULES_DIR] [--lib DIR] [--init FILE]
#
#   --modules /lib/modules/<kver>   copy xen-blkfront erofs overlay xen-evtchn xen-gntdev xen-gntalloc xenfs and
#                                   their dependencies (modules.dep, and the "pre:" soft dependencies of
#                                   modules.softdep), decompressed, listed in load order in /etc/xg-zone/modules
#   --lib DIR                       where libcuda.so.1 and libnvidia-ml.so.1 are (default: BUILD/libvgpu)
#   --init FILE                     the init (default: BUILD/cri-shim/zone/xg-zone-init)
# BUILD is $XG_BUILD or <repo>/build. Output: a gzip'd newc cpio.
set -euo pipefail

usage() { sed -n '6,13p' "$0" >&2; exit 2; }
[ $# -ge 1 ] || usage
out=$1; shift
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=${XG_BUILD:-$repo/build}
libdir=$build/libvgpu
init=$build/cri-shim/zone/xg-zone-init
moddir=""
while [ $# -gt 0 ]; do
  case $1 in
    --modules) moddir=${2:?}; shift 2 ;;
    --lib) libdir=${2:?}; shift 2 ;;
    --init) init=${2:?}; shift 2 ;;
    *) usage ;;
  esac
done

die() { echo "make-zone-initramfs: $*" >&2; exit 1; }
[ -x "$init" ] || die "no init at $init (build the xg-zone-init target)"
# ldd refuses a static executable ("not a dynamic executable"); `file` is not on a minimal system.
! ldd "$init" >/dev/null 2>&1 || die "$init is not statically linked"
for lib in libcuda.so.1 libnvidia-ml.so.1; do
  [ -e "$libdir/$lib" ] || die "no $lib in $libdir (build xg_vgpu and xg_nvml, or give --lib)"
done

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{dev,proc,sys,run,tmp,etc/xg-zone,opt/xen-gpu/lib}
install -m 0755 "$init" "$stage/init"
# The kernel opens /dev/console for /init only if the node exists in the initramfs (xg-zone-init falls back to
# devtmpfs's when it cannot be made here, as a non-root user).
mknod -m 0600 "$stage/dev/console" c 5 1 2>/dev/null || true

cp -L "$libdir/libcuda.so.1" "$libdir/libnvidia-ml.so.1" "$stage/opt/xen-gpu/lib/"
# libcuda.so.1 reaches gpu-proxy through libxen*; container images do not carry those, so they travel with it.
{ ldd "$libdir/libcuda.so.1" 2>/dev/null || true; } | awk '$1 ~ /^libxen/ && $3 ~ /^\// {print $3}' | while read -r dep; do
  cp -L "$dep" "$stage/opt/xen-gpu/lib/"
done

if [ -n "$moddir" ]; then
  dep=$moddir/modules.dep
  [ -r "$dep" ] || die "no modules.dep in $moddir"
  kver=$(basename "$moddir")
  # One name per module, '-' and '_' alike (as modprobe treats them).
  norm() { basename "$1" | sed -E 's/\.ko(\.(xz|zst|gz))?$//; s/-/_/g'; }
  # The path (first field of FILE's lines) of module NAME, or nothing.
  find_mod() {
    awk -F: -v w="$1" '{ n = $1; sub(/.*\//, "", n); sub(/\.ko(\.(xz|zst|gz))?$/, "", n); gsub(/-/, "_", n);
                         if (n == w) { print $1; exit } }' "$2"
  }
  declare -A seen=()
  order=()
  add() {  # a module path relative to $moddir, after its dependencies
    local rel=$1 name; name=$(norm "$rel")
    [ -n "${seen[$name]:-}" ] && return
    local line deps=() i pre m
    # Soft dependencies first ("softdep libcrc32c pre: crc32c"; modprobe reads them from the modules): a name
    # may be an alias, and then every module it names comes along (which one the CPU takes is the kernel's call).
    for pre in $(awk -v n="$name" '$1 == "softdep" && $2 == n { for (i = 3; i <= NF; i++) if ($i == "post:") break;
                   else if ($i != "pre:") print $i }' "$moddir/modules.softdep" 2>/dev/null); do
      m=$(find_mod "${pre//-/_}" "$dep")
      if [ -n "$m" ]; then add "$m"; continue; fi
      for m in $(awk -v a="$pre" '$1 == "alias" && $2 == a { print $3 }' "$moddir/modules.alias" 2>/dev/null); do
        m=$(find_mod "${m//-/_}" "$dep")
        [ -n "$m" ] && add "$m"
      done
    done
    line=$(grep -E "^${rel//./\\.}:" "$dep" || true)
    read -r -a deps <<<"${line#*:}"
    # modules.dep lists every dependency, the ones loaded last first: load them in reverse.
    for ((i=${#deps[@]}-1; i>=0; i--)); do add "${deps[$i]}"; done
    seen[$name]=1
    order+=("$rel")
  }
  for want in xen-blkfront erofs overlay xen-evtchn xen-gntdev xen-gntalloc xenfs; do
    rel=$(find_mod "${want//-/_}" "$dep")
    if [ -z "$rel" ]; then
      if [ -r "$moddir/modules.builtin" ] && [ -n "$(find_mod "${want//-/_}" "$moddir/modules.builtin")" ]; then
        echo "make-zone-initramfs: $want is built into $kver" >&2
        continue
      fi
      die "$want: not in $dep (nor built in)"
    fi
    add "$rel"
  done
  for rel in "${order[@]}"; do
    src=$moddir/$rel
    dst=$stage/lib/modules/$kver/${rel%.xz}
    dst=${dst%.zst}; dst=${dst%.gz}
    mkdir -p "$(dirname "$dst")"
    case $src in
      *.xz) xz -dc "$src" >"$dst" ;;
      *.zst) zstd -qdc "$src" >"$dst" ;;
      *.gz) gzip -dc "$src" >"$dst" ;;
      *) cp "$src" "$dst" ;;
    esac
    echo "${dst#"$stage"}" >>"$stage/etc/xg-zone/modules"
  done
fi

# Reproducible: the same inputs give the same bytes (fixed times, no inode numbers, no name or time in the gzip
# header), so reinstalling an unchanged build changes nothing on a node.
find "$stage" -mindepth 1 -exec touch -h -d @0 {} +
(cd "$stage" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
   cpio --null -o -H newc --owner 0:0 --reproducible --quiet) | gzip -9 -n >"$out"
echo "make-zone-initramfs: $out ($(du -h "$out" | cut -f1))"
