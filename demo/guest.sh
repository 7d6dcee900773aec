#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The demo, inside the VM (demo/demo.sh boots it): a program keeps a key
# with libsmem and uses it; then every way one process can read another's
# memory is tried on the key, each shown with its exact command and what it
# got, and the key's physical page is read through the kernel's direct map.
# Runs as root in a busybox guest with smem loaded.  Ends with one line per
# guarantee, PASS or FAIL (TAP lines with DEMO_TAP=1), and exits 1 if any
# failed.
#
# The key is 32 random bytes made here; this script knows them only to
# search for them in whatever an attempt got back.

message="pay 100 EUR to alice"
results=/tmp/demo-results
holder_out=/tmp/keyholder.out
: >"$results"

section() {
	printf '\n=== %s\n' "$*"
}

# Show a command as typed, run it, indent its output (stdout and stderr)
# and keep it in $out.
show() {
	printf '$ %s\n' "$*"
	out=$(eval "$@" 2>&1)
	[ -z "$out" ] || printf '%s\n' "$out" | sed '/^$/d; s/^/    /'
}

verdict() {
	# $1: 0 = the guarantee held; $2: what
	if [ "$1" = 0 ]; then
		echo "PASS  $2" >>"$results"
		echo "--> PASS: $2"
	else
		echo "FAIL  $2" >>"$results"
		echo "--> FAIL: $2"
	fi
}

# Whether $1 holds the key, as hex digits (spaces, "0x" and newlines
# removed first, so od and gdb dumps count too).
has_key() {
	printf '%s' "$1" | tr -d ' \n\t' | sed 's/0x//g' | grep -qi "$key"
}

field() {
	sed -n "s/^$1=//p" "$holder_out" | head -n 1
}

wait_for() {
	i=0
	while ! grep -q "^$1" "$holder_out" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 300 ] && return 1
		sleep 0.1
	done
}

section "smemctl status, at the start"
show smemctl status

section "The test module smem_dmtest (only in this VM): looks up physical addresses, reads the direct map"
show insmod /usr/lib/smem/selftests/smem_dmtest.ko

section "A program stores a key with libsmem and waits"
key=$(head -c 32 /dev/urandom | od -An -v -tx1 | tr -d ' \n')
KEY=$key	# what the commands below say, so that the key is never printed
echo "the key: 32 random bytes, starting ${key%"${key#????????}"}..."
echo "(this script keeps them only to search for them in what each attempt gets)"
ulimit -c unlimited
echo '/tmp/core.%p' >/proc/sys/kernel/core_pattern
rm -f /tmp/ctl && mkfifo /tmp/ctl
smem-demo-keyholder "$message" </tmp/ctl >"$holder_out" 2>&1 &
exec 3>/tmp/ctl
echo "$key" >&3
echo "\$ echo \$KEY | smem-demo-keyholder '$message' &"
if ! wait_for ready; then
	sed 's/^/    /' "$holder_out"
	verdict 1 "the program started"
	exit 1
fi
sed 's/^/    /' "$holder_out"
pid=$(field pid)
addr=$(field key_address)
key_phys=$(field key_phys)
control=$(field control_address)
control_phys=$(field control_phys)
backend=$(field backend)
echo "The program printed its PID, where the key is mapped, and an HMAC, never the key."

section "The program uses the key: its HMAC-SHA256 of the message is the right one"
show smem-demo-probe hmac '"$KEY"' "'$message'"
[ "hmac=$out" = "$(grep '^hmac=' "$holder_out" | head -n 1)" ]
verdict $? "the program computes with the key (HMAC matches)"

section "ptrace: gdb attaches to the program and reads the key's address"
show gdb -nx -batch -p "$pid" -ex "'x/32xb $addr'" -ex "'x/s $control'"
echo "$out" | grep -q 'Cannot access memory at address' &&
	echo "$out" | grep -q 'smem-demo-control' && ! has_key "$out"
verdict $? "ptrace (gdb -p) cannot read the key"

section "/proc/PID/mem: read the key's address, then the ordinary page, with dd"
show "dd if=/proc/$pid/mem bs=32 count=1 skip=\$(($addr)) iflag=skip_bytes status=none | od -An -tx1"
key_out=$out
show "dd if=/proc/$pid/mem bs=32 count=1 skip=\$(($control)) iflag=skip_bytes status=none; echo"
echo "$out" | grep -q 'smem-demo-control' && ! has_key "$key_out" &&
	echo "$key_out" | grep -qi 'error'
verdict $? "/proc/PID/mem cannot read the key"

section "process_vm_readv(2) of the key's address, then of the ordinary page"
show smem-demo-probe vm-readv "$pid" "$addr" 32
key_out=$out
show smem-demo-probe vm-readv "$pid" "$control" 32
echo "$out" | grep -q '^got 32 bytes' && echo "$key_out" | grep -q '^refused' &&
	! has_key "$key_out"
verdict $? "process_vm_readv cannot read the key"

section "fork(2): the program forks; the child tries the key through libsmem and at its address"
printf '$ echo fork >/tmp/ctl   # the program forks, its child reports:\n'
echo fork >&3
wait_for fork_done
sed -n 's/^\(child_.*\)/    \1/p' "$holder_out"
child=$(sed -n 's/^child_smem_secret_read=//p' "$holder_out")
child_addr=$(sed -n 's/^child_read_address=//p' "$holder_out")
case "$child" in -*) child_ok=0 ;; *) child_ok=1 ;; esac
[ $child_ok = 0 ] && [ -n "$child_addr" ] && ! has_key "$child_addr"
verdict $? "a forked child cannot read the key"

