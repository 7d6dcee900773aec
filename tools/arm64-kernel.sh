#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Fetch Debian's own arm64 kernel of a supported line, and what an x86-64
# host needs to cross-build modules for it and boot it in QEMU, into a
# cache, and print the cache's directory for that release:
#
#   tools/arm64-kernel.sh [-i] 6.1|6.12|RELEASE
#
#   DIR/vmlinuz                         the kernel image
#   DIR/lib/modules/RELEASE/            its modules, with modules.dep (depmod)
#   DIR/lib/modules/RELEASE/build       -> the headers (make -C it ARCH=arm64)
#   DIR/usr/src/linux-headers-RELEASE/  the arm64 headers
#   DIR/../userland/                    aarch64 busybox (static) and kmod
#
# DIR is $SMEM_ARM64_CACHE/RELEASE (default /var/cache/smem/arm64).  Nothing
# is installed: the packages are extracted with dpkg-deb -x, so the host's
# /boot and /lib/modules never see a foreign kernel.  Idempotent: only what
# is missing is fetched.  The release is resolved from the package lists
# as tools/kernels.sh does for amd64, so no ABI number is written down;
# with -i, the newest release of the line already in the cache wins (a
# machine whose lists moved on keeps the kernel it has), as with kernels.sh.
#
# The headers' scripts/ and tools/ are host programs (linux-kbuild-*): the
# amd64 build of the same version serves, the package the amd64 headers
# install (or, when this host has another version, extracted beside the
# arm64 headers).  The headers' common part (linux-headers-*-common, for
# every architecture) likewise.  Needs the arm64 architecture in dpkg
# (tools/deps.sh adds it) and root for apt-get download into the cache.
set -eu

cache=${SMEM_ARM64_CACHE:-/var/cache/smem/arm64}
installed_only=0
if [ "${1:-}" = "-i" ]; then
	installed_only=1
	shift
fi
line=${1:?usage: arm64-kernel.sh [-i] 6.1|6.12|RELEASE}

fail() {
	echo "arm64-kernel: $*" >&2
	exit 1
}

cached() {
	# $1: glob of the release
	for d in "$cache"/$1; do
		[ -f "$d/.complete" ] && echo "${d##*/}"
	done | sort -V | tail -n 1
}

resolve() {
	case "$1" in
	6.1)
		apt-cache depends linux-headers-arm64:arm64 2>/dev/null |
			sed -n 's/.*Depends: linux-headers-\(6\.1\.0-[0-9]*-arm64\)\(:arm64\)\{0,1\}$/\1/p' |
			sort -V | tail -n 1
		;;
	6.12)
		# Not the -16k flavour: 4 KiB pages, as on x86.
		apt-cache search --names-only '^linux-headers-6\.12\.[0-9]+\+deb12-arm64$' |
			sed -n 's/^linux-headers-\(6\.12\.[0-9]*+deb12-arm64\) .*/\1/p' |
			sort -V | tail -n 1
		;;
	*)
		echo "$1"
		;;
	esac
}

rel=
if [ $installed_only = 1 ]; then
	case "$line" in
	6.1) rel=$(cached '6.1.0-*-arm64') ;;
	6.12) rel=$(cached '6.12.*+deb12-arm64') ;;
	esac
fi
[ -n "$rel" ] || rel=$(resolve "$line")
[ -n "$rel" ] || fail "cannot resolve the arm64 $line kernel from the package lists" \
	"(dpkg --add-architecture arm64; apt-get update: tools/deps.sh does both)"

dir=$cache/$rel
userland=$cache/userland
if [ -f "$dir/.complete" ] && [ -f "$userland/.complete" ]; then
	echo "$dir"
	exit 0
fi

mkdir -p "$cache"
# One fetch at a time: parallel vm-runs share the cache.
exec 9>"$cache/.lock"
flock 9

