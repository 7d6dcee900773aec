#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Build, once, the debug kernel the VM test suite boots (KASAN, lockdep,
# KFENCE, kmemleak, DEBUG_PAGEALLOC, ...) from Debian's linux-source-6.12,
# and print the directory that holds it:
#
#   DIR/bzImage   the kernel
#   DIR/release   its uname -r
#   DIR/obj       its build tree: make -C DIR/obj M=/path/to/module modules
#
# DIR is ${SMEM_CACHE:-/var/cache/smem}/debug-kernel/KEY, KEY a hash of the
# source package version, the fragments in tools/debug-kernel/ and this
# script: changing any of them builds a new kernel.  A built kernel is
# reused at once.  With --print-key, print DIR and build nothing.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
tarball=/usr/src/linux-source-6.12.tar.xz

case "${1:-}" in
"" | --print-key) ;;
*)
	echo "usage: debug-kernel.sh [--print-key]" >&2
	exit 2
	;;
esac
print_key=${1:-}
set -- "$here"/debug-kernel/*.config

version=$(dpkg-query -W -f='${Version}' linux-source-6.12)
key=$({ echo "$version"; cat "$@" "$here/debug-kernel.sh"; } |
	sha256sum | cut -c1-16)
dir=${SMEM_CACHE:-/var/cache/smem}/debug-kernel/$key

built() {
	[ -e "$dir/ready" ] || return 1
	echo "$dir"
}

if [ -n "$print_key" ]; then
	echo "$dir"
	exit 0
fi
built && exit 0

# One build per key at a time: a second caller waits, then reuses it.
mkdir -p "${dir%/*}"
exec 9>"$dir.lock"
flock 9
built && exit 0

# The build happens in place because Kbuild writes the absolute path of the
# source tree into DIR/obj (obj/Makefile, obj/source), so a renamed build
# tree can no longer build modules.  DIR/ready, written last, is what makes
# DIR usable; anything without it is the rest of an interrupted build.
rm -rf "$dir"
src=$dir/src
obj=$dir/obj
log=$dir/build.log
mkdir -p "$src" "$obj"
echo "debug-kernel: building $dir, log in $log" >&2

run() {
	if ! "$@" >>"$log" 2>&1; then
		echo "debug-kernel: '$*' failed; end of $log:" >&2
		tail -n 40 "$log" >&2
		exit 1
	fi
}

run tar -xJf "$tarball" -C "$src" --strip-components=1
# merge_config.sh writes its temporary files to the current directory.
cd "$obj"
# ARCH=x86_64: x86 tinyconfig is otherwise 32-bit, and the 32-bit values it
# writes (FRAME_WARN=1024, ...) would outlive the switch to 64BIT.
run make -C "$src" O="$obj" ARCH=x86_64 tinyconfig
run "$src/scripts/kconfig/merge_config.sh" -m -O "$obj" .config "$@"
run make olddefconfig

# Kconfig silently drops an option whose dependencies are not met: make sure
# every line of the fragments made it into .config.
missing=$(awk '
	FNR == NR { have[$0]; sub(/=.*/, ""); set[$0]; next }
	/^CONFIG_/ && !($0 in have) || /^# CONFIG_.* is not set$/ && ($2 in set)
' .config "$@")
if [ -n "$missing" ]; then
	echo "debug-kernel: not in .config as the fragments say (missing dependencies?):" >&2
	echo "$missing" >&2
	exit 1
fi

# "modules" writes Module.symvers, which out-of-tree modules link against.
run make -j"$(($(nproc) + 1))" bzImage modules
cp arch/x86/boot/bzImage "$dir/bzImage"
make -s kernelrelease >"$dir/release"
# Out-of-tree modules need the headers, scripts and Makefiles, not these
# sources (1.2 GB of the 1.7).
(cd "$src" && rm -rf Documentation drivers samples sound)
touch "$dir/ready"

# Kernels built for other keys are about 800 MB each: drop those that no
# build holds.
for old in "${dir%/*}"/*/; do
	old=${old%/}
	[ "$old" = "$dir" ] && continue
	(exec 8>"$old.lock" && flock -n 8 && rm -rf "$old" "$old.lock") || true
done
echo "$dir"
