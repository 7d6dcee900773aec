#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Fuzz /dev/smem for SECONDS in the debug VM (KCOV, KASAN, lockdep...):
#
#   fuzz/kernel/run.sh SECONDS [--replay-only] [--save-corpus] [--seed S] [--out DIR]
#                      [--mem SIZE]
#
# Builds what is needed, boots tools/vm-run -k debug with smem-fuzz as
# root (corpus fuzz/kernel/corpus replayed first, the module reloaded with
# other parameters between batches), and collects in build/fuzz/kernel/
# (or DIR, so that two runs can go on at once):
#   new/*.prog      programs that reached new blocks (--save-corpus copies
#                   them into fuzz/kernel/corpus: review and trim first)
#   unreached.txt   each block no program reached, as file:line
#   console.txt     the guest's console; log.txt the programs as they ran
#   crash-*.prog, crash-*.c  a failing program and its C reproducer
# The last line is
#   fuzz-kernel: N programs, P% of smemdev.ko blocks (R/T), C crashes
# and the status is non-zero on a crash or when the guest failed.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
usage() {
	echo "usage: fuzz/kernel/run.sh SECONDS [--replay-only] [--save-corpus] [--seed S] [--out DIR] [--mem SIZE]" >&2
	exit 2
}
[ $# -ge 1 ] || usage
seconds=$1
shift
case "$seconds" in '' | *[!0-9]*) usage ;; esac
fuzz_args=()
save_corpus=0
out=$top/build/fuzz/kernel
# The guest's memory: 1G by default.  A bigger guest has more blocks to
# carve, but no 1 GiB direct-map pages: the debug kernel boots with
# DEBUG_PAGEALLOC on, which maps the direct map with 4 KiB pages (the real
# lane tests 1 GiB pages on Debian's kernels).
mem=1G
while [ $# -gt 0 ]; do
	case "$1" in
	--replay-only) fuzz_args+=(--replay-only); shift ;;
	--save-corpus) save_corpus=1; shift ;;
	--seed) [ $# -ge 2 ] || usage; fuzz_args+=(--seed "$2"); shift 2 ;;
	--out) [ $# -ge 2 ] || usage; out=$(realpath -m "$2"); shift 2 ;;
	--mem) [ $# -ge 2 ] || usage; mem=$2; shift 2 ;;
	*) usage ;;
	esac
done

kdir=$("$top/tools/debug-kernel.sh")
krel=$(cat "$kdir/release")
mkdir -p "$top/build"
flock "$top/build/.lock" make -s -C "$top" userspace module KVER="$krel" KDIR="$kdir/obj" >&2
make -s -C "$top" -f fuzz/kernel/kernel.mk BUILD="$top/build" >&2

ko=$top/build/mod/$krel/smemdev.ko
# Only what an earlier run left: DIR may be any directory.
mkdir -p "$out"
rm -rf "$out/new" "$out"/crash-* "$out"/console.* "$out"/log.* "$out"/unreached.*
mkdir "$out/new"

# A reserved range for page_source=reserved (one of the reload parameters);
# the $ is memmap='s, not the shell's.  A crash kernel reservation, which
# carving must stay above: at 64M, under the lowest block carving takes
# anyway, so the pool's blocks are the same as without it.
set +e
# shellcheck disable=SC2016
"$top/tools/vm-run" -k debug --no-build -m "$mem" -t $((seconds + 900)) --log "$out/log.txt" \
	-c 'memmap=64M$0x30000000 crashkernel=16M@64M' -a "$top/fuzz/kernel/corpus" -- \
	smem-fuzz --seconds "$seconds" --corpus corpus --log /dev/ttyS2 --reload \
	${fuzz_args[@]+"${fuzz_args[@]}"} 2>&1 | tee "$out/console.txt"
vm_status=${PIPESTATUS[0]}
set -e
tr -d '\r' <"$out/console.txt" >"$out/console.clean"
tr -d '\r' <"$out/log.txt" >"$out/log.clean" 2>/dev/null || : >"$out/log.clean"

# The programs that reached new blocks, one file each.
awk -v dir="$out/new" '
	/^smem-fuzz-new-begin$/ { n++; f = sprintf("%s/%04d.prog", dir, n); on = 1; next }
	/^smem-fuzz-new-end$/ { on = 0; close(f); next }
	on { print > f }' "$out/console.clean"

# Crashes the fuzzer reported: the program and its reproducer.
awk -v dir="$out" '
	/^smem-fuzz-crash-begin$/ { n++; f = sprintf("%s/crash-%d.prog", dir, n); on = 1; next }
	/^smem-fuzz-crash-end$/ { on = 0; close(f); next }
	/^smem-fuzz-repro-begin$/ { f = sprintf("%s/crash-%d.c", dir, n); on = 1; next }
	/^smem-fuzz-repro-end$/ { on = 0; close(f); next }
	on { print > f }' "$out/console.clean"
