#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# smemctl_test.sh [--host|--sig-enforce] [SMEMCTL]: smemctl as a user
# runs it.  Prints TAP.
#
# In a VM of make check (the default; root, smem loaded by vm-run with its
# defaults, booted with memhp_default_state=online): status and --json
# report the loaded module and its parameters, the carve-out source and the
# pool figures of /sys/class/misc/smem (size, carvable, refused, pending,
# per-user cap); selftest passes; pool grow, shrink and set resize by whole
# blocks, and say how far they got and why they stopped (no block left: 9,
# blocks in use: 7, a signal: 11, not a carved pool: 10, bad size: 2, not
# root: 4); status warns about an empty pool and about a crash kernel that
# runs before the wipe at panic; a user who may not open /dev/smem (uid
# 65534) still gets the pool figures and is told which group grants the
# device; unload is refused with a clear message while a program holds a
# secret; unload, load with a parameter, and status follow; the usual load
# errors give their documented exit codes; libkmod's own error shows on a
# refused unload; a mok_certificate= in /etc/dkms/framework.conf.d
# (written in the guest, then removed) is the certificate status names.
# Both here and with --host: every command's --help works as a user (on
# the host, without the module), -V is the version of the JSON, -j is
# --json, an unknown option exits 2, a write error on stdout (/dev/full)
# exits 1 and says so, and status --prometheus is valid node_exporter
# textfile format whose values are those of --json.  With --host also:
# the bash completion of dist/bash-completion completes commands,
# options, load's parameters and pool's units.
# With --host (this machine: no smemdev.ko for its kernel): status says the
# module is not loaded and which backend libsmem uses, with exit code 3;
# load says it is not installed (5), and needs root (4); pool says it is
# not loaded (3); selftest passes on the fallback backend when it promises
# isolation.
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

# smemctl's own version, the top-level "version" of its JSON.
json_top_version() {
	printf '%s\n' "$out" | sed -n 's/^  "version": "\(.*\)"$/\1/p'
}

# The Prometheus output in $out is node_exporter's textfile format: every
# line a "# HELP name text" or "# TYPE name gauge|counter", once per
# family, both before its first sample, or a sample `name value` or
# `name{label="value",...} value`.  What is wrong is left in $bad.
prom_valid() {
	bad=$(printf '%s\n' "$out" | awk '
		BEGIN { re = "^[a-z_:][a-z0-9_:]*(\\{[a-z_]+=\"[^\"]*\"(,[a-z_]+=\"[^\"]*\")*\\})? [0-9]+$" }
		/^# HELP / { if (help[$3]++) { print "HELP twice: " $0; exit } next }
		/^# TYPE / {
			if (!help[$3] || type[$3] || ($4 != "gauge" && $4 != "counter")) {
				print "TYPE without HELP, twice or unknown: " $0; exit
			}
			type[$3] = $4; next
		}
		$0 !~ re { print "not a sample: " $0; exit }
		{
			name = $0; sub(/[{ ].*/, "", name)
			if (!type[name]) { print "no HELP and TYPE before " $0; exit }
			samples++
		}
		END { if (!samples) print "no sample" }')
	[ -z "$bad" ]
}

# Metrics and the JSON keys they equal (true 1, false 0; null: no sample).
prom_keys='smem_device_present:present smem_device_accessible:accessible
smem_secure_boot:secure_boot smem_crash_kernel_loaded:crash_kernel_loaded
smem_crash_kexec_post_notifiers:crash_kexec_post_notifiers
smem_outside_direct_map:outside_direct_map smem_protection_keys:protection_keys'
prom_pool_keys='smem_page_size_bytes:page_size smem_pool_pages:pool_pages
smem_pool_blocks:pool_blocks smem_block_pages:block_pages smem_pages_in_use:pages_in_use
smem_objects:objects smem_carvable_pages:carvable_pages smem_refused_blocks:refused_blocks
smem_pending_blocks:pending_blocks smem_user_max_pages:user_max_pages
smem_alloc_failures_total:alloc_failures'

# The samples of $prom equal the values of the JSON in $out for the pairs
# in $1, and smem_module_loaded says what "state" says; the first that
# differs is in $bad.
prom_matches_json() {
	bad=
	loaded=0
	[ "$(json state)" != loaded ] || loaded=1
	for pair in smem_module_loaded:$loaded $1; do
		m=${pair%%:*} k=${pair#*:}
		v=$(printf '%s\n' "$prom" | sed -n "s/^$m \\([0-9]*\\)\$/\\1/p")
		case $k in
		[0-9]) j=$k ;;
		*) j=$(json "$k") ;;
		esac
		case $j in
		true) j=1 ;;
		false) j=0 ;;
		null) j= ;;
		esac
		[ "$v" = "$j" ] || { bad="$m is '$v', $k is '$j'"; return 1; }
	done
	pages=$(json pool_pages)
	v=$(printf '%s\n' "$prom" | sed -n 's/^smem_pool_bytes \([0-9]*\)$/\1/p')
	j=
	[ -z "$pages" ] || j=$((pages * $(json page_size)))
	[ "$v" = "$j" ] || { bad="smem_pool_bytes is '$v', pool_pages * page_size '$j'"; return 1; }
}

