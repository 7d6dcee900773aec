#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# check.sh [LANE...]: run the test suite and count every TAP result.
#
# Lanes: "lint" (checkpatch on the kernel code, the man pages, make
# distcheck, make rpm, the static analyzers of tools/analyze.sh), "host" (library
# tests on this machine's kernel, where no module can be loaded),
# "6.1", "6.12" and "debug" (the whole suite and the examples in a VM on
# that kernel), "real" (guests that look like real machines, on 6.1 and
# 6.12: 4 GiB with 1 GiB direct-map pages, nogbpages, virtio-mem,
# movablecore=, a kdump capture kernel, VFIO, an unprivileged user; see
# selftests/vm/real.sh), "dkms" (DKMS builds and installs the module for
# 6.1 and 6.12 here, and each kernel boots with the DKMS-built module),
# "kselftest" (the suite dropped into linux-source-6.12's selftests, built
# and installed by the kernel's Makefile, run_kselftest.sh in the 6.12 VM),
# "package" (the Debian packages built, lintian-clean, installed here, both
# kernels booted with the package-built module, then purged).
# Default: lint host 6.1 6.12 kselftest real dkms package debug.  Ends with one line
# "N passed, N failed, N skipped" and exits non-zero on any failure,
# including a lane that died without reporting its results.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
[ $# -gt 0 ] || set -- lint host 6.1 6.12 kselftest real dkms package debug
# A directory per run: runs side by side must not count each other's TAP.
mkdir -p "$top/build/check"
logdir=$(mktemp -d "$top/build/check/run.XXXXXX")

lane_failed=0
times=

# On a machine that has not built the debug kernel yet (a fresh CI
# machine: about 25 minutes), build it from the start, at low priority,
# beside the lanes before the debug lane, which then waits for it
# (debug-kernel.sh lets one build run and the other callers wait).
case " $* " in
*" debug "*)
	if [ ! -e "$("$top/tools/debug-kernel.sh" --print-key)/ready" ]; then
		nice -n 10 "$top/tools/debug-kernel.sh" >"$logdir/debug-kernel.log" 2>&1 &
	fi
	;;
esac

