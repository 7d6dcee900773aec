#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# real.sh KERNEL: the suite's "real" lane on one kernel (6.1, 6.12): guests
# that look like real machines rather than the 1 GiB test VM.
#
#  4g          4 GiB: boot memory under 1 GiB direct-map pages (checked:
#              DirectMap1G is not zero); kmod_carve_test
#  nogbpages   the same with nogbpages: no 1 GiB page (DirectMap1G is 0),
#              and more blocks eligible than without it
#  virtio-mem  1 GiB of boot memory and a virtio-mem device with 512 MiB
#              plugged and online above it; kmod_carve_test
#  movable     movablecore=512M and memhp_default_state=online_movable;
#              kmod_carve_test
#  offline     memhp_default_state=offline: blocks given back stay offline
#  kdump       selftests/vm/kdump.sh, when it is there
#  vfio        selftests/vm/vfio_dma.sh, when it is there
#  user        kmod_isolation_test as uid 65534 in the device's group (as
#              the udev rule makes it), and kmod_account_test, whose
#              children become uid 65534 and others
#
# kmod_carve_test's cases about one kind of guest run in that guest only,
# and no case of this lane may skip: each guest is here to prove what it
# has.  failed_allocation_refuses_no_block needs fault injection, which
# only the debug kernel has: it runs in the debug lane.  Every case of kmod_carve_test grows and shrinks the pool, once
# under memory pressure.  vm-run fails a guest on any kernel warning.
# Prints TAP, the guests' output as comments (their test results as they
# are), and each guest's time; exits non-zero when anything failed.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
kernel=${1:?usage: real.sh KERNEL}
work=$(mktemp -d /tmp/real.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT

TAP_NUMBERED=0 TAP_PREFIX="$kernel: "
# shellcheck source=selftests/vm/tap.sh
. "$(dirname "$0")/tap.sh"

# guest NAME [VM-RUN OPTIONS] -- CMD...: boot one guest; its console in
# $work/NAME.log, passed through with everything but TAP results commented.
build=
guest() {
	local name=$1 start=$SECONDS status
	shift
	# shellcheck disable=SC2086
	"$top/tools/vm-run" $build -k "$kernel" -t 500 "$@" >"$work/$name.log" 2>&1
	status=$?
	build=--no-build
	sed -E '/^(ok |not ok )/!s/^/# /' "$work/$name.log"
	tap "$status" "guest $name finished in $((SECONDS - start)) s (vm-run status $status)"
	! grep -q '^ok .*# SKIP' "$work/$name.log"
	tap $? "guest $name: no case skipped"
}

# passed NAME CASE: the guest ran CASE of kmod_carve_test, and it passed.
passed() {
	grep -qE "^ok [0-9]+ carve\.$2\$" "$work/$1.log"
	tap $? "guest $1: carve.$2 ran and passed"
}

# value NAME KEY: the last number after KEY= in the guest's console.
value() {
	sed -n "s/.*$2=\([0-9]*\).*/\1/p" "$work/$1.log" | tail -n 1
}

carve=/usr/lib/smem/selftests/kmod_carve_test
nofi=(-T failed_allocation_refuses_no_block)
meminfo='grep DirectMap /proc/meminfo | tr -d " " | sed "s/:/=/"'
# shellcheck disable=SC2054
vmem=(-m 1G,maxmem=3G
	--qemu -object --qemu memory-backend-ram,id=vmem0,size=1G
	--qemu -device --qemu virtio-mem-pci,id=vm0,memdev=vmem0,requested-size=512M
	--modprobe virtio_pci --modprobe virtio_mem)

echo "TAP version 13"

guest 4g -m 4G -- sh -c "$meminfo; $carve -T driver_managed_memory_stays -T movable_blocks_carve ${nofi[*]}"
[ "$(value 4g DirectMap1G)" -gt 0 ] 2>/dev/null
tap $? "guest 4g: boot memory is 1 GiB-mapped (DirectMap1G $(value 4g DirectMap1G) kB)"
passed 4g gib_mapped_memory_stays

guest nogbpages -m 4G -c nogbpages -- sh -c "$meminfo; $carve -T gib_mapped_memory_stays \
	-T driver_managed_memory_stays -T movable_blocks_carve ${nofi[*]}"
# Without 1 GiB pages, meminfo has no DirectMap1G line.
[ "$(value nogbpages DirectMap1G)" = "" ]
tap $? "guest nogbpages: no 1 GiB page (no DirectMap1G in /proc/meminfo)"
with=$(value 4g eligible_blocks) without=$(value nogbpages eligible_blocks)
[ "${without:-0}" -gt "${with:-0}" ]
tap $? "nogbpages makes more blocks eligible: ${with:-?} without it, ${without:-?} with it (carved: $(value 4g carved_blocks), $(value nogbpages carved_blocks))"

guest virtio-mem "${vmem[@]}" -- \
	"$carve" -T gib_mapped_memory_stays -T movable_blocks_carve "${nofi[@]}"
passed virtio-mem driver_managed_memory_stays

# Blocks given back go back to ZONE_MOVABLE only with online_movable:
# with "online" the kernel puts them in a kernel zone, where unmovable
# pages may make them refuse the next time.
guest movable -c "movablecore=512M memhp_default_state=online_movable" -- \
	"$carve" -T gib_mapped_memory_stays -T driver_managed_memory_stays "${nofi[@]}"
passed movable movable_blocks_carve

# The command line's policy is the one given-back blocks follow.
guest offline -c memhp_default_state=offline -- \
	"$carve" -t give_back_follows_policy -t pending_block_goes_back
passed offline give_back_follows_policy

for script in kdump.sh vfio_dma.sh; do
	[ -x "$top/selftests/vm/$script" ] || continue
	start=$SECONDS
	if [ "$script" = kdump.sh ]; then
		"$top/selftests/vm/$script" "$kernel" --no-diag
	else
		"$top/selftests/vm/$script" "$kernel"
	fi
	tap $? "${script%.sh} finished in $((SECONDS - start)) s"
done

# shellcheck disable=SC2016
guest user --bin /usr/bin/setpriv -- sh -c '
	chgrp 65534 /dev/smem && chmod 0660 /dev/smem || exit 1
	# Only root may use /dev/loop-control and core_pattern: the loopdev
	# and coredump cases run as root in the other lanes.
	/usr/bin/setpriv --reuid=65534 --regid=65534 --clear-groups sh -c \
		"echo uid=\$(id -u); exec /usr/lib/smem/selftests/kmod_isolation_test -F loopdev -F coredump"
	rc=$?
	chown 0:0 /dev/smem && chmod 0600 /dev/smem
	/usr/lib/smem/selftests/kmod_account_test || rc=1
	exit $rc'
[ "$(value user uid)" = 65534 ]
tap $? "guest user: kmod_isolation_test ran as uid $(value user uid)"

echo "1..$n"
exit $rc
