#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# check.sh [LANE...]: run the test suite and count every TAP result.
#
# Lanes: "lint" (checkpatch on the kernel code), "host" (library tests on
# this machine's kernel, where no module can be loaded), "6.1", "6.12" and
# "debug" (the whole suite in a VM on that kernel).
# Default: lint host 6.1 6.12.  Ends with one line
# "N passed, N failed, N skipped" and exits non-zero on any failure,
# including a lane that died without reporting its results.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
[ $# -gt 0 ] || set -- lint host 6.1 6.12
logdir=$top/build/check
mkdir -p "$logdir"

lane_failed=0
times=

# checkpatch.pl --no-tree -f on every kernel source, one TAP result each,
# and the DKMS package version.
lint() {
	local n=0 f rc=0
	for f in "$top"/kmod/*.[ch] "$top"/selftests/module/*.c "$top"/include/uapi/linux/smem.h; do
		n=$((n + 1))
		if perl "$top/build/checkpatch/scripts/checkpatch.pl" --no-tree -q -f "$f"; then
			echo "ok $n checkpatch ${f#$top/}"
		else
			echo "not ok $n checkpatch ${f#$top/}"
			rc=1
		fi
	done
	n=$((n + 1))
	if grep -qx "PACKAGE_VERSION=\"$(cat "$top/VERSION")\"" "$top/dkms.conf"; then
		echo "ok $n dkms.conf version matches VERSION"
	else
		echo "not ok $n dkms.conf version matches VERSION"
		rc=1
	fi
	return $rc
}

run_lane() {
	local lane=$1 log=$logdir/$1.log start rc
	start=$(date +%s)
	echo "=== lane $lane"
	case "$lane" in
	lint)
		lint
		;;
	host)
		SMEM_SELFTESTS=$top/build/selftests \
			"$top/selftests/run-tests" "$top"/build/selftests/lib_*_test
		;;
	*)
		"$top/tools/vm-run" -k "$lane" -- smem-run-tests
		;;
	esac 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	if [ "$rc" != 0 ]; then
		lane_failed=1
		# A lane that failed without a failing test (a kernel splat, a
		# panic, a time-out) still counts as a failure.
		grep -q '^not ok' "$log" ||
			echo "not ok - lane $lane failed with status $rc" | tee -a "$log"
	fi
	times="$times $lane=$(($(date +%s) - start))s"
}

for lane in "$@"; do
	run_lane "$lane"
done

pass=0 fail=0 skip=0
for lane in "$@"; do
	log=$logdir/$lane.log
	p=$(grep -cE '^ok ' "$log")
	s=$(grep -cE '^ok .*# SKIP' "$log")
	f=$(grep -cE '^not ok' "$log")
	pass=$((pass + p - s)) skip=$((skip + s)) fail=$((fail + f))
done
echo "lane times:$times"
echo "$pass passed, $fail failed, $skip skipped"
[ $fail = 0 ] && [ $lane_failed = 0 ]
