# Sourced by kernel-config/*.sh: find (or unpack and cache) Debian's linux-source tree, merge the zone
# fragment onto allnoconfig, and check the result.
#   LINUX_SRC=dir       use this kernel tree instead of the cached linux-source package
#   XG_CACHE=dir        cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/xen-gpu)
KCFG_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
XG_CACHE=${XG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xen-gpu}
KCFG_FRAGMENT=${KCFG_FRAGMENT:-$KCFG_DIR/zone.config}
KCFG_FORBIDDEN=${KCFG_FORBIDDEN:-$KCFG_DIR/forbidden.txt}

# kcfg_source: print the kernel source dir; unpacks /usr/src/linux-source-X.Y.tar.xz once into the cache.
# Returns 3 when no kernel source can be had (caller decides whether that is a SKIP).
kcfg_source() {
  if [ -n "${LINUX_SRC:-}" ]; then echo "$LINUX_SRC"; return 0; fi
  local tarball pkg ver dest
  tarball=$(ls /usr/src/linux-source-*.tar.xz 2>/dev/null | sort -V | tail -1)
  [ -n "$tarball" ] || { echo "no /usr/src/linux-source-*.tar.xz (apt-get install linux-source)" >&2; return 3; }
  pkg=$(basename "$tarball" .tar.xz)                               # linux-source-6.1
  ver=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || stat -c %Y "$tarball")
  dest=$XG_CACHE/linux-src/$ver
  if [ ! -f "$dest/.unpacked" ]; then
    echo "kernel-config: unpacking $tarball into $dest (once)" >&2
    rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
    tar -xJf "$tarball" -C "$dest.tmp"
    rm -rf "$dest" && mv "$dest.tmp" "$dest" && touch "$dest/.unpacked"
  fi
  echo "$dest/$pkg"
}

# kcfg_merge <src> <outdir>: allnoconfig + fragment -> <outdir>/.config, then olddefconfig (as the build does).
kcfg_merge() {
  local src=$1 out=$2
  mkdir -p "$out"
  (cd "$src" && ARCH=x86_64 scripts/kconfig/merge_config.sh -n -O "$out" "$KCFG_FRAGMENT") > "$out/merge.log" 2>&1 ||
    { cat "$out/merge.log" >&2; return 1; }
  make -s -C "$src" O="$out" ARCH=x86_64 olddefconfig >> "$out/merge.log" 2>&1 ||
    { cat "$out/merge.log" >&2; return 1; }
}

# kcfg_check <config>: every `CONFIG_X=v` line of the fragment must be in <config> with that value, every
# `# CONFIG_X is not set` must be unset, no option named in forbidden.txt may be y/m, and nothing may be =m.
kcfg_check() {
  local cfg=$1 bad=0 line opt want got n=0 f=0
  while IFS= read -r line; do
    case $line in
      CONFIG_*=*) opt=${line%%=*}; want=${line#*=};;
      "# CONFIG_"*" is not set") opt=${line#\# }; opt=${opt%% *}; want=unset;;
      *) continue;;
    esac
    n=$((n+1))
    got=$(grep -E "^$opt=" "$cfg" | head -1 | cut -d= -f2- || true)
    [ -n "$got" ] || got=unset
    if [ "$got" != "$want" ]; then
      echo "REQUIRED $opt=$want but merged config has $opt=$got (a dependency is missing or it is forced)"
      bad=$((bad+1))
    fi
  done < "$KCFG_FRAGMENT"
  while IFS= read -r opt; do
    case $opt in ''|'#'*) continue;; esac
    f=$((f+1))
    local re="^CONFIG_${opt%\*}="; [ "${opt%\*}" != "$opt" ] && re="^CONFIG_${opt%\*}[A-Z0-9_]*="
    if grep -E "$re(y|m)$" "$cfg" >/dev/null; then
      echo "FORBIDDEN option on: $(grep -E "$re(y|m)$" "$cfg" | tr '\n' ' ')"
      bad=$((bad+1))
    fi
  done < "$KCFG_FORBIDDEN"
  if grep -E '=m$' "$cfg" >/dev/null; then
    echo "FORBIDDEN modules: $(grep -E '=m$' "$cfg" | tr '\n' ' ')"; bad=$((bad+1))
  fi
  echo "kernel-config: checked $n fragment options and $f forbidden patterns against $cfg: $bad problem(s)"
  [ "$bad" = 0 ]
}
