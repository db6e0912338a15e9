#!/usr/bin/env bash
# Make an OCI bundle for the busybox rootfs: config.json from `berth spec`, then edited.
#
#   scripts/make-bundle.sh [--oci-version V] BERTH DIR -- CMD ARGS...
#
# --oci-version rewrites ociVersion, for runtimes that refuse a newer one (crun 1.8 stops at 1.0.2).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
version=''
if [[ ${1:-} == --oci-version ]]; then version=$2; shift 2; fi
berth=$1 dir=$2
shift 2
[[ ${1:-} == -- ]] && shift
rootfs=$here/rootfs-examples/busybox/rootfs
[[ -d $rootfs ]] || { echo "make-bundle: $rootfs is missing: run make rootfs" >&2; exit 2; }
mkdir -p "$dir"
rm -f "$dir/config.json"
"$berth" spec --bundle "$dir"
args=$(jq -cn '$ARGS.positional' --args -- "$@")
jq --arg root "$rootfs" --argjson args "$args" --arg version "$version" \
    '.root.path = $root | .process.args = $args | if $version != "" then .ociVersion = $version else . end' \
    "$dir/config.json" >"$dir/config.json.new"
mv "$dir/config.json.new" "$dir/config.json"
