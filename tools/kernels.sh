#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Resolve the Debian kernel release of each supported kernel line from the
# package lists, so no ABI number is ever written down in the tree.
#
#   tools/kernels.sh 6.1     -> 6.1.0-N-amd64, N from linux-headers-amd64
#   tools/kernels.sh 6.12    -> newest 6.12.N+deb12-amd64 in the lists
#   tools/kernels.sh RELEASE -> RELEASE (already a full release)
#
# With -i, prefer what is installed under /lib/modules (so a machine whose
# package lists moved on keeps using the kernel it has).
set -eu

installed_only=0
if [ "${1:-}" = "-i" ]; then
	installed_only=1
	shift
fi
line=${1:?usage: kernels.sh [-i] 6.1|6.12|RELEASE}

installed() {
	# $1: glob of the release
	for d in /lib/modules/$1; do
		[ -d "$d/build" ] && [ -f "/boot/vmlinuz-${d##*/}" ] && echo "${d##*/}"
	done | sort -V | tail -n 1
}

case "$line" in
6.1)
	if [ $installed_only = 1 ]; then
		installed '6.1.0-*-amd64'
		exit 0
	fi
	apt-cache depends linux-headers-amd64 2>/dev/null |
		sed -n 's/.*Depends: linux-headers-\(6\.1\.0-[0-9]*-amd64\)$/\1/p' |
		sort -V | tail -n 1
	;;
6.12)
	if [ $installed_only = 1 ]; then
		installed '6.12.*+deb12-amd64'
		exit 0
	fi
	apt-cache search --names-only '^linux-headers-6\.12\.[0-9]+\+deb12-amd64$' |
		sed -n 's/^linux-headers-\(6\.12\.[0-9]*+deb12-amd64\) .*/\1/p' |
		sort -V | tail -n 1
	;;
*)
	echo "$line"
	;;
esac
