# Sourced: build (once) and cache a Debian 12 root made with debootstrap, as a tarball.
#   xg_rootfs_tarball <name> <include-list>   prints the tarball path; builds it when missing.
# The cache lives in ${XG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xen-gpu}/rootfs/; delete a tarball to rebuild.
# DEBIAN_MIRROR (default http://deb.debian.org/debian) and DEBIAN_SUITE (default bookworm) can be set.
XG_CACHE=${XG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xen-gpu}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
DEBIAN_SUITE=${DEBIAN_SUITE:-bookworm}

xg_rootfs_tarball() {
  local name=$1 include=$2 key tb tmp
  key=$(printf '%s %s %s' "$DEBIAN_SUITE" "$DEBIAN_MIRROR" "$include" | md5sum | cut -c1-8)
  tb=$XG_CACHE/rootfs/$DEBIAN_SUITE-$name-$key.tar.gz
  if [ ! -s "$tb" ]; then
    mkdir -p "$XG_CACHE/rootfs"
    tmp=$(mktemp -d "$XG_CACHE/rootfs/build.XXXXXX")
    echo "rootfs: debootstrap $DEBIAN_SUITE minbase + $include -> $tb (once; a few minutes)" >&2
    if ! debootstrap --variant=minbase --include="$include" "$DEBIAN_SUITE" "$tmp/root" "$DEBIAN_MIRROR" \
         > "$tmp/debootstrap.log" 2>&1; then
      tail -20 "$tmp/debootstrap.log" >&2; rm -rf "$tmp"; return 1
    fi
    rm -rf "$tmp/root/var/cache/apt/archives/"*.deb "$tmp/root/var/lib/apt/lists/"*_Packages
    tar -C "$tmp/root" --numeric-owner -czf "$tb.tmp" . && mv "$tb.tmp" "$tb"
    rm -rf "$tmp"
  fi
  echo "$tb"
}
