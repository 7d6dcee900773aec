#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# smemctl_test.sh [--host|--sig-enforce] [SMEMCTL]: smemctl as a user
# runs it.  Prints TAP.
#
# In a VM of make check (the default; root, smem loaded by vm-run): status
# and --json report the loaded module, the carve-out source and the pool;
# selftest passes; unload is refused with a clear message while a program
# holds a secret; unload, load with a parameter, and status follow; the
# usual load errors give their documented exit codes.
# With --host (this machine: no smem.ko for its kernel): status says the
# module is not loaded and which backend libsmem uses, with exit code 3;
# load says it is not installed (5), and needs root (4); selftest passes on
# the fallback backend when it promises isolation.
# With --sig-enforce (a VM booted with module.sig_enforce=1 and smem not
# loaded): load is refused with exit code 6 and the MOK enrollment steps.
#
# Exit codes are those of smemctl(8).

host=0
sig=0
case "${1:-}" in
--host) host=1; shift ;;
--sig-enforce) sig=1; shift ;;
esac
smemctl=${1:-smemctl}
n=0
failed=0

ok() {
	# $1: 0 when the check passed; $2: its name; more: diagnostics
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n $2"
	else
		echo "not ok $n $2"
		failed=1
		shift 2
		for line in "$@"; do
			printf '%s\n' "$line" | sed 's/^/# /'
		done
	fi
}

# Run smemctl; its output (stdout and stderr) in $out, its status in $rc.
run() {
	out=$("$smemctl" "$@" 2>&1)
	rc=$?
}

# The value of "key" in smemctl's JSON (one "key": value a line), quotes removed.
json() {
	printf '%s\n' "$out" | sed -n "s/^ *\"$1\": \"\\{0,1\\}\\([^\",]*\\)\"\\{0,1\\},\\{0,1\\}\$/\\1/p" |
		head -n 1
}

# A crude validity check for the JSON (the guest has no JSON parser):
# braces and brackets balance, and every line is a brace or "key": value.
json_valid() {
	opens=$(printf '%s' "$out" | tr -cd '{[' | wc -c)
	closes=$(printf '%s' "$out" | tr -cd '}]' | wc -c)
	[ "$opens" -gt 0 ] && [ "$opens" = "$closes" ] &&
		! printf '%s\n' "$out" | grep -v '^ *[{}],\{0,1\}$' | grep -qv '^ *"[a-z_]*": '
}

echo "TAP version 13"

if [ $host = 1 ]; then
	run status
	ok "$(test $rc = 3; echo $?)" "host: status exits 3 (not loaded)" "rc=$rc" "$out"
	echo "$out" | grep -q 'state: *not installed\|state: *installed'
	ok $? "host: status says the module is not loaded" "$out"
	echo "$out" | grep -q 'backend: *\(memfd_secret\|mlock\) (what a program'
	ok $? "host: status names the libsmem fallback backend" "$out"
	run status --json
	if command -v python3 >/dev/null; then
		printf '%s\n' "$out" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["module"]["state"] in ("not installed", "installed"), d["module"]
assert d["device"]["present"] is False and d["pool"] is None
assert d["library"]["backend"] in ("memfd_secret", "mlock")
'
	else
		json_valid
	fi
	ok $? "host: status --json parses and says not loaded" "$out"
	run load
	ok "$(test $rc = 5; echo $?)" "host: load exits 5 (no smem.ko for this kernel)" "rc=$rc" "$out"
	echo "$out" | grep -q 'not installed for the running kernel' && echo "$out" | grep -q 'dkms-install'
	ok $? "host: load explains how to build the module" "$out"
	if command -v setpriv >/dev/null && setpriv --help 2>&1 | grep -q reuid; then
		out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$smemctl" load 2>&1)
		rc=$?
		ok "$(test $rc = 4 && echo "$out" | grep -q 'needs root'; echo $?)" \
			"host: load as a user exits 4 and says it needs root" "rc=$rc" "$out"
	fi
	run selftest
	if echo "$out" | grep -q 'backend mlock'; then
		ok "$(test $rc = 1 && echo "$out" | grep -q '^FAIL$'; echo $?)" \
			"host: selftest says FAIL on mlock (no isolation)" "rc=$rc" "$out"
	else
		ok "$(test $rc = 0 && echo "$out" | grep -q '^PASS$'; echo $?)" \
			"host: selftest passes" "rc=$rc" "$out"
	fi
	run frobnicate
	ok "$(test $rc = 2; echo $?)" "unknown command exits 2" "rc=$rc"
	echo "1..$n"
	exit $failed
fi