work=$(mktemp -d "$cache/.fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT

# $1: package[:arch][=version]; extracted into $2.  One package at a
# time, so the only .deb in $work is the one just downloaded.
fetch() {
	(cd "$work" && apt-get download -q -o APT::Sandbox::User=root "$1" >&2) ||
		fail "apt-get download $1 failed"
	dpkg-deb -x "$work"/*.deb "$2"
	rm -f "$work"/*.deb
}

# $1: package name; $2: version.  Installed here at exactly that version?
host_has() {
	[ "$(dpkg-query -W -f='${Status} ${Version}' "$1" 2>/dev/null)" = \
		"install ok installed $2" ]
}

if [ ! -f "$dir/.complete" ]; then
	tmp=$work/root
	mkdir -p "$tmp"
	ver=$(apt-cache show --no-all-versions "linux-headers-$rel:arm64" 2>/dev/null |
		sed -n 's/^Version: //p')
	[ -n "$ver" ] || fail "no package linux-headers-$rel:arm64 in the lists"
	deps=$(apt-cache show --no-all-versions "linux-headers-$rel:arm64" | sed -n 's/^Depends: //p')
	common=$(echo "$deps" | tr ',' '\n' | sed -n 's/^ *\(linux-headers-[^ ]*-common\).*/\1/p')
	kbuild=$(echo "$deps" | tr ',' '\n' | sed -n 's/^ *\(linux-kbuild-[^ ]*\).*/\1/p')
	[ -n "$common" ] && [ -n "$kbuild" ] ||
		fail "linux-headers-$rel:arm64 names no common headers or kbuild package"

	fetch "linux-image-$rel-unsigned:arm64=$ver" "$tmp"
	fetch "linux-headers-$rel:arm64=$ver" "$tmp"
	# The host's common headers and kbuild when it has this very version
	# (make deps installs them for the amd64 headers), else their own
	# copies here.  The arm64 headers reach both by relative links
	# (scripts -> ../../lib/linux-kbuild-*/scripts), which then resolve
	# inside the cache either way.
	if host_has "$common" "$ver"; then
		mkdir -p "$tmp/usr/src"
		ln -s "/usr/src/$common" "$tmp/usr/src/$common"
	else
		fetch "$common=$ver" "$tmp"
	fi
	if host_has "$kbuild" "$ver"; then
		mkdir -p "$tmp/usr/lib"
		ln -s "/usr/lib/$kbuild" "$tmp/usr/lib/$kbuild"
	else
		fetch "$kbuild:$(dpkg --print-architecture)=$ver" "$tmp"
	fi

	# The image's /boot and the links the packages point at the real root.
	mv "$tmp/boot/vmlinuz-$rel" "$tmp/vmlinuz"
	sed -i "s|^include /usr/src/$common/Makefile\$|include $dir/usr/src/$common/Makefile|" \
		"$tmp/usr/src/linux-headers-$rel/Makefile"
	grep -q "^include $dir/" "$tmp/usr/src/linux-headers-$rel/Makefile" ||
		fail "linux-headers-$rel: its Makefile does not include $common as expected"
	ln -sfn "../../../usr/src/linux-headers-$rel" "$tmp/lib/modules/$rel/build"
	ln -sfn "../../../usr/src/$common" "$tmp/lib/modules/$rel/source"
	[ -x "$tmp/lib/modules/$rel/build/scripts/mod/modpost" ] ||
		fail "no host modpost under the headers of $rel"
	# modprobe -d DIR --show-depends (tools/vm-run) reads modules.dep.
	depmod -b "$tmp" "$rel"
	touch "$tmp/.complete"
	rm -rf "$dir"
	mv "$tmp" "$dir"
fi

# The guest's own programs, aarch64: busybox-static and kmod, extracted
# (kmod:arm64 would replace the host's kmod if installed).  kmod's shared
# libraries come from the arm64 multiarch packages deps.sh installs.
if [ ! -f "$userland/.complete" ]; then
	tmp=$work/userland
	mkdir -p "$tmp"
	fetch busybox-static:arm64 "$tmp"
	fetch kmod:arm64 "$tmp"
	touch "$tmp/.complete"
	rm -rf "$userland"
	mv "$tmp" "$userland"
fi
echo "$dir"
