#!/usr/bin/env bash
# Builds an OCI image tarball (one layer) from a local directory, offline: no registry, no docker.
# Usage: make-oci-image.sh ROOTDIR REF OUT.tar [ENTRYPOINT...]
#   REF is the image name containerd records (e.g. xen-gpu.test/pause:1); ENTRYPOINT the image's command.
# `ctr images import OUT.tar` then makes REF available. Everything is content-addressed with sha256sum, as the
# OCI image-layout spec requires.
set -euo pipefail
root=$1 ref=$2 out=$3
shift 3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/blobs/sha256"
blob() {  # blob FILE -> prints "sha256 size", moves FILE into blobs/
  local d s
  d=$(sha256sum "$1" | cut -d' ' -f1)
  s=$(stat -c %s "$1")
  mv "$1" "$work/blobs/sha256/$d"
  echo "$d $s"
}
tar -C "$root" --numeric-owner --owner=0 --group=0 --sort=name -cf "$work/layer.tar" .
read -r layer_d layer_s < <(blob "$work/layer.tar")
entry=""
for a in "$@"; do entry+="${entry:+,}\"$a\""; done
cat > "$work/config.json" <<JSON
{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/bin:/usr/bin:/bin"],"Entrypoint":[${entry}],"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:${layer_d}"]}}
JSON
read -r cfg_d cfg_s < <(blob "$work/config.json")
cat > "$work/manifest.json" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:${cfg_d}","size":${cfg_s}},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:${layer_d}","size":${layer_s}}]}
JSON
read -r man_d man_s < <(blob "$work/manifest.json")
cat > "$work/index.json" <<JSON
{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:${man_d}","size":${man_s},"annotations":{"io.containerd.image.name":"${ref}","org.opencontainers.image.ref.name":"${ref##*:}"},"platform":{"architecture":"amd64","os":"linux"}}]}
JSON
echo '{"imageLayoutVersion":"1.0.0"}' > "$work/oci-layout"
tar -C "$work" -cf "$out" oci-layout index.json blobs