# What every system checks, with the module or without: --help of each
# command (as a user that may not open the device, where there is one),
# -V, -j, unknown options, a write error, the Prometheus format.
common_checks() {
	for cmd in status load unload pool selftest; do
		if command -v setpriv >/dev/null && setpriv --help 2>&1 | grep -q reuid; then
			out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$smemctl" $cmd --help 2>&1)
		else
			out=$("$smemctl" $cmd --help 2>&1)
		fi
		rc=$?
		ok "$(test $rc = 0 && echo "$out" | grep -q "^usage: smemctl .*$cmd"; echo $?)" \
			"$cmd --help: exit 0 and its usage, as a user" "rc=$rc" "$out"
	done
	run --help
	ok "$(test $rc = 0 && echo "$out" | grep -q '^usage: smemctl' &&
		echo "$out" | grep -q '^  pool '; echo $?)" "--help: exit 0, the commands" "rc=$rc" "$out"
	run status --json
	own_version=$(json_top_version)
	run -V
	ok "$(test $rc = 0 && [ "$out" = "smemctl $own_version" ] &&
		echo "$own_version" | grep -Eqx '[0-9]+\.[0-9]+\.[0-9]+'; echo $?)" \
		"-V: smemctl $own_version, the version of the JSON" "rc=$rc" "$out"
	run --version
	ok "$(test $rc = 0 && [ "$out" = "smemctl $own_version" ]; echo $?)" "--version" "rc=$rc" "$out"
	json_out=$("$smemctl" status --json 2>/dev/null)
	run status -j
	ok "$(test "$out" = "$json_out"; echo $?)" "status -j is status --json" "$out"
	run -j
	ok "$(test "$out" = "$json_out"; echo $?)" "smemctl -j is status --json" "$out"
	for args in 'status --bogus' 'status -x' 'load --bogus' 'unload -x' 'pool --bogus' \
		'selftest --bogus' '--bogus'; do
		# shellcheck disable=SC2086 # the words of $args
		run $args
		ok "$(test $rc = 2 && echo "$out" | grep -q 'unknown option'; echo $?)" \
			"$args: exit 2, unknown option" "rc=$rc" "$out"
	done
	run status --json --prometheus
	ok "$(test $rc = 2; echo $?)" "status --json --prometheus: exit 2, one format" "rc=$rc" "$out"
	if [ -w /dev/full ]; then
		for args in status 'status --json' 'status --prometheus' -V; do
			# shellcheck disable=SC2086
			out=$("$smemctl" $args 2>&1 >/dev/full)
			rc=$?
			ok "$(test $rc = 1 && echo "$out" | grep -q '^smemctl: write error on standard output: No space left on device$'; echo $?)" \
				"$args >/dev/full: exit 1, write error" "rc=$rc" "$out"
		done
	else
		ok 0 "status >/dev/full # SKIP no /dev/full"
	fi
	run status --prometheus
	prom=$out
	ok "$(test $rc = 0 && prom_valid; echo $?)" \
		"status --prometheus: exit 0, node_exporter's textfile format" "rc=$rc" "$bad" "$out"
	run status --json
	keys=$prom_keys
	[ "$(json present)" != true ] || keys="$keys $prom_pool_keys"
	prom_matches_json "$keys"
	ok $? "status --prometheus: the values of --json" "$bad" "$prom"
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
	ok "$(test $rc = 5; echo $?)" "host: load exits 5 (no smemdev.ko for this kernel)" "rc=$rc" "$out"
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
	run pool grow 128M
	ok "$(test $rc = 3 && echo "$out" | grep -q 'not loaded'; echo $?)" \
		"host: pool grow exits 3 (not loaded)" "rc=$rc" "$out"
	run pool grow 12X
	ok "$(test $rc = 2 && echo "$out" | grep -q 'not a size'; echo $?)" \
		"host: pool grow 12X exits 2 (not a size)" "rc=$rc" "$out"
	run frobnicate
	ok "$(test $rc = 2; echo $?)" "unknown command exits 2" "rc=$rc"
	common_checks
	run status --prometheus
	echo "$out" | grep -q '^smem_module_loaded 0$' && echo "$out" | grep -q '^smem_device_present 0$' &&
		! echo "$out" | grep -q '^smem_pool'
	ok $? "host: status --prometheus: not loaded, no device, no pool" "$out"

	# The completion in the sources, as bash-completion would call it.
	comp=$(dirname "$0")/../../dist/bash-completion/smemctl
	if [ -f "$comp" ] && command -v bash >/dev/null; then
		complete_words() {
			# shellcheck disable=SC2016 # for bash
			bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _smemctl
				echo "${COMPREPLY[*]}"' _ "$comp" "$@"
		}
		ok "$(test "$(complete_words smemctl po)" = pool; echo $?)" \
			"completion: smemctl po -> pool" "$(complete_words smemctl po)"
		ok "$(test "$(complete_words smemctl status --j)" = --json; echo $?)" \
			"completion: smemctl status --j -> --json" "$(complete_words smemctl status --j)"
		ok "$(complete_words smemctl load '' | grep -q 'pool_mb= .*page_source='; echo $?)" \
			"completion: load offers the parameters" "$(complete_words smemctl load '')"
		ok "$(test "$(complete_words smemctl load page_source = c)" = carveout; echo $?)" \
			"completion: load page_source=c -> carveout" "$(complete_words smemctl load page_source = c)"
		ok "$(test "$(complete_words smemctl pool gr)" = grow; echo $?)" \
			"completion: pool gr -> grow" "$(complete_words smemctl pool gr)"
		ok "$(test "$(complete_words smemctl pool grow 512)" = '512M 512G 512K 512T'; echo $?)" \
			"completion: pool grow 512 -> its units" "$(complete_words smemctl pool grow 512)"
	else
		ok 0 "completion # SKIP no bash, or no $comp"
	fi
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
	! grep -q '^smemdev ' /proc/modules
	ok $? "smem is not loaded"
	echo "1..$n"
	exit $failed