if [ $sig = 1 ]; then
	signer=$("$smemctl" status | sed -n 's/^ *signed by: *//p')
	run load
	ok "$(test $rc = 6; echo $?)" "load refused for its signature exits 6" "rc=$rc" "$out"
	echo "$out" | grep -q 'module.sig_enforce=1' &&
		echo "$out" | grep -q 'mokutil --import /var/lib/dkms/mok.pub'
	ok $? "the refusal says why and how to enroll the DKMS key" "$out"
	if [ -n "$signer" ]; then
		echo "$out" | grep -q "signed by \"$signer\""
	else
		echo "$out" | grep -q 'not signed'
	fi
	ok $? "the refusal names the module's signer (${signer:-none})" "$out"
	! grep -q '^smem ' /proc/modules
	ok $? "smem is not loaded"
	echo "1..$n"
	exit $failed
fi

version=$(cat /sys/module/smem/version)

run status
ok "$(test $rc = 0; echo $?)" "status exits 0 with the module loaded" "rc=$rc" "$out"
echo "$out" | grep -q "state: *loaded, version $version"
ok $? "status: module loaded, version $version" "$out"
echo "$out" | grep -q 'node: */dev/smem, mode 0666'
ok $? "status: device node and mode" "$out"
echo "$out" | grep -q 'page source: *carveout' &&
	echo "$out" | grep -q 'outside the kernel direct map'
ok $? "status: carve-out page source, outside the direct map" "$out"
echo "$out" | grep -q 'size: .*at most 256 MiB' && echo "$out" | grep -q 'in use: .* objects' &&
	echo "$out" | grep -q 'alloc failures: *0'
ok $? "status: pool size, use and failures" "$out"
echo "$out" | grep -q 'backend: *kmod'
ok $? "status: libsmem would use the kmod backend" "$out"

run status --json
json_valid
ok $? "status --json is well formed" "$out"
[ "$(json state)" = loaded ] && [ "$(json version)" = "$version" ] &&
	[ "$(json page_source)" = carveout ] && [ "$(json outside_direct_map)" = true ] &&
	[ "$(json pool_max_mb)" = 256 ] && [ "$(json backend)" = kmod ] && [ "$rc" = 0 ]
ok $? "status --json: loaded, carveout, outside the direct map, pool, kmod" "$out"

run selftest
ok "$(test $rc = 0 && echo "$out" | grep -q '^PASS$'; echo $?)" "selftest prints PASS" "$out"

# A program holding a secret: unload must refuse, and say why.
rm -f /tmp/smemctl-test.fifo && mkfifo /tmp/smemctl-test.fifo
smem-demo-keyholder test </tmp/smemctl-test.fifo >/tmp/smemctl-test.out 2>&1 &
holder=$!
exec 4>/tmp/smemctl-test.fifo
echo 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f >&4
i=0
while ! grep -q '^ready' /tmp/smemctl-test.out && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
run unload
ok "$(test $rc = 7 && echo "$out" | grep -q 'in use: .*secret'; echo $?)" \
	"unload while a secret is open exits 7 and says it is in use" "rc=$rc" "$out"
grep -q '^smem ' /proc/modules
ok $? "the module is still loaded after the refused unload"
echo quit >&4
exec 4>&-
wait $holder

run unload
ok "$(test $rc = 0; echo $?)" "unload" "rc=$rc" "$out"
run status
ok "$(test $rc = 3 && echo "$out" | grep -q 'state: *installed'; echo $?)" \
	"status after unload: installed, exit 3" "rc=$rc" "$out"
run status --json
ok "$(test "$(json state)" = installed && json_valid; echo $?)" "status --json after unload" "$out"

run load bogus=1
ok "$(test $rc = 2 && echo "$out" | grep -q "no parameter 'bogus'"; echo $?)" \
	"load with an unknown parameter exits 2 and lists the parameters" "rc=$rc" "$out"
run load page_source=fallback
ok "$(test $rc = 1 && echo "$out" | grep -q 'allow_fallback'; echo $?)" \
	"load refused by the module exits 1 and shows the kernel's reason" "rc=$rc" "$out"

run load pool_max_mb=128
ok "$(test $rc = 0 && echo "$out" | grep -q 'loaded .*pool_max_mb=128'; echo $?)" \
	"load pool_max_mb=128" "rc=$rc" "$out"
run status
echo "$out" | grep -q 'pool_max_mb=128' && echo "$out" | grep -q 'at most 128 MiB'
ok $? "status reflects pool_max_mb=128" "$out"
run status --json
ok "$(test "$(json pool_max_mb)" = 128 && test "$(json state)" = loaded; echo $?)" \
	"status --json reflects pool_max_mb=128" "$out"
run load pool_max_mb=256
ok "$(test $rc = 8; echo $?)" "load with parameters while loaded exits 8" "rc=$rc" "$out"
run load
ok "$(test $rc = 0 && echo "$out" | grep -q 'already loaded'; echo $?)" \
	"load while loaded, no parameters: exit 0" "rc=$rc" "$out"
run selftest
ok "$(test $rc = 0; echo $?)" "selftest after reloading" "$out"

echo "1..$n"
exit $failed
