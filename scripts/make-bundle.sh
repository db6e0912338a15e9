#!/usr/bin/env bash
# Make an OCI bundle for the busybox rootfs: config.json from `berth spec` (or `runc spec`), then
# edited.
#
#   scripts/make-bundle.sh [--oci-version V] [--from runc] BERTH DIR -- CMD ARGS...
#
# --oci-version rewrites ociVersion, for runtimes that refuse a newer one (crun 1.8 stops at 1.0.2).
# --from runc starts from runc's default config instead (the bundle most tools and tutorials
# start from). Either way the process gets no terminal: both specs write an interactive one.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
version=''
from=berth
while [[ ${1:-} == --* ]]; do
    case $1 in
        --oci-version) version=$2 ;;
        --from) from=$2 ;;
        *) echo "make-bundle: unknown option $1" >&2; exit 2 ;;
    esac
    shift 2
done
berth=$1 dir=$2
shift 2
[[ ${1:-} == -- ]] && shift
rootfs=$here/rootfs-examples/busybox/rootfs
[[ -d $rootfs ]] || { echo "make-bundle: $rootfs is missing: run make rootfs" >&2; exit 2; }
mkdir -p "$dir"
rm -f "$dir/config.json"
case $from in
    berth) "$berth" spec --bundle "$dir" ;;
    runc) runc spec --bundle "$dir" ;;
    *) echo "make-bundle: --from takes berth or runc, not $from" >&2; exit 2 ;;
esac
args=$(jq -cn '$ARGS.positional' --args -- "$@")
jq --arg root "$rootfs" --argjson args "$args" --arg version "$version" \
    '.root.path = $root | .process.args = $args | .process.terminal = false | if $version != "" then .ociVersion = $version else . end' \
    "$dir/config.json" >"$dir/config.json.new"
mv "$dir/config.json.new" "$dir/config.json"
