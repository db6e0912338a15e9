#!/usr/bin/env bash
# Proves that scripts/check-modules.sh catches what it is for (`make test` runs this after it):
# each case breaks a copy of the package's manifest, Swift sources and docs/architecture.md in
# one way, and expects the check to fail with the line that names the problem. The untouched
# copy must pass. Prints one line per case and `check-modules cases: N passed, N failed`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
package=$PWD

work=$(mktemp -d /tmp/berth-check-modules.XXXXXX)
trap 'rm -rf "$work"' EXIT

passed=0 failed=0
fresh() { # a copy of what the check reads, in $copy
    copy=$work/$((passed + failed))
    mkdir -p "$copy"
    (cd "$package" && find Sources Tests -name '*.swift' -print0 | xargs -0 cp --parents -t "$copy" &&
        cp --parents Package.swift docs/architecture.md "$copy")
}
# expect NAME WANTED: runs the check on $copy; WANTED is a line it must print, or `pass`.
expect() {
    local output status=0
    output=$(scripts/check-modules.sh "$copy" 2>&1) || status=$?
    local ok=no
    if [[ $2 == pass ]]; then
        ((status == 0)) && ok=yes
    elif ((status == 1)) && grep -qF -- "$2" <<<"$output"; then
        ok=yes
    fi
    if [[ $ok == yes ]]; then
        echo "ok: $1"
        passed=$((passed + 1))
    else
        echo "FAILED: $1: wanted ${2@Q} (exit ${status}), got:"
        sed 's/^/    /' <<<"$output"
        failed=$((failed + 1))
    fi
}
add_import() { # FILE MODULE: an import above the file's first line
    sed -i "1i import $2" "$copy/$1"
}
add_dependency() { # TARGET MODULE: appended to TARGET's dependencies in Package.swift
    sed -i -E "s/(\.target\(name: \"$1\", dependencies: \[[^]]*)\]/\1, \"$2\"]/" "$copy/Package.swift"
}

fresh
expect "the package as it is passes" pass

fresh
add_import Sources/Cgroup2/Cgroup.swift Runtime
expect "Cgroup2 importing Runtime, unlisted" "Sources/Cgroup2/Cgroup.swift:1: Cgroup2 imports Runtime, which Package.swift does not list in Cgroup2's dependencies"
expect "Cgroup2 importing Runtime, forbidden" "Cgroup2 uses Runtime, which the architecture does not allow"

fresh
add_import Sources/Seccomp/Load.swift Linux
add_dependency Seccomp Linux
expect "Seccomp using Linux, listed but forbidden" "Seccomp uses Linux, which the architecture does not allow: Seccomp may use only BerthCore OCI CLibseccomp"

fresh
sed -i -E 's/(\.target\(name: "Runtime", dependencies: \[[^]]*)"Seccomp", /\1/' "$copy/Package.swift"
expect "Runtime importing Seccomp without listing it" "Runtime imports Seccomp, which Package.swift does not list in Runtime's dependencies"

fresh
sed -i '/^import CLibcap$/d' "$copy"/Sources/Linux/*.swift
expect "a dependency no file imports" "Package.swift lists CLibcap in Linux's dependencies, but no file of Linux imports it"

fresh
add_import Sources/OCI/Spec.swift Foundation
expect "Foundation outside the tests" "Sources/OCI/Spec.swift:1: OCI imports Foundation: only tests may"

fresh
add_import Sources/Runtime/Hooks.swift Dispatch
expect "a module that is neither the package's nor allowed" "Sources/Runtime/Hooks.swift:1: Runtime imports Dispatch, which is neither a module of this package nor a system module it may use"

fresh
mkdir -p "$copy/Sources/Network"
echo 'import BerthCore' >"$copy/Sources/Network/Network.swift"
sed -i 's/^        \.target(name: "BerthCore"),$/&\n        .target(name: "Network", dependencies: ["BerthCore"]),/' "$copy/Package.swift"
expect "a new module without a place in the architecture" "Network is not in the architecture: give it a line in may_use"

fresh
sed -i 's/^| `OCI` | `BerthCore` |$/| `OCI` | |/' "$copy/docs/architecture.md"
expect "docs/architecture.md's graph out of date" "docs/architecture.md: the module graph is not the one Package.swift declares"

echo "check-modules cases: $passed passed, $failed failed"
((failed == 0))
