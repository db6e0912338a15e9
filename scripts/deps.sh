#!/usr/bin/env bash
# Install the given Debian packages that are missing. Quick and silent when all
# are present: apt-get update runs only when something has to be installed.
#   scripts/deps.sh PACKAGE...
set -euo pipefail

missing=()
for pkg in "$@"; do
    status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
    [[ $status == ii* ]] || missing+=("$pkg")
done
((${#missing[@]})) || exit 0

echo "deps: installing ${missing[*]}"
if ((EUID != 0)); then
    echo "deps: installing packages needs root: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
