#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# kdump.sh KERNEL [--no-diag]: a kdump capture kernel does not find a live
# secret in /proc/vmcore (KERNEL: 6.1, 6.12).
#
# Each run boots KERNEL with crashkernel= (at 128 MiB, so that the pool
# can be carved above it in a 1 GiB guest), loads a capture kernel with
# kexec-tools, and has kdump_holder take the whole free pool as one secret
# and a few mlocked ordinary pages as a control, each filled with a
# pattern computed in place from a seed drawn here, then crash the kernel.
# The capture kernel's /init, kdump_scan, searches all of /proc/vmcore for
# both patterns.  Runs:
#  A  crash_kexec_post_notifiers; kexec -p after smem was loaded (the pool
#     carved), then the pool grown by one block: the secret spans a block
#     the capture kernel's ranges include, so only the panic wipe can hide
#     it.  Also the crash-kernel reporting: sysfs crash_kernel_loaded,
#     SMEM_STATUS_CRASH_KERNEL and the dmesg warning on a resize.
#  B  no post-notifiers; kexec -p after the carve: the carved blocks are not
#     System RAM any more, so kexec-tools leaves them out of the vmcore.
#  D  diagnostics, no pass/fail: no post-notifiers, the capture kernel
#     loaded before smem carves, with kexec -p (kexec_load) and with
#     kexec -s -p (kexec_file_load).  Found on 6.1 and 6.12 with both: 6.12
#     (CONFIG_CRASH_HOTPLUG) rewrites a kexec_file_load elfcorehdr at
#     MEM_OFFLINE, but from the System RAM resources, which still hold the
#     block until its removal right after.  --no-diag leaves them out.
# Prints TAP; exits non-zero when a test failed.  Needs a build (make) and
# kexec-tools on this machine (the guest gets the host's /sbin/kexec).
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
kernel=${1:?usage: kdump.sh KERNEL [--no-diag]}
diag=${2:-}
build=$top/build
krel=$("$top/tools/kernels.sh" -i "$kernel")
[ -n "$krel" ] || krel=$kernel
for f in "$build/selftests/kdump_holder" "$build/selftests/kdump_scan" /sbin/kexec \
	"/boot/vmlinuz-$krel"; do
	[ -x "$f" ] || [ -f "$f" ] || { echo "kdump.sh: no $f (make; make deps)" >&2; exit 2; }
