#!/usr/bin/env bash
# Build the rollout example: webapp and loadgen (static C) into bin/, and two root filesystems,
# v1/rootfs and v2/rootfs, each the busybox rootfs plus /usr/bin/webapp and /srv/version.
#
#   rootfs-examples/webapp/build.sh
#
# Rerunning is a no-op while the sources, this script and the busybox rootfs are unchanged:
# bin/.stamp and vN/rootfs/.berth-webapp hold their checksums. A root filesystem is built beside
# its destination and swapped in, so a failed build never leaves a half-made one; when only
# webapp changed, just the binary is replaced (renamed over), so running containers keep theirs.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
busybox_rootfs=$here/../busybox/rootfs
bin=$here/bin

command -v gcc >/dev/null || { echo "webapp: no gcc: apt-get install -y gcc libc6-dev" >&2; exit 2; }
# The busybox builder is itself a no-op when its rootfs is current.
"$here/../busybox/build.sh" >/dev/null

sum() { sha256sum "$@" | cut -d' ' -f1 | tr '\n' ' '; }
stamp="$(sum "$here/webapp.c" "$here/loadgen.c" "${BASH_SOURCE[0]}")$(gcc -dumpfullversion)"
if [[ ! -f $bin/.stamp || $(<"$bin/.stamp") != "$stamp" || ! -x $bin/webapp || ! -x $bin/loadgen ]]; then
    mkdir -p "$bin"
    for prog in webapp loadgen; do
        # -s: no symbols; static so the binary runs in the busybox rootfs, which has no libc.
        gcc -static -O2 -s -Wall -Wextra -Werror -o "$bin/$prog.new" "$here/$prog.c"
        mv "$bin/$prog.new" "$bin/$prog"
    done
    printf '%s\n' "$stamp" >"$bin/.stamp"
    echo "webapp: built $bin/webapp ($(stat -c %s "$bin/webapp") bytes), $bin/loadgen ($(stat -c %s "$bin/loadgen") bytes)"
fi

for version in v1 v2; do
    dest=$here/$version/rootfs
    base="$(sum "$busybox_rootfs/.berth-rootfs" "${BASH_SOURCE[0]}")$version"
    app=$(sum "$bin/webapp")
    if [[ -f $dest/.berth-webapp && $(head -n 1 "$dest/.berth-webapp") == "$base" ]]; then
        [[ $(sed -n 2p "$dest/.berth-webapp") != "$app" ]] || continue
        # Only webapp changed: rename a new binary over the old one in place. Containers running
        # from this rootfs keep their tree and the old binary's inode until they restart.
        cp "$bin/webapp" "$dest/usr/bin/.webapp.new"
        mv -f "$dest/usr/bin/.webapp.new" "$dest/usr/bin/webapp"
        printf '%s\n%s\n' "$base" "$app" >"$dest/.berth-webapp"
        echo "webapp: updated $dest/usr/bin/webapp"
        continue
    fi
    mkdir -p "$here/$version"
    new=$(mktemp -d "$dest.new.XXXXXX")
    trap 'rm -rf "$new"' EXIT
    # A real copy (about 2 MB), not hard links: a container that writes to its /bin/busybox
    # must not change the busybox rootfs or the other version.
    cp -a "$busybox_rootfs/." "$new/"
    chmod 755 "$new"
    rm -f "$new/.berth-rootfs"
    mkdir -p "$new/srv" "$new/usr/bin"
    # A copy, not a link: replacing bin/webapp later must not change a built rootfs.
    cp "$bin/webapp" "$new/usr/bin/webapp"
    printf '%s\n' "$version" >"$new/srv/version"
    printf '%s\n%s\n' "$base" "$app" >"$new/.berth-webapp"
    old=
    if [[ -e $dest ]]; then
        old=$(mktemp -u "$dest.old.XXXXXX")
        mv "$dest" "$old"
    fi
    mv "$new" "$dest"
    [[ -z $old ]] || rm -rf "$old"
    trap - EXIT
    echo "webapp: built $dest"
done