fi

version=$(cat /sys/module/smemdev/version)
sysd=/sys/class/misc/smem

# A figure of the pool, as the kernel gives it in sysfs.
sys() {
	cat "$sysd/$1"
}

run status --json
page=$(json page_size)
block=$(sys block_pages)
block_mb=$((block * page / 1048576))
pool0_mb=$(($(sys pool_pages) * page / 1048576))

# The lines of `smemctl status` about the pool, as they must read now (sysfs).
expect_pool_lines() {
	p=$(sys pool_pages) n=$(($(sys pool_pages) / block)) c=$(sys carvable_pages)
	s=s
	[ $n = 1 ] && s=
	printf '%s\n' "size: *$((p * page / 1048576)) MiB in $n block$s of $block_mb MiB\$" \
		"carvable: *$((c * page / 1048576)) MiB in $((c / block)) blocks\$" \
		"refused blocks: *$(sys refused_blocks)\( (\|\$\)" \
		"pending blocks: *$(sys pending_blocks)\( (\|\$\)" \
		"per-user cap: *$(sys user_max_pages) pages"
}

# Every pool line of $out as sysfs says; the first one that differs in $bad.
pool_lines_match() {
	bad=$(expect_pool_lines | while read -r re; do
		printf '%s\n' "$out" | grep -q "^  $re" || { echo "$re"; break; }
	done)
	[ -z "$bad" ]
}

# The JSON figures of the pool as sysfs says.
pool_json_match() {
	for k in pool_pages block_pages carvable_pages refused_blocks pending_blocks \
		user_max_pages pages_in_use; do
		[ "$(json $k)" = "$(sys $k)" ] || return 1
	done
}

# What `smemctl pool` prints: the pool before and after, in MiB.
pool_line() {
	printf '%s\n' "$out" | grep -q "^pool: $1 MiB -> $2 MiB "
}

# ------------------------------------------------------------- status, root

run status
ok "$(test $rc = 0; echo $?)" "status exits 0 with the module loaded" "rc=$rc" "$out"
echo "$out" | grep -q "state: *loaded, version $version"
ok $? "status: module loaded, version $version" "$out"
echo "$out" | grep -q 'parameters: *page_source=carveout pool_mb=128 user_max_percent=50 allow_fallback=N$' &&
	! echo "$out" | grep -q 'pool_max_mb\|release_delay_ms'