section "The kernel direct map: read the key's physical page, then the ordinary page's"
if [ -n "$key_phys" ] && [ -n "$control_phys" ]; then
	echo "key page at physical $key_phys, the ordinary page at $control_phys"
	show smem-demo-probe phys "$key_phys" 32
	key_out=$out
	show smem-demo-probe phys "$control_phys" 32
	echo "$out" | grep -q '^got 32 bytes' && echo "$key_out" | grep -q '^refused' &&
		! has_key "$key_out"
	verdict $? "the key's page is not in the kernel direct map"
	show "grep -i 'System RAM' /proc/iomem"
	in_ram=no
	for range in $(sed -n 's/^ *\([0-9a-f]*-[0-9a-f]*\) : System RAM$/\1/p' /proc/iomem); do
		[ $((key_phys)) -ge $((0x${range%-*})) ] && [ $((key_phys)) -le $((0x${range#*-})) ] &&
			in_ram=yes
	done
	if [ $in_ram = no ]; then
		echo "$key_phys is in none of these ranges: smem took its memory block out of the kernel."
	else
		echo "$key_phys is System RAM: the key's page is in the direct map."
	fi
else
	echo "no physical address: smem_dmtest is not loaded"
	verdict 1 "the key's page is not in the kernel direct map"
fi

section "A core dump: the program is killed with SIGABRT and dumps core"
printf '$ kill -ABRT %s; wait %s\n' "$pid" "$pid"
kill -ABRT "$pid"
wait "$pid"
echo "    exit status $? (128 + SIGABRT, core dumped)"
# Only now: the program leaves on end of input, which must not beat the signal.
exec 3>&-
show ls -l "/tmp/core.$pid"
show smem-demo-probe find "/tmp/core.$pid" '"$KEY"' smem-demo-control
echo "$out" | grep -q 'the key: not found' && echo "$out" | grep -q 'control text.*: found'
verdict $? "a core dump does not contain the key"
rm -f "/tmp/core.$pid"

section "smemctl status, at the end (the program is gone: its pages are back in the pool, zeroed)"
show smemctl status

section "Summary (kernel $(uname -r), libsmem backend $backend)"
failed=0
n=0
while read -r status what; do
	n=$((n + 1))
	[ "$status" = PASS ] || failed=1
	if [ "${DEMO_TAP:-0}" = 1 ]; then
		if [ "$status" = PASS ]; then
			echo "ok $n demo: $what"
		else
			echo "not ok $n demo: $what"
		fi
	else
		echo "$status  $what"
	fi
done <"$results"
[ $n -ge 7 ] || failed=1
if [ $failed = 0 ]; then
	echo "every guarantee held"
else
	echo "SOME GUARANTEE FAILED"
fi
exit $failed
