#!/usr/bin/env bash
# The dependency rule, checked (`make test` runs it). Fails, one line per problem, when
#  - a module's sources import a module of this package that Package.swift does not list for it,
#    or Package.swift lists one that none of its sources imports;
#  - a module uses (imports or lists) a module the architecture below does not allow it;
#  - a module that is not a test imports Foundation (berth and ctr link none), or any module
#    that is neither this package's nor in the list of system modules below;
#  - the module graph in docs/architecture.md is not the one Package.swift declares.
#
#   scripts/check-modules.sh [--update-docs] [DIR]
#
# --update-docs rewrites that graph from Package.swift. DIR is the package (default: this one);
# scripts/test-check-modules.sh runs the check on broken copies of it. Needs bash, grep, jq and
# `swift package dump-package`, nothing built.
set -euo pipefail

update_docs=no
if [[ ${1:-} == --update-docs ]]; then update_docs=yes; shift; fi
cd "${1:-$(dirname "${BASH_SOURCE[0]}")/..}"

# The architecture (docs/architecture.md, "Modules"): the modules each one may use. Test targets
# may use anything. A new module gets a line here, which is where its place in the graph is decided.
declare -A may_use=(
    [CShim]="" [CLibseccomp]="" [CLibcap]=""
    [BerthCore]=""
    [OCI]="BerthCore"
    [Linux]="BerthCore CShim CLibcap"
    [Cgroup2]="BerthCore OCI Linux CShim"
    [Seccomp]="BerthCore OCI CLibseccomp"
    [Runtime]="BerthCore OCI Linux Cgroup2 Seccomp CShim"
    # One argument parser for both command lines; it needs nothing of the runtime.
    [CommandLineFlags]="BerthCore"
    [BerthCLI]="BerthCore OCI Linux Cgroup2 Seccomp Runtime CShim CommandLineFlags"
    [berth]="BerthCLI"
    [SupervisorAPI]="BerthCore OCI Linux CShim"
    [Supervisor]="BerthCore OCI Linux Cgroup2 Seccomp Runtime SupervisorAPI CShim"
    # ctr drives a running service through SupervisorAPI only; it uses Runtime for what has
    # no supervisor or is the caller's own process (docs/architecture.md, "ctr and the runtime").
    [CtrCLI]="BerthCore OCI Linux Cgroup2 Seccomp Runtime SupervisorAPI Supervisor CShim CommandLineFlags"
    [ctr]="CtrCLI"
)
# Modules that are not this package's: the toolchain's. Foundation only in tests.
system_modules=" Glibc Synchronization Testing Foundation XCTest "
test_only_modules=" Testing Foundation XCTest "

graph_begin='<!-- module graph: scripts/check-modules.sh --update-docs writes it from Package.swift -->'
graph_end='<!-- end of module graph -->'
docs=docs/architecture.md

# A scratch path of its own, so that a build running in .build does not make this wait.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
manifest=$(swift package --scratch-path "$scratch" dump-package) ||
    { echo "check-modules: swift package dump-package failed" >&2; exit 2; }
# One line per target: name, type, source directory, then its dependencies on targets.
targets=$(jq -r '.targets[] | [.name, .type,
        (.path // (if .type == "test" then "Tests/" else "Sources/" end) + .name),
        ([.dependencies[] | (.byName // .target // empty)[0]] | join(" "))] | join("\t")' <<<"$manifest")

declare -A is_target=()
while IFS=$'\t' read -r name _ _ _; do is_target[$name]=1; done <<<"$targets"

failures=0
fail() { echo "check-modules: $*"; failures=$((failures + 1)); }
has() { [[ " $1 " == *" $2 "* ]]; } # has LIST WORD

while IFS=$'\t' read -r name type directory dependencies; do
    [[ $type == system ]] && continue
    # TestSupport is a library for the tests: a test as far as the architecture goes.
    [[ $directory == Tests/* ]] && type=test
    if [[ $type != test && -z ${may_use[$name]+set} ]]; then
        fail "$name is not in the architecture: give it a line in may_use in scripts/check-modules.sh (the modules it may use)"
        continue
    fi
    imported=" "
    # path:line:import statement, for every import at the top level of a Swift file.
    while IFS=: read -r file line statement; do
        [[ -n $file ]] || continue
        module=${statement##* }
        if [[ -n ${is_target[$module]+set} ]]; then
            has "$imported" "$module" && continue # one line per module, naming its first import
            imported+="$module "
            has "$dependencies" "$module" ||
                fail "$file:$line: $name imports $module, which Package.swift does not list in $name's dependencies"
        elif ! has "$system_modules" "$module"; then
            fail "$file:$line: $name imports $module, which is neither a module of this package nor a system module it may use"
        elif [[ $type != test ]] && has "$test_only_modules" "$module"; then
            fail "$file:$line: $name imports $module: only tests may (berth and ctr link no Foundation)"
        fi
    done < <(grep -rnoE --include='*.swift' '^(@[A-Za-z_]+ +)*import +((typealias|struct|class|enum|protocol|let|var|func) +)?[A-Za-z_][A-Za-z0-9_]*' "$directory" 2>/dev/null | sort -t: -k1,1 -k2,2n)
    # A C target's dependencies are used through its headers, not imported; a test may list a
    # module to have it built (BerthCLITests runs the berth it builds).
    if [[ $type != test && -n $(find "$directory" -name '*.swift' -print -quit 2>/dev/null) ]]; then
        for dependency in $dependencies; do
            has "$imported" "$dependency" || fail "Package.swift lists $dependency in $name's dependencies, but no file of $name imports it"
        done
    fi
    if [[ $type != test ]]; then
        for used in $(tr ' ' '\n' <<<"$dependencies $imported" | sort -u); do
            has "${may_use[$name]}" "$used" ||
                fail "$name uses $used, which the architecture does not allow: $name may use only ${may_use[$name]:-no other module} (scripts/check-modules.sh, docs/architecture.md)"
        done
    fi
done <<<"$targets"

# The graph as Package.swift declares it, modules in its order, tests left out.
graph=$(
    echo "$graph_begin"
    echo '| module | uses |'
    echo '|---|---|'
    while IFS=$'\t' read -r name type _ dependencies; do
        [[ $type == test ]] && continue
        uses=$(for d in $dependencies; do printf ' `%s`' "$d"; done)
        echo "| \`$name\` |$uses |"
    done <<<"$targets"
    echo "$graph_end"
)
if [[ $update_docs == yes ]]; then
    grep -qxF "$graph_begin" "$docs" || { echo "check-modules: $docs has no line $graph_begin" >&2; exit 2; }
    awk -v begin="$graph_begin" -v end="$graph_end" -v graph="$graph" '
        $0 == begin { print graph; skipping = 1; next }
        skipping && $0 == end { skipping = 0; next }
        !skipping' "$docs" >"$docs.new"
    mv "$docs.new" "$docs"
elif [[ $(sed -n "\\|^$graph_begin\$|,\\|^$graph_end\$|p" "$docs") != "$graph" ]]; then
    fail "$docs: the module graph is not the one Package.swift declares: run scripts/check-modules.sh --update-docs"
fi

if ((failures > 0)); then
    echo "check-modules: $failures problem$( ((failures == 1)) || echo s)"
    exit 1
fi
echo "check-modules: ${#is_target[@]} modules, imports match Package.swift and the architecture"