ok $? "status: the parameters page_source, pool_mb, user_max_percent, allow_fallback" "$out"
echo "$out" | grep -q 'node: */dev/smem, mode 0600, owner \(0\|root\)'
ok $? "status: device node, mode 0600 as the module makes it" "$out"
echo "$out" | grep -q 'page source: *carveout' &&
	echo "$out" | grep -q 'outside the kernel direct map'
ok $? "status: carve-out page source, outside the direct map" "$out"
pool_lines_match && echo "$out" | grep -q 'in use: .* objects' &&
	echo "$out" | grep -q 'alloc failures: *0'
ok $? "status: pool size, carvable, refused, pending, per-user cap as in sysfs" \
	"differs: ${bad:-in use or alloc failures}" "$out"
[ "$(sys pool_pages)" -gt 0 ] && [ "$(sys carvable_pages)" -ge $((2 * block)) ]
ok $? "the pool holds pool_mb=128, and at least two blocks are left to carve" "$out"
! echo "$out" | grep -q '^warnings'
ok $? "status: no warnings with a sized pool and no crash kernel" "$out"
echo "$out" | grep -q 'backend: *kmod'
ok $? "status: libsmem would use the kmod backend" "$out"

run status --json
json_valid
ok $? "status --json is well formed" "$out"
[ "$(json state)" = loaded ] && [ "$(json version)" = "$version" ] &&
	[ "$(json page_source)" = carveout ] && [ "$(json outside_direct_map)" = true ] &&
	[ "$(json pool_mb)" = 128 ] && [ "$(json user_max_percent)" = 50 ] &&
	[ "$(json accessible)" = true ] && [ "$(json backend)" = kmod ] && [ "$rc" = 0 ] &&
	! echo "$out" | grep -q 'pool_max\|release_delay'
ok $? "status --json: loaded, parameters, carveout, outside the direct map, kmod" "$out"
pool_json_match && echo "$out" | grep -q '^  "warnings": {$' &&
	echo "$out" | grep -A1 '^  "warnings": {$' | grep -q '^  },$'
ok $? "status --json: the pool figures of sysfs, and no warnings" "$out"

run selftest
ok "$(test $rc = 0 && echo "$out" | grep -q '^PASS$'; echo $?)" "selftest prints PASS" "$out"

# ------------------------------------------------------------- pool resize

p0=$pool0_mb
run pool grow 1
ok "$(test $rc = 0 && pool_line $p0 $((p0 + block_mb)); echo $?)" \
	"pool grow 1 (MiB): one whole block more" "rc=$rc" "$out"
[ "$(sys pool_pages)" = $(((p0 + block_mb) * 1048576 / page)) ]
ok $? "sysfs pool_pages follows the grow" "$(sys pool_pages)"
run pool shrink 1
ok "$(test $rc = 0 && pool_line $((p0 + block_mb)) $p0; echo $?)" \
	"pool shrink 1 (MiB): one whole block back" "rc=$rc" "$out"
run pool set $((p0 + 2 * block_mb))
ok "$(test $rc = 0 && pool_line $p0 $((p0 + 2 * block_mb)) &&
	echo "$out" | grep -q "($(((p0 + 2 * block_mb) / block_mb)) blocks of $block_mb MiB)"; echo $?)" \
	"pool set $((p0 + 2 * block_mb)) (MiB): absolute, in whole blocks" "rc=$rc" "$out"
run status
pool_lines_match
ok $? "status after the resize: the pool lines follow sysfs" "differs: $bad" "$out"
run pool set $((p0 + 2 * block_mb - 1))M
ok "$(test $rc = 0 && pool_line $((p0 + 2 * block_mb)) $((p0 + block_mb)); echo $?)" \
	"pool set $((p0 + 2 * block_mb - 1))M: rounded down to whole blocks, as pool_mb" \
	"rc=$rc" "$out"
run pool set "${p0}MiB"
ok "$(test $rc = 0 && pool_line $((p0 + block_mb)) $p0; echo $?)" \
	"pool set ${p0}MiB: back" "rc=$rc" "$out"

for bad in 12X -1 1.5G '' 2000000000G; do
	run pool grow "$bad"
	ok "$(test $rc = 2 && echo "$out" | grep -q 'not a size'; echo $?)" \
		"pool grow '$bad' exits 2: not a size" "rc=$rc" "$out"
done
run pool grow
ok "$(test $rc = 2; echo $?)" "pool grow without a size exits 2" "rc=$rc" "$out"
run pool frob 1G
ok "$(test $rc = 2 && echo "$out" | grep -q 'grow|shrink|set'; echo $?)" \
	"pool frob exits 2 with the usage" "rc=$rc" "$out"

