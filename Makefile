# SPDX-License-Identifier: GPL-2.0
#
# virtio-numa entry points; README.md says what each prints.  Run as root
# on Debian bookworm: the first run installs what it needs with apt-get.
# Sources, build trees and ccache live in $(VNUMA_CACHE), outside the repo.

export VNUMA_CACHE ?= $(HOME)/.cache/virtio-numa
FLAVOUR ?= debug

.PHONY: all build check demo stress bench fuzz setup sources kernel qemu qemu-stock qemu-asan initramfs \
	series series-check

all: build

# The README's two commands, and the build they share: timed stages.
build check demo stress bench fuzz:
	@scripts/stages $@

# Single steps, for working on one layer.
setup:
	@scripts/setup
sources:
	@scripts/fetch-sources
kernel:
	@scripts/build-kernel $(FLAVOUR)
qemu:
	@scripts/build-qemu vnuma
qemu-stock:
	@scripts/build-qemu stock
qemu-asan:
	@scripts/build-qemu asan
initramfs:
	@scripts/build-initramfs $(FLAVOUR)

# The kernel and the QEMU series as they would be sent: git format-patch
# output with a cover letter (the paths are printed), and their checks:
# applied one patch at a time, each step built and checkpatch clean
# (the kernel's --strict).
series: sources
	@scripts/series
	@scripts/series --qemu
series-check: sources
	@scripts/series-check
	@scripts/qemu-series-check
	@scripts/libvirt-series-check
