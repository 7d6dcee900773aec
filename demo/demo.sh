#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# demo.sh [-k 6.1|6.12] [--tap] [--no-build]: `make demo`.  Boots Debian's kernel in a
# QEMU VM (tools/vm-run: nothing on this machine changes), loads smem, and
# runs demo/guest.sh there: a program keeps a key with libsmem, and gdb,
# /proc/PID/mem, process_vm_readv, a forked child, the kernel direct map
# and a core dump all fail to read it.  Exits non-zero if any guarantee
# failed.  --tap prints the summary as TAP lines, for make check;
# --no-build uses what is built already.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
kline=6.12
tap=0
build=
while [ $# -gt 0 ]; do
	case "$1" in
	-k) kline=$2; shift 2 ;;
	--tap) tap=1; shift ;;
	--no-build) build=--no-build; shift ;;
	*) echo "usage: demo.sh [-k 6.1|6.12] [--tap] [--no-build]" >&2; exit 2 ;;
	esac
done

start=$(date +%s)
"$top/tools/vm-run" $build -k "$kline" --gdb -a "$top/demo/guest.sh" -- \
	env DEMO_TAP=$tap sh guest.sh
rc=$?
echo "demo: $(($(date +%s) - start)) s on kernel line $kline, exit status $rc"
exit $rc