# An empty pool: status says what to do.
run pool set 0
ok "$(test $rc = 0 && pool_line $p0 0 && [ "$(sys pool_pages)" = 0 ]; echo $?)" \
	"pool set 0 empties the pool" "rc=$rc" "$out"
run status
echo "$out" | grep -q '^warnings$' && echo "$out" | grep -q \
	"^  pool: *the pool is empty: set pool_mb=$block_mb (one block is $block_mb MiB) or run smemctl pool grow ${block_mb}M\$"
ok $? "status: empty pool warning, with the block size" "$out"
pool_lines_match
ok $? "status: the empty pool's lines follow sysfs (a cap of 0 pages, not none)" \
	"differs: $bad" "$out"
run status --json
echo "$out" | grep -q "^    \"pool_empty\": \"the pool is empty: set pool_mb=$block_mb " && json_valid
ok $? "status --json: warnings.pool_empty" "$out"
run pool set "${p0}M"
run status
ok "$(test $rc = 0 && ! echo "$out" | grep -q 'pool is empty'; echo $?)" \
	"the warning goes with a pool" "$out"

# Growing past what can be carved: every eligible block is taken or refused.
p0_pages=$(sys pool_pages) c0=$(sys carvable_pages) r0=$(sys refused_blocks)
run pool grow 64G
p1_pages=$(sys pool_pages) c1=$(sys carvable_pages) r1=$(sys refused_blocks)
ok "$(test $rc = 9 && echo "$out" | grep -q "^pool: $p0 MiB -> $((p1_pages * page / 1048576)) MiB (.*), asked for $((p0 + 65536)) MiB\$" &&
	echo "$out" | grep -q 'stopped: no eligible memory block left: see carvable/refused in smemctl status; boot with nogbpages or movablecore= for more'; echo $?)" \
	"pool grow 64G exits 9: no eligible memory block left, and what to do" "rc=$rc" "$out"
[ "$c1" = 0 ] && [ $((p1_pages + (r1 - r0) * block)) = $((p0_pages + c0)) ]
ok $? "every carvable block went into the pool or was refused" \
	"pool $p0_pages -> $p1_pages, carvable $c0 -> $c1, refused $r0 -> $r1"
run status
echo "$out" | grep -q '^  carvable: *0 MiB in 0 blocks'
ok $? "status: nothing carvable left" "$out"
run pool set "${p0}M"
ok "$(test $rc = 0; echo $?)" "pool set ${p0}M after the grow" "rc=$rc" "$out"

