#!/usr/bin/env bash
# `make install` and `make uninstall`:
#   scripts/install.sh install|uninstall
# install puts into $DESTDIR$PREFIX:
#   bin/berth, bin/ctr                                    from $BUILD_DIR (default .build/release)
#   share/bash-completion/completions/{berth,ctr}         `berth completion bash`, `ctr completion bash`
#   share/zsh/site-functions/{_berth,_ctr}                ... zsh
#   share/fish/vendor_completions.d/{berth,ctr}.fish      ... fish
#   share/man/man1/PAGE.1                                 every page of `berth manpage --list` and
#                                                         `ctr manpage --list`
#   lib/systemd/system/UNIT                               every file of $UNIT_DIR (default
#                                                         packaging/systemd), @BINDIR@ replaced by
#                                                         $PREFIX/bin; nothing when there is none
# and records every file and every directory it made in share/berth/installed (as paths on the
# installed system, without DESTDIR). uninstall removes exactly those, in reverse order, a
# directory only when it is empty (something else was put there since). Installing again first
# removes what the last install recorded.
# PREFIX defaults to /usr/local; DESTDIR (a staging root for packaging) to none.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

prefix=${PREFIX:-/usr/local}
destdir=${DESTDIR:-}
root=$destdir$prefix
build=${BUILD_DIR:-.build/release}
units=${UNIT_DIR:-packaging/systemd}
manifest=$root/share/berth/installed
[[ $prefix == /* ]] || { echo "install: PREFIX must be an absolute path, not \"$prefix\"" >&2; exit 2; }

uninstall() {
    [[ -f $manifest ]] || { echo "uninstall: nothing installed under $root (no $manifest)" >&2; return 1; }
    local entries=() entry i
    mapfile -t entries < "$manifest"
    rm -f "$manifest"
    for ((i = ${#entries[@]} - 1; i >= 0; i--)); do
        entry=${entries[i]}
        case $entry in
            d\ *) rmdir --ignore-fail-on-non-empty "$destdir${entry#d }" ;;
            f\ *) rm -f "$destdir${entry#f }" ;;
        esac
    done
    echo "uninstall: removed what was installed under $root"
}

# Every directory from the top down that does not exist yet is made and recorded.
make_directory() {
    local path=$1 parts=() part current=
    [[ -d $path ]] && return 0
    IFS=/ read -ra parts <<< "${path#/}"
    for part in "${parts[@]}"; do
        current+=/$part
        [[ -d $current ]] && continue
        mkdir -m 0755 "$current"
        made+=("d ${current#"$destdir"}")
    done
}

# put MODE DESTINATION SOURCE
put() {
    make_directory "$(dirname "$2")"
    install -m "$1" "$3" "$2"
    made+=("f ${2#"$destdir"}")
}

# generate DESTINATION COMMAND...: a file of mode 0644 that the command writes.
generate() {
    local destination=$1
    shift
    "$@" > "$work/generated"
    put 0644 "$destination" "$work/generated"
}

# The `ctr` a shell finds first on PATH, when it is not the one just installed.
warn_about_another_ctr() {
    local found
    found=$(type -P ctr || true)
    if [[ -z $found ]]; then
        echo "install: warning: $prefix/bin is not on PATH; run $prefix/bin/ctr by its path or add $prefix/bin to PATH" >&2
    elif [[ $(realpath "$found") != $(realpath "$prefix/bin/ctr") ]]; then
        echo "install: warning: \"ctr\" on PATH is $found, another program (containerd ships one as /usr/bin/ctr);" \
             "put $prefix/bin before $(dirname "$found") in PATH, or run $prefix/bin/ctr by its path" >&2
    fi
}

# Where each shell looks for a program's completion under PREFIX.
completion_path() { # $1: program, $2: shell
    case $2 in
        bash) echo "$root/share/bash-completion/completions/$1" ;;
        zsh) echo "$root/share/zsh/site-functions/_$1" ;;
        fish) echo "$root/share/fish/vendor_completions.d/$1.fish" ;;
    esac
}

install_all() {
    local program shell page unit
    for program in berth ctr; do
        [[ -x $build/$program ]] || { echo "install: no $build/$program: run make build first" >&2; exit 1; }
    done
    if [[ -f $manifest ]]; then uninstall >/dev/null; fi
    work=$(mktemp -d /tmp/berth-install.XXXXXX)
    trap 'rm -rf "$work"' EXIT
    made=()
    local pages=0
    for program in berth ctr; do
        put 0755 "$root/bin/$program" "$build/$program"
        for shell in bash zsh fish; do
            generate "$(completion_path "$program" "$shell")" "$build/$program" completion "$shell"
        done
        for page in $("$build/$program" manpage --list); do
            generate "$root/share/man/man1/$page.1" "$build/$program" manpage "$page"
            pages=$((pages + 1))
        done
    done
    if [[ -d $units ]]; then
        for unit in "$units"/*; do
            [[ -f $unit ]] || continue
            generate "$root/lib/systemd/system/$(basename "$unit")" sed "s|@BINDIR@|$prefix/bin|g" "$unit"
        done
    fi
    make_directory "$(dirname "$manifest")"
    made+=("f ${manifest#"$destdir"}")
    printf '%s\n' "${made[@]}" > "$manifest"
    echo "install: berth, ctr, their completions and $pages man pages in $root"
    if [[ -z $destdir ]]; then warn_about_another_ctr; fi
}

case ${1:-} in
    install) install_all ;;
    uninstall) uninstall ;;
    *) echo "usage: scripts/install.sh install|uninstall (PREFIX, DESTDIR, BUILD_DIR, UNIT_DIR from the environment)" >&2; exit 2 ;;
esac