crashes=$(grep -c '^smem-fuzz-crash-begin$' "$out/console.clean" || true)

summary=$(grep '^smem-fuzz: [0-9]* programs' "$out/console.clean" | tail -n 1 || true)
if [ -z "$summary" ]; then
	# The guest died (panic) or hung: the last program it started is the
	# suspect, from the log channel written before each program ran.
	awk '
		/^smem-fuzz-prog [0-9]*$/ { text = ""; on = 1; next }
		/^smem-fuzz-prog-end$/ { on = 0; last = text; next }
		on { text = text $0 "\n" }
		END { printf "%s", on ? text : last }' "$out/log.clean" >"$out/crash-guest.prog"
	if [ -s "$out/crash-guest.prog" ]; then
		echo "fuzz-kernel: the guest died; the program it was running:"
		cat "$out/crash-guest.prog"
		"$top/build/tools/smem-fuzz" --repro "$out/crash-guest.prog" >"$out/crash-guest.c" || true
		echo "fuzz-kernel: its reproducer: ${out#"$top"/}/crash-guest.c"
	fi
	crashes=$((crashes + 1))
fi

# Unreached blocks, by source line.  A block's offset is the return
# address of its __sanitizer_cov_trace_pc call: the call is 4 bytes
# before it, at the line of the block.  Each line of unreached.txt is
# "FILE:LINE FUNCTION SECTION+OFFSET", FILE:LINE in smem's own code (the
# outermost of the inlined calls), then "(in HEADER:LINE)" when the block
# is in a function inlined from a kernel header.
sed -n '/^smem-fuzz-unreached-begin$/,/^smem-fuzz-unreached-end$/p' "$out/console.clean" |
	grep -v '^smem-fuzz-' >"$out/unreached.raw" || true
while read -r sec off; do
	printf '%s %s 0x%x\n' "$sec" "$off" $((off - 4))
done <"$out/unreached.raw" >"$out/unreached.addr"
# Section names have no blanks.
# shellcheck disable=SC2013
for sec in $(cut -d' ' -f1 "$out/unreached.addr" | sort -u); do
	awk -v s="$sec" '$1 == s { print $3 }' "$out/unreached.addr" |
		addr2line -a -f -i -e "$ko" -j "$sec" |
		sed "s|$top/build/mod/$krel/||; s|/[^ ]*/src/||; s| (discriminator [0-9]*)||" |
		awk -v s="$sec" '
			# The call addresses, as addr2line -a prints them, to the blocks.
			function norm(a) { sub(/^0x0*/, "", a); return a }
			FNR == NR { if ($1 == s) block[norm($3)] = $2; next }
			function flush() {
				if (addr == "")
					return
				printf "%s %s %s+%s", loc, fn, s, block[norm(addr)]
				if (inner != loc)
					printf " (in %s)", inner
				printf "\n"
			}
			/^0x[0-9a-f]+$/ { flush(); addr = $0; inner = ""; n = 0; next }
			{ n++ }
			n % 2 == 1 { fn = $0; next }
			{ loc = $0; if (inner == "") inner = $0 }
			END { flush() }' "$out/unreached.addr" -
done | sort -t: -k1,1 -k2,2n >"$out/unreached.txt"

if [ $save_corpus = 1 ]; then
	cp "$out"/new/*.prog "$top/fuzz/kernel/corpus/" 2>/dev/null || true
fi

programs=$(echo "$summary" | sed -n 's/^smem-fuzz: \([0-9]*\) programs.*/\1/p')
reached=$(echo "$summary" | sed -n 's|.* \([0-9]*\)/\([0-9]*\) blocks.*|\1|p')
total=$(echo "$summary" | sed -n 's|.* \([0-9]*\)/\([0-9]*\) blocks.*|\2|p')
if [ -z "$total" ]; then
	# No summary from the guest: count the blocks here, none reached.
	total=$("$top/build/tools/smem-fuzz" --blocks "$ko" | wc -l)
	reached=0
	programs=$(grep -c '^smem-fuzz-prog [0-9]*$' "$out/log.clean" || true)
fi
pct=$(awk -v r="$reached" -v t="$total" 'BEGIN { printf "%.1f", t ? 100 * r / t : 0 }')
rc=0
[ "$crashes" = 0 ] || rc=1
[ "$vm_status" = 0 ] || rc=1
[ $rc = 0 ] || echo "fuzz-kernel: failed (guest status $vm_status); see ${out#"$top"/}/console.txt"
echo "fuzz-kernel: $programs programs, $pct% of smemdev.ko blocks ($reached/$total), $crashes crashes"
exit $rc
