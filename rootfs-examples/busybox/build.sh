#!/usr/bin/env bash
# Build a minimal busybox root filesystem for example and test containers.
#
#   rootfs-examples/busybox/build.sh [DEST]     (default: rootfs next to this script)
#
# Source: the host's static /bin/busybox (apt-get install busybox-static). Every
# applet is a relative symlink to /bin/busybox, so the links resolve the same
# inside the container and when the tree is inspected from the host.
# Rerunning is a no-op while the busybox binary and this script are unchanged:
# DEST/.berth-rootfs holds their checksums. Otherwise the tree is rebuilt beside
# DEST and swapped in, so a failed build never leaves a half-made DEST.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dest=${1:-$here/rootfs}
dest=${dest%/}
busybox=/bin/busybox

if [[ ! -x $busybox ]] || LC_ALL=C ldd "$busybox" >/dev/null 2>&1; then
    echo "rootfs: no static busybox at $busybox: apt-get install -y busybox-static" >&2
    exit 2
fi

stamp="busybox $(sha256sum <"$busybox" | cut -d' ' -f1) build.sh $(sha256sum <"${BASH_SOURCE[0]}" | cut -d' ' -f1)"
if [[ -f $dest/.berth-rootfs && $(<"$dest/.berth-rootfs") == "$stamp" ]]; then
    echo "rootfs: $dest is up to date"
    exit 0
fi

mkdir -p "$(dirname "$dest")"
new=$(mktemp -d "$dest.new.XXXXXX")
old=
trap 'rm -rf "$new" ${old:+"$old"}' EXIT

# mktemp makes the directory 0700; a root filesystem's / is 0755.
chmod 755 "$new"
mkdir -p "$new"/{bin,sbin,usr/bin,usr/sbin,etc,dev,proc,sys,tmp,root,run}
chmod 1777 "$new/tmp"
chmod 700 "$new/root"
cp "$busybox" "$new/bin/busybox"
chmod 755 "$new/bin/busybox"

while read -r applet; do
    case $applet in
        bin/busybox|linuxrc) continue ;;  # the binary itself; an initrd-only entry point
    esac
    dir=${applet%/*}
    # ../ once per directory level, back to / and then into bin/.
    up=${dir//[^\/]/}
    up=${up//\//../}../
    [[ $dir == bin ]] && target=busybox || target=${up}bin/busybox
    ln -s "$target" "$new/$applet"
done < <("$busybox" --list-full)

cat >"$new/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat >"$new/etc/group" <<'GROUP'
root:x:0:
nobody:x:65534:
GROUP
# Empty, so that engines can bind-mount theirs over them (podman binds all three) without a
# mount point to create in a rootfs that is read-only in the test VM.
: >"$new/etc/resolv.conf"
: >"$new/etc/hosts"
: >"$new/etc/hostname"
chmod 644 "$new/etc/passwd" "$new/etc/group" "$new/etc/resolv.conf" "$new/etc/hosts" "$new/etc/hostname"
printf '%s\n' "$stamp" >"$new/.berth-rootfs"

if [[ -e $dest ]]; then
    old=$(mktemp -u "$dest.old.XXXXXX")
    mv "$dest" "$old"
fi
mv "$new" "$dest"
echo "rootfs: built $dest ($("$busybox" --list-full | wc -l) applets)"