# A signal stops a grow between two blocks, and smemctl says so.  Once
# smemctl catches SIGTERM (bit 14 of SigCgt: its handler is in place; a
# background job of a script ignores SIGINT), it gets one every 50 ms until
# it ends: a signal that comes before the resize starts is handled and
# lost, the next one stops it.
if [ "$(sys carvable_pages)" -ge $((2 * block)) ]; then
	"$smemctl" pool grow 64G >/tmp/smemctl-test.intr 2>&1 &
	pid=$!
	i=0
	while cgt=$(sed -n 's/^SigCgt:[[:space:]]*//p' /proc/$pid/status 2>/dev/null) &&
		[ -n "$cgt" ] && [ $i -lt 2000 ]; do
		[ $((0x${cgt#"${cgt%????}"} & 0x4000)) = 0 ] || kill -TERM $pid
		sleep 0.05
		i=$((i + 1))
	done
	wait $pid
	rc=$?
	out=$(cat /tmp/smemctl-test.intr)
	ok "$(test $rc = 11 && echo "$out" | grep -q "^pool: $p0 MiB -> [0-9]* MiB .*, asked for" &&
		echo "$out" | grep -q 'stopped: interrupted by a signal'; echo $?)" \
		"SIGTERM during pool grow: exit 11, the pool reached and why it stopped" \
		"rc=$rc" "$out"
	run pool set "${p0}M"
else
	ok 1 "SIGTERM during pool grow: fewer than two blocks carvable after giving them back" \
		"carvable_pages=$(sys carvable_pages)"
fi

# ----------------------------------------------------- the per-user cap

echo 0 >/sys/module/smemdev/parameters/user_max_percent
run status
echo "$out" | grep -q '^  per-user cap: *none (user_max_percent=0)$' && [ "$(sys user_max_pages)" = 0 ]
ok $? "user_max_percent=0 at run time: status says no per-user cap" "$out"
echo 50 >/sys/module/smemdev/parameters/user_max_percent
run status
echo "$out" | grep -q "^  per-user cap: *$(sys user_max_pages) pages (.*user_max_percent=50" &&
	[ "$(sys user_max_pages)" = $(($(sys pool_pages) / 2)) ]
ok $? "user_max_percent=50: half of the pool per user" "$out"

# ------------------------------------------------------- the old name

# "options smem" lines (the module's name before 0.1.0) no longer reach
# smemdev: status says so, and stops saying it once they are gone.
mkdir -p /etc/modprobe.d
echo 'options smem pool_mb=256' >/etc/modprobe.d/smemctl-test-old.conf
run status
echo "$out" | grep -q '^  options: *modprobe.d has "options smem" lines: smem is the module.s old name, and they no longer apply; write them as "options smemdev"$'
ok $? "status: options for the old module name are a warning" "$out"
run status --json
echo "$out" | grep -q '^    "old_module_name": "modprobe.d has \\"options smem\\" lines' && json_valid
ok $? "status --json: warnings.old_module_name" "$out"
rm /etc/modprobe.d/smemctl-test-old.conf
run status
! echo "$out" | grep -q 'options smem'
ok $? "status: no warning without options for the old name" "$out"

# ------------------------------------------------ DKMS's signing key

# The certificate load's refusal names is DKMS's: mok_certificate= of
# /etc/dkms/framework.conf and framework.conf.d/*.conf, the last file in
# name order winning, "$kernelver" expanded; /var/lib/dkms/mok.pub without
# one (on a system not like Ubuntu).  The guest's /etc is its own.
confd=/etc/dkms/framework.conf.d
if ! grep -qs '^[[:space:]]*\(export[[:space:]]*\)\{0,1\}mok_certificate=' \
	/etc/dkms/framework.conf "$confd"/*.conf &&
	! grep -qs '^ID\(_LIKE\)\{0,1\}="\{0,1\}ubuntu' /etc/os-release; then
	run status --json
	[ "$(json mok_certificate)" = /var/lib/dkms/mok.pub ]
	ok $? "status --json: DKMS's default certificate, /var/lib/dkms/mok.pub" "$out"
else
	ok 0 "status --json: DKMS's default certificate # SKIP framework.conf sets one, or Ubuntu"
fi
mkdir -p $confd
# shellcheck disable=SC2016 # DKMS's $kernelver, for smemctl to expand
printf '%s\n' '# smemctl_test.sh' 'mok_certificate="/etc/smemctl-test/mok-$kernelver.der"' \
	>$confd/zz-smemctl-test.conf
printf '%s\n' 'mok_certificate=/etc/smemctl-test/overridden.der' >$confd/aa-smemctl-test.conf
run status --json
[ "$(json mok_certificate)" = "/etc/smemctl-test/mok-$(uname -r).der" ] && json_valid
ok $? "status --json: mok_certificate of framework.conf.d, the last file winning, \$kernelver" "$out"
rm $confd/zz-smemctl-test.conf $confd/aa-smemctl-test.conf

# ------------------------------------------------------------ crash kernel

# /sys/kernel/kexec_crash_loaded says 1 (a file bound over it): without
# crash_kexec_post_notifiers the crash kernel runs before the wipe.
notifiers=/sys/module/kernel/parameters/crash_kexec_post_notifiers
echo 1 >/tmp/smemctl-test.crash
if mount -o bind /tmp/smemctl-test.crash /sys/kernel/kexec_crash_loaded; then
	echo N >$notifiers
	run status
	echo "$out" | grep -q '^  crash kernel: *loaded, crash_kexec_post_notifiers off$' &&
		echo "$out" | grep -q '^  crash dumps: *a crash kernel is loaded and runs before smem wipes secrets at panic: boot with crash_kexec_post_notifiers, or reload the crash kernel after the pool is sized (it then leaves the pool out of the dump)$'
	ok $? "status: a crash kernel without crash_kexec_post_notifiers is a warning" "$out"
	run status --json
	echo "$out" | grep -q '^    "crash_kernel": "a crash kernel is loaded and runs before smem wipes' &&
		[ "$(json crash_kernel_loaded)" = true ] &&
		[ "$(json crash_kexec_post_notifiers)" = false ] && json_valid
	ok $? "status --json: warnings.crash_kernel" "$out"
	echo Y >$notifiers
	run status
	echo "$out" | grep -q '^  crash kernel: *loaded, crash_kexec_post_notifiers on$' &&
		! echo "$out" | grep -q 'crash dumps:'
	ok $? "status: no warning with crash_kexec_post_notifiers" "$out"
	echo N >$notifiers
	umount /sys/kernel/kexec_crash_loaded
else
	ok 1 "status: a crash kernel without crash_kexec_post_notifiers is a warning" \
		"cannot bind a file over /sys/kernel/kexec_crash_loaded"
fi

# -------------------------------------------------------- other users

# As udev would with dist/udev/60-smem.rules: group smem, mode 0660.
# nobody (65534) is not in the group; keeper (1000) is.
grep -q '^nobody:' /etc/passwd 2>/dev/null ||
	echo 'nobody:x:65534:65534:nobody:/nonexistent:/bin/sh' >>/etc/passwd
grep -q '^keeper:' /etc/passwd || echo 'keeper:x:1000:1000:keeper:/tmp:/bin/sh' >>/etc/passwd
grep -q '^root:' /etc/passwd || echo 'root:x:0:0:root:/root:/bin/sh' >>/etc/passwd
grep -q '^root:' /etc/group 2>/dev/null || echo 'root:x:0:' >>/etc/group
grep -q '^smem:' /etc/group || echo 'smem:x:990:keeper' >>/etc/group
grep -q '^nogroup:' /etc/group || echo 'nogroup:x:65534:' >>/etc/group
grep -q '^keeper:' /etc/group || echo 'keeper:x:1000:' >>/etc/group
chgrp smem /dev/smem && chmod 0660 /dev/smem

# Run smemctl as user $1: output in $out, status in $rc.
run_as() {
	user=$1
	shift
	out=$(su -s /bin/sh "$user" -c "$smemctl $*" 2>&1)
	rc=$?
}

run_as nobody status
ok "$(test $rc = 0 && echo "$out" | grep -q '^  access: *denied to this user (uid 65534): members of group smem may open it (usermod -aG smem USER)$'; echo $?)" \
	"status as nobody: exit 0, the device is not for this user, group smem grants it" \
	"rc=$rc" "$out"
pool_lines_match && echo "$out" | grep -q 'page source: *carveout'
ok $? "status as nobody: the pool figures, from sysfs" "differs: $bad" "$out"
! echo "$out" | grep -q 'backend: *kmod'
ok $? "status as nobody: libsmem gives this user another backend" "$out"
run_as nobody status --json
json_valid && [ "$(json accessible)" = false ] && [ "$(json access_error)" = "Permission denied" ] &&
	[ "$(json group)" = smem ] && pool_json_match && [ "$(json pool_mb)" = 128 ]
ok $? "status --json as nobody: not accessible, pool figures of sysfs" "$out"
run_as nobody status --prometheus
prom=$out
ok "$(test $rc = 0 && prom_valid && echo "$out" | grep -q '^smem_device_accessible 0$'; echo $?)" \
	"status --prometheus as nobody: exit 0, not accessible" "rc=$rc" "$bad" "$out"
run_as nobody status --json
prom_matches_json "$prom_keys $prom_pool_keys"
ok $? "status --prometheus as nobody: the pool figures of --json (sysfs)" "$bad" "$prom"
run_as nobody pool grow 128M
ok "$(test $rc = 4 && echo "$out" | grep -q 'resizing the pool needs root'; echo $?)" \
	"pool grow as nobody exits 4: needs root" "rc=$rc" "$out"

run_as keeper status --json
ok "$(test $rc = 0 && [ "$(json accessible)" = true ] && [ "$(json backend)" = kmod ] &&
	pool_json_match; echo $?)" "status --json as a member of group smem: the device answers" \
	"rc=$rc" "$out"
run_as keeper pool grow 128M
ok "$(test $rc = 4 && echo "$out" | grep -q 'needs root' && [ "$(sys pool_pages)" = "$p0_pages" ]; echo $?)" \
	"pool grow as a member of group smem: the kernel refuses (CAP_SYS_ADMIN), exit 4" \
	"rc=$rc" "$out"
chgrp root /dev/smem && chmod 0600 /dev/smem

# ------------------------------------------- a program holding a secret

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
# One block more, empty; then shrinking to nothing gives it back and stops
# at the block the secret is in.
run pool grow "${block_mb}M"
run pool set 0
ok "$(test $rc = 7 && pool_line $((p0 + block_mb)) $block_mb &&
	echo "$out" | grep -q 'asked for 0 MiB' && echo "$out" | grep -q 'stopped: blocks in use'; echo $?)" \
	"pool set 0 while a secret is held: exit 7, down to the block in use" "rc=$rc" "$out"
# The holder runs as root: its pages are root's in the module's users
# list, and in the per-user metric.
run status --prometheus
echo "$out" | grep -q "^smem_user_pages{uid=\"0\",user=\"root\"} $(sys pages_in_use)\$" &&
	grep -q "^0 $(sys pages_in_use)\$" /sys/class/misc/smem/users
ok $? "status --prometheus: root's pages in smem_user_pages, as the users attribute says" "$out"
run unload
ok "$(test $rc = 7 && echo "$out" | grep -q 'in use: .*secret'; echo $?)" \
	"unload while a secret is open exits 7 and says it is in use" "rc=$rc" "$out"
echo "$out" | grep -q "^smemctl: libkmod: could not remove 'smemdev': "
ok $? "unload while in use: libkmod's own error on stderr" "$out"
grep -q '^smemdev ' /proc/modules
ok $? "the module is still loaded after the refused unload"
echo quit >&4
exec 4>&-
wait $holder

# ------------------------------------------------------- unload and load

run unload
ok "$(test $rc = 0; echo $?)" "unload" "rc=$rc" "$out"
run status
ok "$(test $rc = 3 && echo "$out" | grep -q 'state: *installed'; echo $?)" \
	"status after unload: installed, exit 3" "rc=$rc" "$out"
run status --json
ok "$(test "$(json state)" = installed && json_valid; echo $?)" "status --json after unload" "$out"
run pool grow 128M
ok "$(test $rc = 3 && echo "$out" | grep -q 'not loaded'; echo $?)" \
	"pool grow without the module exits 3" "rc=$rc" "$out"

run load bogus=1
ok "$(test $rc = 2 && echo "$out" | grep -q "no parameter 'bogus'"; echo $?)" \
	"load with an unknown parameter exits 2 and lists the parameters" "rc=$rc" "$out"
run load page_source=fallback
ok "$(test $rc = 1 && echo "$out" | grep -q 'allow_fallback'; echo $?)" \
	"load refused by the module exits 1 and shows the kernel's reason" "rc=$rc" "$out"

run load page_source=fallback allow_fallback=1
run pool grow 128M
ok "$(test $rc = 10 && echo "$out" | grep -q 'not carveout but fallback'; echo $?)" \
	"pool grow on the fallback source exits 10: only a carved pool is resized" "rc=$rc" "$out"
run unload

run load pool_mb=0
ok "$(test $rc = 0 && echo "$out" | grep -q 'loaded .*pool_mb=0'; echo $?)" \
	"load pool_mb=0" "rc=$rc" "$out"
run status
echo "$out" | grep -q 'parameters: .*pool_mb=0 ' && echo "$out" | grep -q '^  size: *0 MiB in 0 blocks' &&
	echo "$out" | grep -q '^  pool: *the pool is empty: set pool_mb='
ok $? "status after pool_mb=0: an empty pool, and the warning" "$out"
run unload

run load pool_mb=$((2 * block_mb))
ok "$(test $rc = 0 && echo "$out" | grep -q "loaded .*pool_mb=$((2 * block_mb))"; echo $?)" \
	"load pool_mb=$((2 * block_mb))" "rc=$rc" "$out"
run status
echo "$out" | grep -q "pool_mb=$((2 * block_mb)) " && pool_lines_match &&
	echo "$out" | grep -q "^  size: *$((2 * block_mb)) MiB in 2 blocks"
ok $? "status reflects pool_mb=$((2 * block_mb))" "differs: $bad" "$out"
run status --json
ok "$(test "$(json pool_mb)" = $((2 * block_mb)) && test "$(json state)" = loaded; echo $?)" \
	"status --json reflects pool_mb=$((2 * block_mb))" "$out"
run load pool_mb=128
ok "$(test $rc = 8; echo $?)" "load with parameters while loaded exits 8" "rc=$rc" "$out"
run load
ok "$(test $rc = 0 && echo "$out" | grep -q 'already loaded'; echo $?)" \
	"load while loaded, no parameters: exit 0" "rc=$rc" "$out"
run selftest
ok "$(test $rc = 0; echo $?)" "selftest after reloading" "$out"

common_checks
run status --prometheus
echo "$out" | grep -q '^smem_module_loaded 1$' &&
	echo "$out" | grep -q "^smem_pool_pages $(sys pool_pages)\$" &&
	echo "$out" | grep -q "^smem_module_info{state=\"loaded\",version=\"$version\"} 1\$" &&
	echo "$out" | grep -q '^smem_library_info{backend="kmod",version="[0-9.]*"} 1$'
ok $? "status --prometheus: loaded, the pool of sysfs, the kmod backend" "$out"

echo "1..$n"
exit $failed
