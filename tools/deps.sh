#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Install everything the build, the tests, the demo and the benchmarks need
# on a Debian 12 machine.  Idempotent: when every package is present it only
# asks dpkg and returns.
#
#   tools/deps.sh [--arm64]
#
# --arm64 (make deps-arm64) also installs what tools/vm-run -A arm64 needs
# and fetches Debian's arm64 kernels into their cache: no lane of make
# check runs arm64 yet (the module does not build there yet).
set -eu
cd "$(dirname "$0")/.."
arm64=0
case "${1:-}" in
"") ;;
--arm64) arm64=1 ;;
*) echo "usage: tools/deps.sh [--arm64]" >&2; exit 2 ;;
esac

BASE_PKGS="build-essential pkg-config bc bison flex libelf-dev libssl-dev
	xz-utils cpio kmod busybox-static qemu-system-x86 dkms libkmod-dev
	libsodium-dev libseccomp-dev liburing-dev linux-source-6.12 gdb python3 e2fsprogs
	man-db groff-base kexec-tools
	clang-14 libclang-rt-14-dev llvm-14 clang-tools-14 sparse coccinelle
	ocaml-nox cppcheck
	debhelper dh-dkms fakeroot lintian rpm rpmlint
	rsync gnuplot-nox"

# arm64 (tools/vm-run -A arm64): the emulator, the cross compilers, and
# the libraries the cross-built programs link, as Debian's multiarch
# packages of the arm64 architecture (beside the host's own, where the
# cross compiler and the guest's dynamic linker look).  The arm64 kernels
# are fetched into a cache, never installed (tools/arm64-kernel.sh).
ARM64_PKGS="qemu-system-arm gcc-aarch64-linux-gnu g++-aarch64-linux-gnu libc6-dev-arm64-cross
	libsodium-dev:arm64 libkmod-dev:arm64 liburing-dev:arm64 libseccomp-dev:arm64
	libstdc++6:arm64"

missing() {
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
			grep -q '^install ok installed$' || echo "$p"
	done
}

if [ "$(id -u)" != 0 ]; then
	echo "deps: run as root (apt-get install)" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
updated=0
apt_update() {
	[ $updated = 1 ] && return 0
	apt-get update -q
	updated=1
}

if [ $arm64 = 1 ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
	dpkg --add-architecture arm64
	apt_update
fi
[ $arm64 = 1 ] || ARM64_PKGS=

# Kernel lines are resolved from the package lists; a fresh machine has no
# lists yet, so update first when either line cannot be resolved.
k61=$(tools/kernels.sh 6.1 || true)
k612=$(tools/kernels.sh 6.12 || true)
if [ -z "$k61" ] || [ -z "$k612" ]; then
	apt_update
	k61=$(tools/kernels.sh 6.1)
	k612=$(tools/kernels.sh 6.12)
fi
[ -n "$k61" ] && [ -n "$k612" ] || {
	echo "deps: cannot resolve the 6.1 and 6.12 kernel packages" >&2
	exit 1
}

# shellcheck disable=SC2086
need=$(missing $BASE_PKGS \
	"linux-headers-$k61" "linux-image-$k61-unsigned" \
	"linux-headers-$k612" "linux-image-$k612-unsigned" $ARM64_PKGS)
if [ -n "$need" ]; then
	apt_update
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $need
fi
if [ $arm64 = 0 ]; then
	echo "deps: ok (kernels $k61, $k612)"
	exit 0
fi
a61=$(tools/arm64-kernel.sh 6.1)
a612=$(tools/arm64-kernel.sh 6.12)
echo "deps: ok (kernels $k61, $k612; arm64 ${a61##*/}, ${a612##*/})"