# checkpatch.pl --no-tree -f on every kernel source, groff warnings on
# every man page, one TAP result each; a man page for every exported
# symbol; the DKMS package version; the release tarball (make distcheck);
# the RPM packages (make rpm: rpmbuild and rpmlint); the static analyzers
# (tools/analyze.sh).
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
	# Man pages render without a groff warning (from man/, where the
	# ".so man3/..." link pages resolve), and every exported symbol has one.
	local out sym
	for f in "$top"/man/man[0-9]/*.[0-9]; do
		n=$((n + 1))
		out=$(cd "$top/man" && MANWIDTH=80 man -l --warnings=w "${f#$top/man/}" 2>&1 >/dev/null)
		if [ $? = 0 ] && [ -z "$out" ]; then
			echo "ok $n man ${f#$top/}"
		else
			echo "not ok $n man ${f#$top/}"
			printf '%s\n' "$out" | sed 's/^/# /'
			rc=1
		fi
	done
	for sym in $(sed -n 's/^[[:space:]]*\(smem_[a-z_]*\);$/\1/p' "$top/libsmem/libsmem.map"); do
		n=$((n + 1))
		if man -w -M "$top/man" 3 "$sym" >/dev/null 2>&1; then
			echo "ok $n man page for $sym"
		else
			echo "not ok $n man page for $sym"
			rc=1
		fi
	done
	n=$((n + 1))
	# The version lives in VERSION alone: dkms.conf gets it on install.
	if grep -qx 'PACKAGE_VERSION="#MODULE_VERSION#"' "$top/dkms.conf"; then
		echo "ok $n dkms.conf takes its version from VERSION (#MODULE_VERSION#)"
	else
		echo "not ok $n dkms.conf takes its version from VERSION (#MODULE_VERSION#)"
		rc=1
	fi
	n=$((n + 1))
	if out=$("$top/tools/spdx-check.sh" 2>&1); then
		echo "ok $n every file has an SPDX line with its licence in LICENSES/"
	else
		echo "not ok $n every file has an SPDX line with its licence in LICENSES/"
		printf '%s\n' "$out" | sed 's/^/# /'
		rc=1
	fi
	# The release tarball of HEAD builds alone (make distcheck).
	n=$((n + 1))
	if out=$(make -s -C "$top" -j"$(nproc)" distcheck 2>&1); then
		echo "ok $n make distcheck"
	else
		echo "not ok $n make distcheck"
		printf '%s\n' "$out" | tail -n 30 | sed 's/^/# /'
		rc=1
	fi
	# The RPM packages build with rpmbuild here, and rpmlint is clean.
	n=$((n + 1))
	if out=$(make -s -C "$top" rpm 2>&1); then
		echo "ok $n make rpm: rpmbuild -bb and rpmlint"
	else
		echo "not ok $n make rpm: rpmbuild -bb and rpmlint"
		printf '%s\n' "$out" | tail -n 30 | sed 's/^/# /'
		rc=1
	fi
	# Static analysis, numbered on from here: sparse and Coccinelle on the
	# module, scan-build, cppcheck and gcc -fanalyzer on the userspace code.
	"$top/tools/analyze.sh" -n $((n + 1)) || rc=1
	return $rc
}

# One TAP result of a lane: "ok N NAME" when $1 is 0, else "not ok" and
# the lane fails.  N and the status are the calling lane's locals n, rc.
tap() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n $2"; else echo "not ok $n $2"; rc=1; fi
}

# A run whose last line sums it up is one result named by that line: a
# fuzzer's ("fuzz-...: N programs, ..."), the benchmark guard's
# ("bench-guard: ...").  Its output is kept as comments.  Status 77 is a
# skip (the guard has no recorded run on this kind of machine).
summary_tap() {
	local out rc
	out=$("$@" 2>&1)
	rc=$?
	printf '%s\n' "$out" | tail -n 30 | sed 's/^/# /'
	if [ $rc = 0 ]; then
		echo "ok - $(printf '%s\n' "$out" | tail -n 1)"
	elif [ $rc = 77 ]; then
		echo "ok - $(printf '%s\n' "$out" | tail -n 1) # SKIP"
		rc=0
	else
		echo "not ok - $(printf '%s\n' "$out" | tail -n 1)"
	fi
	return $rc
}

# The benchmarks' quick mode, here or in the VM of kernel $1: the guarded
# ratios against the last recorded run on this kind of machine
# (bench/history.py guard).
bench_guard() {
	local f=$top/build/bench/quick${1:-host}.jsonl
	"$top/bench/suite" --quick ${1:+--vm "$1"} >"$f" &&
		"$top/bench/history.py" guard "$f" --rerun
}

# Library tests on the host: each backend the host has, with and without
# protection keys where the CPU has them, then the sanitizer builds, then
# a minute of libFuzzer after replaying its corpora.
host_lane() {
	local run=$top/selftests/run-tests rc=0 b k keys=1
	grep -qw pku /proc/cpuinfo && keys="0 1"
	for b in memfd_secret mlock; do
		for k in $keys; do
			echo "# backend $b, SMEM_NO_PKEYS=$k"
			SMEM_BACKEND=$b SMEM_NO_PKEYS=$k "$run" "$top"/build/selftests/lib_*_test || rc=1
		done
	done
	echo "# ASan+UBSan"
	ASAN_OPTIONS=abort_on_error=1 "$run" "$top"/build/asan/selftests/lib_*_test || rc=1
	echo "# TSan"
	# die_after_fork=0: a forked child's first lingering secret starts a
	# closer thread of its own (lib_linger_test).
	TSAN_OPTIONS=halt_on_error=1:die_after_fork=0 "$run" \
		"$top"/build/tsan/selftests/lib_concurrency_test \
		"$top"/build/tsan/selftests/lib_linger_test || rc=1
	echo "# smemctl, without a module"
	sh "$top/tools/smemctl/smemctl_test.sh" --host "$top/build/tools/smemctl" || rc=1
	echo "# libFuzzer on libsmem"
	summary_tap "$top/fuzz/lib/run.sh" 60 || rc=1
	echo "# the benchmarks' quick mode against the history"
	summary_tap bench_guard || rc=1
	return $rc
}

# A VM lane: the whole suite as loaded by default; the library tests on
# the other backends and without protection keys; the reserved page
# source, which needs a range reserved at boot; the wipe at panic.
vm_lane() {
	local k=$1 rc=0 vm="$top/tools/vm-run -k $1" suite_timeout=900
	# KASAN under TCG: the whole suite in one guest takes several times as
	# long on the debug kernel.
	[ "$k" != debug ] || suite_timeout=2400
	$vm -t $suite_timeout -- smem-run-tests || rc=1
	$vm --no-build -- smem-run-examples || rc=1
	# The library on its other backends tests the library more than the
	# kernel: the debug kernel (KASAN under TCG, several times slower)
	# leaves it to the 6.1 and 6.12 lanes.
	# shellcheck disable=SC2016
	[ "$k" = debug ] || $vm --no-build -c secretmem.enable=1 -- sh -c '
		rc=0
		for b in mlock memfd_secret; do
			echo "# backend $b"
			SMEM_BACKEND=$b smem-run-tests /usr/lib/smem/selftests/lib_*_test || rc=1
		done
		echo "# kmod backend, SMEM_NO_PKEYS=1"
		SMEM_NO_PKEYS=1 smem-run-tests /usr/lib/smem/selftests/lib_*_test || rc=1
		exit $rc' || rc=1
	$vm --no-build -c 'memmap=64M$0x30000000' -- kmod_pool_test -t reserved_source || rc=1
	"$top/selftests/vm/panic_wipe.sh" "$k" panic || rc=1
	"$top/selftests/vm/panic_wipe.sh" "$k" reboot || rc=1
	# smemctl's own test resizes the pool many times: minutes under KASAN,
	# for paths kmod_pool_test and kmod_carve_test already take there.
	[ "$k" = debug ] ||
		$vm --no-build -a "$top/tools/smemctl/smemctl_test.sh" -- sh smemctl_test.sh || rc=1
	if [ "$k" = 6.12 ]; then
		"$top/demo/demo.sh" -k "$k" --tap --no-build || rc=1
		summary_tap bench_guard "$k" || rc=1
	fi
	# Every change is fuzzed a little: the corpus, then two minutes of
	# smem-fuzz on the KCOV kernel (make fuzz runs longer).
	if [ "$k" = debug ]; then
		summary_tap "$top/fuzz/kernel/run.sh" 120 || rc=1
	fi
	return $rc
}

# Guests that look like real machines, one kernel after the other.
real_lane() {
	local k rc=0
	for k in 6.1 6.12; do
		"$top/selftests/vm/real.sh" "$k" || rc=1
	done
	return $rc
}

# The path users take: tools/dkms.sh (make dkms-install) builds and
# installs smem with DKMS for 6.1 and 6.12 on this machine, a second
# install changes nothing, each kernel boots with the DKMS-built module
# (vm-run --dkms: modprobe from /lib/modules/RELEASE/updates/dkms) and runs
# part of the suite, and make dkms-remove leaves nothing behind.
dkms_lane() {
	local k krel n=0 rc=0 out releases=()
	# DKMS state is the machine's: two runs at once would undo each other.
	exec 8>/tmp/smem-dkms-lane.lock
	flock 8
	for k in 6.1 6.12; do
		releases+=("$("$top/tools/kernels.sh" -i "$k")")
	done
	"$top/tools/dkms.sh" install "${releases[@]}" 2>&1 | sed 's/^/# /'
	tap "${PIPESTATUS[0]}" "dkms: add, build and install for ${releases[*]}"
	for krel in "${releases[@]}"; do
		[ "$(modinfo -k "$krel" -F version smemdev 2>/dev/null)" = "$(cat "$top/VERSION")" ] &&
			modinfo -k "$krel" -F filename smemdev | grep -q "/updates/dkms/smemdev.ko"
		tap $? "dkms: $krel has smemdev $(cat "$top/VERSION") in updates/dkms"
	done
	out=$("$top/tools/dkms.sh" install "${releases[@]}" 2>&1)
	[ "$(echo "$out" | grep -c 'already installed')" = "${#releases[@]}" ]
	tap $? "dkms: installing again changes nothing"
	for k in 6.1 6.12; do
		# shellcheck disable=SC2016
		"$top/tools/vm-run" --no-build --dkms -k "$k" -- sh -c '
			smemctl status | grep -q "file: *.*/updates/dkms/smemdev.ko" &&
				grep -q "^smemdev " /proc/modules &&
				echo "ok - $(uname -r): the DKMS-built smem is loaded" ||
				{ echo "not ok - $(uname -r): the DKMS-built smem is loaded"; exit 1; }
			smem-run-tests kmod_device_test kmod_protect_test kmod_isolation_test' || rc=1
	done
	# Until its key is enrolled, a kernel that enforces signatures refuses
	# the DKMS-signed module, and smemctl says what to do.
	"$top/tools/vm-run" --no-build --dkms --no-module -k 6.12 -c module.sig_enforce=1 \
		-a "$top/tools/smemctl/smemctl_test.sh" -- sh smemctl_test.sh --sig-enforce || rc=1
	"$top/tools/dkms.sh" remove 2>&1 | sed 's/^/# /'
	! ls -d /usr/src/smemdev-* /var/lib/dkms/smemdev /lib/modules/*/updates/dkms/smemdev.ko* \
		>/dev/null 2>&1
	tap $? "dkms: make dkms-remove leaves nothing behind"
	echo "1..$n"
	return $rc
}

# The path administrators take: make deb builds the Debian packages
# (lintian clean), apt installs them here (the DKMS package builds the
# module for the 6.1 and 6.12 headers), a program builds against the
# installed libsmem-dev through pkg-config alone, both kernels boot with
# the package-built module and run the device, isolation and library tests
# on the packaged libsmem (the tree's copy is removed from the guest), and
# a purge leaves nothing behind.
package_lane() {
	local k krel n=0 rc=0 releases=() v debs pkg
	v=$(cat "$top/VERSION")
	exec 8>/tmp/smem-dkms-lane.lock
	flock 8
	make -s -C "$top" deb 2>&1 | tail -n 20 | sed 's/^/# /'
	tap "${PIPESTATUS[0]}" "package: make deb builds four packages, lintian finds no error or warning"
	debs=$(ls "$top"/build/deb/{smemdev-dkms,libsmem1,libsmem-dev,smemctl}_"$v"-*.deb 2>/dev/null)
	for k in 6.1 6.12; do
		releases+=("$("$top/tools/kernels.sh" -i "$k")")
	done
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q $debs 2>&1 | tail -n 20 | sed 's/^/# /'
	tap "${PIPESTATUS[0]}" "package: apt-get install of the four packages"
	for krel in "${releases[@]}"; do
		dkms status -m smemdev -v "$v" -k "$krel" | grep -q ': installed' &&
			modinfo -k "$krel" -F filename smemdev | grep -q "/updates/dkms/smemdev.ko"
		tap $? "package: DKMS built and installed smemdev $v for $krel"
	done
	getent group smem >/dev/null
	tap $? "package: smemctl's postinst made the group smem"
	# Not under /tmp, where $top may be: the guest mounts a tmpfs there,
	# over whatever vm-run --bin put in it.
	pkg=$(mktemp -d /var/tmp/smem-pkgtest.XXXXXX)
	printf '#include <smem.h>
#include <smem/uapi.h>
#include <stdio.h>
%s
' \
		'int main(void) { printf("%s %lx\n", smem_version(), (unsigned long)SMEM_IOC_QUERY); return smem_version_check(SMEM_VERSION_MAJOR, SMEM_VERSION_MINOR); }' \
		>"$pkg/version.c"
	# shellcheck disable=SC2046
	(cd "$pkg" && cc -Wall -Werror -o version version.c $(pkg-config --cflags --libs libsmem) &&
		cc -Wall -Werror -o share_sealed "$top/examples/share_sealed.c" \
			$(pkg-config --cflags --libs libsmem) &&
		[ "$(./version | cut -d' ' -f1)" = "$v" ])
	tap $? "package: programs build against libsmem-dev through pkg-config alone and run"
	for k in 6.1 6.12; do
		# shellcheck disable=SC2016
		"$top/tools/vm-run" --no-build --dkms -k "$k" --bin /usr/sbin/smemctl \
			--bin "$pkg/version" --bin "$pkg/share_sealed" -- sh -c '
			rm -f /usr/lib/libsmem.so*
			export LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu
			/usr/sbin/smemctl status | grep -q "file: *.*/updates/dkms/smemdev.ko" &&
				echo "ok - $(uname -r): the package-built smemdev is loaded" ||
				{ echo "not ok - $(uname -r): the package-built smemdev is loaded"; exit 1; }
			'"$pkg"'/version >/dev/null && '"$pkg"'/share_sealed >/dev/null &&
				echo "ok - $(uname -r): programs on the packaged libsmem run" ||
				echo "not ok - $(uname -r): programs on the packaged libsmem run"
			smem-run-tests kmod_device_test kmod_isolation_test lib_api_test \
				lib_isolation_test lib_info_test' || rc=1
	done
	DEBIAN_FRONTEND=noninteractive apt-get purge -y -q smemdev-dkms libsmem1 libsmem-dev smemctl \
		2>&1 | tail -n 10 | sed 's/^/# /'
	tap "${PIPESTATUS[0]}" "package: apt-get purge of the four packages"
	! ls -d /usr/src/smemdev-* /var/lib/dkms/smemdev /lib/modules/*/updates/dkms/smemdev.ko* \
		/usr/lib/modprobe.d/smemdev.conf /usr/lib/modules-load.d/smemdev.conf \
		/usr/include/smem.h /usr/include/smem /usr/lib/x86_64-linux-gnu/libsmem* \
		/usr/sbin/smemctl /usr/lib/udev/rules.d/60-smem.rules >/dev/null 2>&1 &&
		! dpkg -l smemdev-dkms libsmem1 libsmem-dev smemctl 2>/dev/null | grep -q '^[ir]'
	tap $? "package: the purge leaves no module, no /usr/src tree, no DKMS state, no file"
	rm -rf "$pkg"
	echo "1..$n"
	return $rc
}

# The suite as a kernel tree's kselftest: selftests/ copied into Debian's
# linux-source-6.12 as tools/testing/selftests/smem, built and installed
# by the kernel's selftests Makefile (the test module against the 6.12
# headers, libsmem through pkg-config from a "make install DESTDIR="
# staging tree), then the installed run_kselftest.sh in the 6.12 VM: every
# program of the installed list reports, and none fails or skips.  On this
# machine, where smemdev is not loaded, a kmod_* program skips instead.
# The kernel tree (its selftests, and what their Makefile includes) is
# extracted once into build/kselftest-linux.
kselftest_lane() {
	local n=0 rc=0 krel tree=$top/build/kselftest-linux work=$logdir/kselftest
	local stage inst out prog pcpath
	krel=$("$top/tools/kernels.sh" -i 6.12)
	stage=$work/stage inst=$work/install
	mkdir -p "$work"
	# The project's build: the staging tree, and what vm-run copies in.
	flock "$top/build/.lock" make -s -C "$top" userspace module install \
		KVER="$krel" DESTDIR="$stage" PREFIX=/usr 2>&1 | sed 's/^/# /'
	tap "${PIPESTATUS[0]}" "kselftest: smem built, and installed in a staging tree"
	# One kernel tree for runs side by side: each builds in it in turn.
	exec 9>"$top/build/.kselftest-linux.lock"
	flock 9
	if [ ! -f "$tree/.extracted" ]; then
		rm -rf "$tree" && mkdir -p "$tree" &&
			tar -xf /usr/src/linux-source-6.12.tar.xz -C "$tree" --strip-components=1 \
				--wildcards 'linux-source-6.12/Makefile' \
				'linux-source-6.12/scripts/subarch.include' \
				'linux-source-6.12/tools/testing/selftests/*' &&
			touch "$tree/.extracted"
	fi
	rm -rf "$tree/tools/testing/selftests/smem"
	cp -a "$top/selftests" "$tree/tools/testing/selftests/smem"
	# pkg-config finds libsmem in the staging tree, never one of this
	# machine (the staging tree comes first), and libsodium, which
	# libsmem.pc requires, where the system keeps it.
	pcpath=$stage/usr/lib/pkgconfig:$(pkg-config --variable pc_path pkg-config)
	out=$(PKG_CONFIG_LIBDIR=$pcpath PKG_CONFIG_SYSROOT_DIR=$stage \
		make -C "$tree/tools/testing/selftests" -j"$(nproc)" TARGETS=smem \
		KDIR="/lib/modules/$krel/build" FORCE_TARGETS=1 2>&1)
	tap $? "kselftest: make -C tools/testing/selftests TARGETS=smem"
	printf '%s\n' "$out" | grep -v '^  CC ' | sed 's/^/# /'
	rm -rf "$inst"
	out=$(PKG_CONFIG_LIBDIR=$pcpath PKG_CONFIG_SYSROOT_DIR=$stage \
		make -C "$tree/tools/testing/selftests" TARGETS=smem KDIR="/lib/modules/$krel/build" \
		FORCE_TARGETS=1 install INSTALL_PATH="$inst" 2>&1)
	tap $? "kselftest: make -C tools/testing/selftests TARGETS=smem install"
	printf '%s\n' "$out" | tail -n 5 | sed 's/^/# /'
	flock -u 9
	[ -x "$inst/run_kselftest.sh" ] && [ -f "$inst/smem/module/smem_dmtest.ko" ] &&
		[ -f "$inst/smem/config" ] && [ -f "$inst/smem/settings" ] &&
		grep -q '^smem:kmod_' "$inst/kselftest-list.txt" &&
		grep -q '^smem:lib_' "$inst/kselftest-list.txt"
	tap $? "kselftest: installed run_kselftest.sh, kmod_* and lib_* programs, smem_dmtest.ko, config, settings"
	# Here, without /dev/smem, a kmod_* program skips as kselftest expects.
	if [ -e /dev/smem ]; then
		echo "ok $((n += 1)) kselftest: without /dev/smem a kmod_* program skips # SKIP smemdev is loaded here"
	else
		out=$(env -u SMEM_REQUIRE_DEVICE "$inst/smem/kmod_device_test" 2>&1)
		prog=$?
		printf '%s\n' "$out" | sed 's/^/# /'
		[ $prog = 4 ] && printf '%s\n' "$out" | grep -q '^1\.\.0 # SKIP /dev/smem is absent'
		tap $? "kselftest: without /dev/smem a kmod_* program skips (exit $prog, a plan of 1..0)"
	fi
	# The project's runner prints one TAP document, as run_kselftest.sh
	# does, and prove reads it: a program that passes, and here one that
	# skips, unless smemdev is loaded on this machine.
	# shellcheck disable=SC2046 # one word or none
	LD_LIBRARY_PATH=$stage/usr/lib "$top/selftests/run-tests" "$inst/smem/lib_info_test" \
		$([ -e /dev/smem ] || echo "$inst/smem/kmod_device_test") >"$work/run-tests.tap" 2>&1
	out=$(prove --exec cat "$work/run-tests.tap" 2>&1)
	tap $? "kselftest: prove reads what run-tests prints"
	printf '%s\n' "$out" | sed 's/^/# /'
	# The VM's coreutils timeout: runner.sh gives each program the time-out
	# of settings only through /usr/bin/timeout (busybox's has no
	# --foreground).
	"$top/tools/vm-run" -k 6.12 --no-build -t 900 --bin /usr/bin/timeout -a "$inst" -- \
		sh install/run_kselftest.sh | tee "$work/run.log"
	tap "${PIPESTATUS[0]}" "kselftest: run_kselftest.sh in the 6.12 VM"
	while read -r prog; do
		grep -qE "^ok [0-9]+ selftests: smem: $prog\$" "$work/run.log"
		tap $? "kselftest: $prog ran and passed"
	done < <(sed -n 's/^smem://p' "$inst/kselftest-list.txt")
	echo "1..$n"
	return $rc
}

run_lane() {
	local lane=$1 log=$logdir/$1.log start rc
	start=$(date +%s)
	echo "=== lane $lane"
	case "$lane" in
	lint) lint ;;
	host) host_lane ;;
	real) real_lane ;;
	dkms) dkms_lane ;;
	package) package_lane ;;
	kselftest) kselftest_lane ;;
	*) vm_lane "$lane" ;;
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

# The results in the log $1, as "PASSED FAILED SKIPPED".  Every TAP result
# counts, and so does each test of a program run under kselftest's
# runner (run-tests, run_kselftest.sh: "# selftests: smem: NAME", the
# program's TAP prefixed with "# ", then "ok N selftests: smem: NAME"):
# the program's own line counts only for what its tests do not say, a
# skip of the whole program (a plan of 1..0) or a failure none of them
# reported (a crash, a time-out).
count_results() {
	awk '
	function add(line) {
		if (line ~ /^not ok/)
			fail++
		else if (line ~ /# SKIP/)
			skip++
		else
			pass++
	}
	/^# selftests: / { inside = 1; tests = 0; failed = 0; next }
	inside && /^# (not )?ok / {
		sub(/^# /, "")
		add($0)
		tests++
		failed += /^not ok/
		next
	}
	/^(not )?ok / {
		if (inside && / selftests: /) {
			inside = 0
			if (!tests || (/^not ok/ && !failed))
				add($0)
		} else {
			add($0)
		}
	}
	END { printf "%d %d %d\n", pass, fail, skip }' "$1"
}

pass=0 fail=0 skip=0
for lane in "$@"; do
	read -r p f s < <(count_results "$logdir/$lane.log")
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
done
echo "lane times:$times (logs in ${logdir#$top/})"
echo "$pass passed, $fail failed, $skip skipped"
[ $fail = 0 ] && [ $lane_failed = 0 ]
