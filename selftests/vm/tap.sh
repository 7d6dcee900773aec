# SPDX-License-Identifier: GPL-2.0
#
# Sourced by the host-side VM test scripts: tap STATUS DESCRIPTION prints
# one TAP line, "ok" when STATUS is 0, numbered from 1 (or "-" when
# TAP_NUMBERED=0, for lines that go into another script's TAP), after
# TAP_PREFIX; a failure sets rc=1.  The caller prints the plan.
n=0
rc=0
tap() {
	n=$((n + 1))
	local num=$n
	[ "${TAP_NUMBERED:-1}" = 1 ] || num=-
	if [ "$1" = 0 ]; then
		echo "ok $num ${TAP_PREFIX:-}$2"
	else
		echo "not ok $num ${TAP_PREFIX:-}$2"
		rc=1
	fi
}
