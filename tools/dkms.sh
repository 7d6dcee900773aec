#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# dkms.sh install [KVER...]   copy the module's sources to /usr/src/smemdev-VERSION
#                             and have DKMS add, build and install it for each
#                             kernel (default: every kernel with headers)
# dkms.sh remove              undo it: every version of smemdev leaves DKMS, its
#                             modules leave /lib/modules, /usr/src/smemdev-* goes
#
# Behind `make dkms-install` and `make dkms-remove`.  Idempotent: install
# does nothing for a kernel that already has this very source built and
# installed, and rebuilds everything when the source changed; remove does
# nothing when smem is not there.  Only what DKMS needs is copied (make
# dkms-source: Kbuild, VERSION, dkms.conf with its version, kmod/, the
# uapi header).  DKMS signs the modules with its
# MOK (/var/lib/dkms/mok.key, mok.pub), made on first use: see the README.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
version=$(cat "$top/VERSION")
src=/usr/src/smemdev-$version

die() {
	echo "dkms.sh: $*" >&2
	exit 1
}

[ "$(id -u)" = 0 ] || die "run as root (DKMS writes /usr/src, /var/lib/dkms and /lib/modules)"
command -v dkms >/dev/null || die "dkms is not installed (apt-get install dkms; dnf install dkms)"

# Every version of smem DKMS knows, from its tree (dkms status prints
# warnings and varies across releases).
dkms_versions() {
	local d
	for d in /var/lib/dkms/smemdev/*/; do
		[ -d "$d" ] && [ ! -L "${d%/}" ] && basename "$d"
	done
	return 0
}

# Whether DKMS has smem $version installed for kernel $1, from this source.
installed_for() {
	[ "$(dkms status -m smemdev -v "$version" -k "$1" 2>/dev/null)" != "" ] &&
		dkms status -m smemdev -v "$version" -k "$1" 2>/dev/null | grep -q ': installed'
}

stage_source() {
	make -s -C "$top" dkms-source DESTDIR= DKMS_SRC_DIR="$1"
}

# Run a dkms command quietly; its output only when it fails.
quiet() {
	local out
	out=$("$@" 2>&1) && return 0
	printf '%s\n' "$out" >&2
	return 1
}

remove_version() {
	echo "dkms.sh: removing smemdev/$1 from DKMS"
	quiet dkms remove "smemdev/$1" --all || die "dkms remove smemdev/$1 failed"
}

install() {
	local kernels=("$@") k stage rebuild=0 v

	if [ ${#kernels[@]} = 0 ]; then
		for k in /lib/modules/*/build; do
			[ -d "$k" ] && kernels+=("$(basename "$(dirname "$k")")")
		done
	fi
	[ ${#kernels[@]} -gt 0 ] || die "no kernel headers under /lib/modules/*/build (install linux-headers-\$(uname -r))"

	# Other versions of smem would install the same smemdev.ko: they go.
	for v in $(dkms_versions); do
		[ "$v" = "$version" ] || remove_version "$v"
	done

	stage=$(mktemp -d /tmp/smem-dkms.XXXXXX)
	trap 'rm -rf "$stage"' RETURN
	stage_source "$stage"
	if [ ! -d "$src" ] || ! diff -r "$stage" "$src" >/dev/null; then
		rebuild=1
	fi
	if [ $rebuild = 1 ]; then
		[ -d "/var/lib/dkms/smemdev/$version" ] && remove_version "$version"
		rm -rf "$src"
		mkdir -p "$src"
		cp -a "$stage/." "$src/"
		echo "dkms.sh: sources copied to $src"
	fi
	if [ ! -d "/var/lib/dkms/smemdev/$version" ]; then
		quiet dkms add "smemdev/$version" || die "dkms add smemdev/$version failed"
	fi
	for k in "${kernels[@]}"; do
		if installed_for "$k"; then
			echo "dkms.sh: smemdev/$version is already installed for $k"
			continue
		fi
		echo "dkms.sh: building smemdev/$version for $k"
		dkms build "smemdev/$version" -k "$k" || {
			# 77: outside BUILD_EXCLUSIVE_KERNEL/_ARCH of dkms.conf.
			[ $? = 77 ] || die "dkms build for $k failed (log: /var/lib/dkms/smemdev/$version/build/make.log)"
			echo "dkms.sh: skipped $k: dkms.conf does not support it"
			continue
		}
		quiet dkms install "smemdev/$version" -k "$k" --force ||
			die "dkms install for $k failed"
		echo "dkms.sh: installed $(modinfo -k "$k" -F filename smemdev)"
	done
}

remove() {
	local v found=0
	for v in $(dkms_versions); do
		remove_version "$v"
		found=1
	done
	rm -rf /var/lib/dkms/smemdev
	for v in /usr/src/smemdev-*; do
		[ -e "$v" ] || continue
		rm -rf "$v"
		echo "dkms.sh: removed $v"
		found=1
	done
	[ $found = 1 ] || echo "dkms.sh: smemdev is not installed with DKMS"
}

case "${1:-}" in
install) shift; install "$@" ;;
remove) remove ;;
*) sed -n 's/^# \{0,1\}//p' "$0" | sed -n '3,7p' >&2; exit 2 ;;
esac
