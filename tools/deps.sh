#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Install everything the build, the tests, the demo and the benchmarks need
# on a Debian 12 machine.  Idempotent: when every package is present it only
# asks dpkg and returns.
set -eu
cd "$(dirname "$0")/.."

BASE_PKGS="build-essential pkg-config bc bison flex libelf-dev libssl-dev
	xz-utils cpio kmod busybox-static qemu-system-x86 dkms libkmod-dev
	libsodium-dev libseccomp-dev liburing-dev linux-source-6.12 gdb python3 e2fsprogs
	man-db groff-base kexec-tools
	clang-14 libclang-rt-14-dev llvm-14 clang-tools-14 sparse coccinelle
	ocaml-nox cppcheck
	debhelper dh-dkms fakeroot lintian rpm rpmlint
	rsync gnuplot-nox"

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
	"linux-headers-$k612" "linux-image-$k612-unsigned")
if [ -n "$need" ]; then
	apt_update
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $need
fi
echo "deps: ok (kernels $k61, $k612)"
