# Berth. `make test` is what CI runs (.ci/run).
#
#   make deps       install the Debian packages the build and the tests need
#   make build      debug build with tests, and the release `berth` and `ctr` binaries
#   make rootfs     the busybox root filesystem in rootfs-examples/busybox/rootfs, and the
#                   rollout example (rootfs-examples/webapp: v1/rootfs, v2/rootfs, bin/)
#   make test       all of the above, then the module check (scripts/check-modules.sh: imports
#                   against Package.swift and the architecture), the tests on the host and in the VM
#   make test-vm    only the VM part; BERTH_VM_FILTER=REGEX picks the tests
#                   (default 'VMTests|IntegrationTests'), BERTH_VM_TIME_SCALE=N multiplies
#                   the phases' time limits; see scripts/test-vm.sh and docs/testing.md
#   make demo       run a container and show its isolation (the cgroup part in the VM)
#   make install    the release berth and ctr into $(PREFIX)/bin (PREFIX=/usr/local), with their
#                   bash, zsh and fish completions, a man page per command and the systemd units
#                   of packaging/systemd; DESTDIR stages it; `make uninstall` removes exactly that
#                   (scripts/install.sh). containerd's package has its own /usr/bin/ctr: install
#                   warns when that one comes first on PATH (README, "Two programs named ctr")
#   make fuzz       libFuzzer on config.json through the decoder and the plan validator,
#                   FUZZ_SECONDS (default 300); scripts/fuzz.sh
#   make bench      lifecycle benchmark against runc and crun, and ctr's supervisor footprint
#                   (benchmarks/supervisor.sh), into bench-results/; then the
#                   same with cgroup limits in the VM (benchmarks/lifecycle-vm.sh)

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
# The targets run in a fixed order (packages, then build, then tests); running
# them side by side would only interleave their output.
.NOTPARALLEL:

APT_PACKAGES := libseccomp-dev libcap-dev pkg-config \
	qemu-system-x86 linux-image-amd64 busybox-static cpio iproute2 \
	runc crun hyperfine jq time podman containerd curl perl gcc libc6-dev wrk uidmap \
	zsh man-db

PREFIX ?= /usr/local
export BERTH_VM_FILTER BERTH_VM_TIME_SCALE BERTH_VM_LOGS PREFIX DESTDIR

.PHONY: all deps build release rootfs test test-vm demo bench fuzz install uninstall

all: build

deps:
	@scripts/deps.sh $(APT_PACKAGES)

# berth is a static, stripped executable: no dynamic loader, no symbol binding, fewer pages to
# map. That is about 1.4 ms of every container start (docs/architecture.md).
build: release
	swift build --build-tests

release:
	swift build -c release -Xswiftc -static-executable -Xlinker -s --product berth
	swift build -c release -Xswiftc -static-executable -Xlinker -s --product ctr

rootfs:
	@rootfs-examples/busybox/build.sh
	@rootfs-examples/webapp/build.sh

# The module check first: it needs nothing built and takes seconds.
test: deps build rootfs
	scripts/check-modules.sh
	scripts/test-check-modules.sh
	scripts/test-all.sh

test-vm: deps build rootfs
	scripts/test-vm.sh

demo: deps build rootfs
	scripts/demo.sh

bench: deps build rootfs
	benchmarks/lifecycle.sh
	benchmarks/supervisor.sh
	benchmarks/handoff.sh
	benchmarks/lifecycle-vm.sh

install: release
	scripts/install.sh install

uninstall:
	scripts/install.sh uninstall

fuzz:
	scripts/fuzz.sh $(or $(FUZZ_SECONDS),300)
