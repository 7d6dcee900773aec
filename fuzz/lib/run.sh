#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# fuzz/lib/run.sh [--replay-only] [SECONDS]
#
# Replays the corpora of fuzz/lib/corpus through both libFuzzer harnesses
# (build/fuzz/lib, make fuzz-lib-build), then fuzzes them for SECONDS in
# total (default 60), split evenly between the harnesses and the backends
# this host has (memfd_secret, mlock; kmod when /dev/smem is there), with
# and without protection keys when the CPU has them.  New inputs go to
# build/fuzz/lib/new/HARNESS/, crashes to build/fuzz/lib/new/ as
# crash-* (leak-*, timeout-*) with a log beside them.
#
# The last line is always
#   fuzz-lib: N runs, E edges, C crashes
# N counts every input executed (replays included), E is libFuzzer's
# final "cov:" of each harness (the largest over its backends), summed
# over the harnesses.  Exit status 1 on any crash, 2 on bad usage.
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
out=$top/build/fuzz/lib
corpus=$top/fuzz/lib/corpus
new=$out/new
harnesses="import_fuzz api_fuzz"

usage() {
	echo "usage: $0 [--replay-only] [SECONDS]" >&2
	exit 2
}

replay_only=0
if [ "${1-}" = --replay-only ]; then
	replay_only=1
	shift
fi
seconds=${1:-60}
case $seconds in
''|*[!0-9]*) usage ;;
esac
[ $# -le 1 ] || usage

for h in $harnesses; do
	if [ ! -x "$out/$h" ]; then
		echo "fuzz-lib: no $out/$h: run make fuzz-lib-build" >&2
		exit 2
	fi
done

# Backend:keys pairs; the harnesses exit 77 at start on a backend that is
# not there, and that pair is dropped.
configs=""
keys="nokeys"
grep -qw pku /proc/cpuinfo && keys="keys nokeys"
for b in kmod memfd_secret mlock; do
	[ "$b" != kmod ] || [ -e /dev/smem ] || continue
	for k in $keys; do
		configs="$configs $b:$k"
	done
done

mkdir -p "$new"
runs=0
crashes=0
# Largest cov: per harness, as "harness=edges" words.
edges=""

# The corpus directory of a harness: corpus/import for import_fuzz.
corpus_of() {
	echo "$corpus/${1%_fuzz}"
}

# run HARNESS CONFIG LOG ARGS...: one libFuzzer run; accounts runs, edges,
# crashes; returns 77 when the backend is not there.
run() {
	h=$1 cfg=$2 log=$3
	shift 3
	nokeys=0
	[ "${cfg#*:}" = keys ] || nokeys=1
	rc=0
	SMEM_BACKEND=${cfg%:*} SMEM_NO_PKEYS=$nokeys "$out/$h" -print_final_stats=1 \
		-timeout=30 -rss_limit_mb=4096 "$@" >"$log" 2>&1 || rc=$?
	[ "$rc" -ne 77 ] || return 77
	n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	runs=$((runs + ${n:-0}))
	e=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
	e=${e:-0}
	old=$(for w in $edges; do [ "${w%=*}" != "$h" ] || echo "${w#*=}"; done)
	if [ "$e" -gt "${old:-0}" ]; then
		edges="$(for w in $edges; do [ "${w%=*}" = "$h" ] || echo "$w"; done) $h=$e"
	fi
	if [ "$rc" -ne 0 ]; then
		crashes=$((crashes + 1))
		echo "fuzz-lib: $h on $cfg failed (exit $rc), log: $log" >&2
		grep -E '^(import_fuzz|api_fuzz|forked child):|^SUMMARY|ERROR: ' "$log" >&2 || tail -n 20 "$log" >&2
	fi
	return 0
}

# Replay: every input of the tree's corpus once, on every pair.
live=""
for cfg in $configs; do
	for h in $harnesses; do
		if run "$h" "$cfg" "$new/replay-$h-${cfg%:*}-${cfg#*:}.log" -runs=0 "$(corpus_of "$h")"; then
			case " $live " in *" $cfg "*) ;; *) live="$live $cfg" ;; esac
		fi
	done
done

if [ "$replay_only" -eq 0 ] && [ -n "$live" ]; then
	pairs=0
	for cfg in $live; do
		pairs=$((pairs + 1))
	done
	each=$((seconds / (pairs * 2)))
	[ "$each" -gt 0 ] || each=1
	for cfg in $live; do
		for h in $harnesses; do
			mkdir -p "$new/$h"
			# API inputs: a few hundred calls each; longer ones only cost time.
			len=8200
			[ "$h" != api_fuzz ] || len=512
			run "$h" "$cfg" "$new/fuzz-$h-${cfg%:*}-${cfg#*:}.log" \
				-max_total_time="$each" -max_len="$len" \
				-artifact_prefix="$new/$h-${cfg%:*}-${cfg#*:}-" \
				"$new/$h" "$(corpus_of "$h")" || true
		done
	done
fi

total=0
for w in $edges; do
	total=$((total + ${w#*=}))
done
echo "fuzz-lib: $runs runs, $total edges, $crashes crashes"
[ "$crashes" -eq 0 ]