done
work=$(mktemp -d /tmp/kdump.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT

# The capture kernel: the same kernel, with kdump_scan as the whole initramfs.
mkdir "$work/capture"
cp "$build/selftests/kdump_scan" "$work/capture/init"
(cd "$work/capture" && echo init | cpio -o -H newc --quiet) >"$work/capture.cpio"
cp "/boot/vmlinuz-$krel" "$work/vmlinuz"

seed=$(od -An -N8 -tx8 /dev/urandom | tr -d ' \n')
capture_cmdline="console=ttyS0 quiet nokaslr irqpoll nr_cpus=1 reset_devices panic=-1 smem_kdump_seed=$seed"
load="/root/vmlinuz --initrd=/root/capture.cpio --append='$capture_cmdline'"
# The first kernel's log goes to vm-run's report before the crash, so that
# vm-run fails on any splat up to there (the capture kernel's /init writes
# only the exit line).
dump='{ echo smem-vm-dmesg-begin; dmesg; echo smem-vm-dmesg-end; } >/dev/ttyS1'
hold="kdump_holder hold $seed '$dump'"
warned='dmesg | grep -ci "smemdev:.*crash kernel"'

# run NAME CMDLINE SCRIPT [VM-RUN OPTIONS]: boot, crash, capture; the
# console in $work/NAME.log, vm-run's status in $work/NAME.rc.
run() {
	local name=$1 cmdline=$2 script=$3 start=$SECONDS
	shift 3
	"$top/tools/vm-run" --no-build -k "$kernel" -t 300 \
		-c "crashkernel=256M@128M $cmdline" \
		--bin /sbin/kexec -a "$work/vmlinuz" -a "$work/capture.cpio" "$@" \
		-- sh -c "set -e; $script" >"$work/$name.log" 2>&1
	echo $? >"$work/$name.rc"
	echo "# run $name: $((SECONDS - start)) s, vm-run status $(cat "$work/$name.rc")"
	[ "$(cat "$work/$name.rc")" = 0 ] || sed 's/^/# /' "$work/$name.log"
}

# value NAME KEY: the last KEY=VALUE line of run NAME's console.
value() {
	sed -n "s/^$2=//p" "$work/$1.log" | tail -n 1
}

# hits NAME secret|control: how often kdump_scan found the pattern.
hits() {
	sed -n "s/^kdump-found .*$2=\([0-9]*\).*/\1/p" "$work/$1.log" | tail -n 1
}

# inside NAME: pages of the secret inside the capture kernel's PT_LOAD
# ranges; empty when pagemap did not give every frame.
inside() {
	local log=$work/$1.log s e ls le lo hi pages=0
	grep -q '^kdump-secret-unknown' "$log" && return
	grep -q '^kdump-secret-range' "$log" || return
	while read -r _ s e; do
		while read -r _ ls le; do
			lo=$((s > ls ? s : ls))
			hi=$((e < le ? e : le))
			[ $hi -gt $lo ] && pages=$((pages + (hi - lo) / 4096))
		done < <(grep '^kdump-load ' "$log")
	done < <(grep '^kdump-secret-range ' "$log")
	echo $pages
}

# shellcheck source=selftests/vm/tap.sh
. "$(dirname "$0")/tap.sh"

# captured NAME: the run got to the capture kernel, which searched all of
# /proc/vmcore and found the control pattern (so the search works).
captured() {
	[ "$(cat "$work/$1.rc")" = 0 ] && [ "$(hits "$1" control)" -gt 0 ] 2>/dev/null
}

echo "TAP version 13"
echo "1..9"

run A crash_kexec_post_notifiers "
	echo kdump-sysfs-before=\$(cat /sys/class/misc/smem/crash_kernel_loaded)
	echo kdump-status-before=\$(kdump_holder status)
	echo kdump-warned-before=\$($warned)
	kexec -p $load
	echo kdump-sysfs-after=\$(cat /sys/class/misc/smem/crash_kernel_loaded)
	echo kdump-status-after=\$(kdump_holder status)
	kdump_holder grow
	echo kdump-warned-after=\$($warned)
	dmesg | grep -i 'smemdev:.*crash kernel' | sed 's/^/kdump-warning: /'
	$hold"
grep '^kdump-warning: ' "$work/A.log" | sed 's/^/# /'
captured A && [ "$(hits A secret)" = 0 ]
tap $? "(a) post-notifiers, capture kernel loaded after the carve: no secret page in /proc/vmcore (found $(hits A secret))"
captured A
tap $? "(a) the control pattern in ordinary memory is in /proc/vmcore"
[ "$(inside A)" -gt 0 ] 2>/dev/null
tap $? "(a) $(inside A) of $(value A kdump-secret-pages) secret pages were inside the vmcore's ranges (block carved after kexec -p): the panic wipe hid them"
[ "$(value A kdump-sysfs-before)" = 0 ] && [ "$(value A kdump-sysfs-after)" = 1 ]
tap $? "(c) crash_kernel_loaded: $(value A kdump-sysfs-before) before kexec -p, $(value A kdump-sysfs-after) after"
[ "$(value A kdump-status-before)" = 0 ] && [ "$(value A kdump-status-after)" = 1 ]
tap $? "(c) SMEM_STATUS_CRASH_KERNEL: $(value A kdump-status-before) before kexec -p, $(value A kdump-status-after) after"
[ "$(value A kdump-warned-before)" = 0 ] && [ "$(value A kdump-warned-after)" -gt 0 ] 2>/dev/null
tap $? "(c) dmesg warns about the crash kernel on a resize while it is loaded (lines: $(value A kdump-warned-before) before kexec -p, $(value A kdump-warned-after) after the resize)"

run B "" "
	kexec -p $load
	$hold"
captured B && [ "$(hits B secret)" = 0 ]
tap $? "(b) no post-notifiers, capture kernel loaded after the carve: no secret page in /proc/vmcore (found $(hits B secret))"
captured B
tap $? "(b) the control pattern in ordinary memory is in /proc/vmcore"
[ "$(inside B)" = 0 ]
tap $? "(b) the carved blocks are outside the vmcore's ranges ($(inside B) of $(value B kdump-secret-pages) secret pages inside)"

if [ "$diag" != --no-diag ]; then
	for how in "kexec -p" "kexec -s -p"; do
		name=D${how// /}
		run "$name" "" "
			$how $load
			echo kdump-crash-hotplug=\$(cat /sys/devices/system/memory/crash_hotplug 2>/dev/null || echo none)
			modprobe smemdev
			echo kdump-warned-at-load=\$($warned)
			$hold" --no-module
		echo "# (d) $kernel, no post-notifiers, '$how' before smem was loaded:" \
			"secret found $(hits "$name" secret) times," \
			"control $(hits "$name" control) times;" \
			"$(inside "$name") of $(value "$name" kdump-secret-pages) secret pages inside the vmcore's ranges;" \
			"dmesg warning at load: $(value "$name" kdump-warned-at-load);" \
			"crash_hotplug: $(value "$name" kdump-crash-hotplug)"
	done
fi
exit $rc
