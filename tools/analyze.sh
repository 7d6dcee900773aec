#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# analyze.sh [-n FIRST] [sparse|cocci|scan-build|cppcheck|analyzer]...
#
# Static analysis of smem, for the lint lane of tools/check.sh (all five
# analyzers by default).  One TAP result per analyzer and target, numbered
# from FIRST (default 1), the findings as "# " lines under a failing one;
# exits non-zero on any finding, or when an analyzer could not run.
#
#   sparse      make C=2 CHECK=sparse on smemdev.ko and the suite's test module,
#               for the 6.12 and 6.1 headers: no warning on smem's files
#   cocci       the kernel's scripts/coccinelle/**/*.cocci (from Debian's
#               linux-source-6.12, extracted into build/coccinelle, never
#               into the tree) in report mode over kmod/
#   scan-build  clang's analyzer over libsmem, smemctl, the examples, the
#               demo, the benchmark and the tests, with --status-bugs
#   cppcheck    warning, style, performance and portability checks over
#   analyzer    gcc -fanalyzer over
#               libsmem, smemctl, the examples, the demo, the benchmark and
#               the guest programs of selftests/vm (the kselftests are
#               scan-build's: see run_cppcheck and run_analyzer)
#
# A false positive is suppressed only with a comment saying why, next to
# the code or in tools/analyze/ (cppcheck.xml).  Everything is built in a
# scratch directory under build/analyze, removed at exit; the Coccinelle
# scripts stay in build/coccinelle for the next run.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
supp=$top/tools/analyze
n=0
if [ "${1:-}" = -n ]; then
	case "${2:-}" in
	'' | *[!0-9]*) echo "usage: analyze.sh [-n FIRST] [ANALYZER...]" >&2; exit 2 ;;
	esac
	n=$(($2 - 1))
	shift 2
fi
[ $# -gt 0 ] || set -- sparse cocci scan-build cppcheck analyzer
for a in "$@"; do
	case "$a" in
	sparse | cocci | scan-build | cppcheck | analyzer) ;;
	*) echo "analyze.sh: unknown analyzer '$a' (sparse, cocci, scan-build, cppcheck, analyzer)" >&2; exit 2 ;;
	esac
done

cd "$top"
jobs=$(nproc)
rc=0
mkdir -p build/analyze
work=$(mktemp -d "$top/build/analyze/run.XXXXXX")
trap 'rm -rf "$work"' EXIT

# result DESCRIPTION FINDINGS: one TAP line; not ok when FINDINGS has any.
result() {
	n=$((n + 1))
	if [ -s "$2" ]; then
		echo "not ok $n $1"
		sed 's/^/# /' "$2"
		rc=1
	else
		echo "ok $n $1"
	fi
}

# need TOOL DESCRIPTION: fail DESCRIPTION when TOOL is missing.
need() {
	command -v "$1" >/dev/null && return 0
	echo "$1 is not installed: run make deps" >"$work/missing"
	result "$2" "$work/missing"
	return 1
}

# A variable of the top Makefile (or of another one, with -C DIR and
# assignments after the name), so that the analyzers see the sources with
# the flags they are built with; without -Werror: the compilers' own
# warnings are the build's business, the analyzers' findings are ours.
make_var() {
	local dir=. name=$1
	if [ "$1" = -C ]; then
		dir=$2 name=$3
		shift 2
	fi
	shift
	# shellcheck disable=SC2016 # make's $($*), not the shell's
	make -s --no-print-directory -C "$dir" --eval='print-%: ; @echo $($*)' \
		"print-$name" "$@" | sed 's/ -Werror\b//g'
}

# Userspace sources by target, and each target's compiler flags.  smem.h
# includes smem/version.h, which the build makes from VERSION.
userspace_targets() {
	local cflags warn tool
	make -s "$(make_var VERSION_H)" >&2
	cflags=$(make_var CFLAGS) warn=$(make_var WARN) tool=$(make_var TOOL_CFLAGS)
	echo "libsmem|$(make_var LIB_CFLAGS)|$(echo libsmem/*.c)"
	echo "smemctl|$tool $(pkg-config --cflags libkmod)|$(echo tools/smemctl/*.c)"
	echo "examples|$cflags $warn -std=gnu11 $(make_var SMEM_H_INC) $(pkg-config --cflags libsodium)|$(echo examples/*.c)"
	echo "demo|$tool $(pkg-config --cflags libsodium)|$(echo demo/*.c)"
	echo "smem-sandbox|$tool $(pkg-config --cflags libseccomp)|tools/smem-sandbox.c"
	echo "bench|$tool|$(echo bench/*.c)"
	echo "selftests/vm|$cflags $warn -std=gnu11 -D_GNU_SOURCE -Iinclude/uapi|$(echo selftests/vm/*.c)"
}

test_targets() {
	make -s "$top/build/kselftest/kselftest_harness.h" >&2
	echo "selftests|$(make_var -C selftests CFLAGS KSFT_DIR="$top/build/kselftest" SMEM_TOP="$top")|$(echo selftests/*.c)"
}

# ---------------------------------------------------------------- sparse
#
# The module and the suite's test module are copied into a scratch build
# directory, as the top Makefile's module target does, and their objects
# built with C=2 (every file checked; linking, modpost and BTF would take
# longer than the checks and check nothing).  Only warnings on smem's own
# files count: the kernel's headers are not ours to fix.
sparse_kernel() {
	local line=$1 krel d out=$work/sparse.$1 status=0 f objs=()
	krel=$(tools/kernels.sh -i "$line")
	if [ -z "$krel" ]; then
		n=$((n + 1))
		echo "ok $n sparse kmod on $line # SKIP no $line headers: run make deps"
		return 0
	fi
	d=$work/sparse-$krel
	mkdir -p "$d/test"
	cp -a Kbuild VERSION kmod include "$d/"
	cp -a selftests/module/. "$d/test/"
	for f in kmod/*.c; do
		objs+=("${f%.c}.o")
	done
	{
		make -C "/lib/modules/$krel/build" M="$d" C=2 CHECK=sparse -j"$jobs" "${objs[@]}" &&
			make -C "/lib/modules/$krel/build" M="$d/test" C=2 CHECK=sparse -j"$jobs" smem_dmtest.o
	} >"$out.log" 2>&1 || status=$?
	awk -v d="$d/" 'index($0, d) == 1 && / (warning|error): / {
		f = substr($0, length(d) + 1)
		if (index(f, "test/") == 1)
			f = "selftests/module/" substr(f, 6)
		print f
	}' "$out.log" >"$out"
	if [ "$status" != 0 ]; then
		echo "the build failed ($status)" >>"$out"
		grep -q ' error: ' "$out" || tail -n 20 "$out.log" | sed "s|$d/||g" >>"$out"
	fi
	result "sparse kmod on $line ($krel)" "$out"
}

run_sparse() {
	need sparse "sparse kmod" || return 0
	sparse_kernel 6.12
	sparse_kernel 6.1
}

# ----------------------------------------------------------- Coccinelle
#
# As scripts/coccicheck runs them (MODE=report, each script's "Options:"
# line), one spatch per script, $jobs at a time.  spatch finds its Python
# through "python3" on the PATH: a python3 that is not Debian's (pyenv's
# shims) costs seconds per script, or loads another libpython.
cocci_scripts() {
	local tarball cache=$top/build/coccinelle tmp
	if [ ! -d "$cache/scripts/coccinelle" ]; then
		for tarball in /usr/src/linux-source-6.12.tar.*; do
			break
		done
		if [ ! -f "$tarball" ]; then
			echo "no /usr/src/linux-source-6.12.tar.*: run make deps" >&2
			return 1
		fi
		# Extracted aside and renamed: a run beside this one sees all or nothing.
		tmp=$(mktemp -d "$top/build/coccinelle.XXXXXX")
		tar -xf "$tarball" -C "$tmp" --strip-components=1 --wildcards '*/scripts/coccinelle/*'
		mv -T "$tmp" "$cache" 2>/dev/null || rm -rf "$tmp"
	fi
	find "$cache/scripts/coccinelle" -name '*.cocci' | sort
}

# shellcheck disable=SC2317 # run by xargs, through bash -c
cocci_one() {
	local cocci=$1 out err opts
	out=$work/cocci/$(basename "$cocci" .cocci).out
	err=$work/cocci-err/$(basename "$cocci" .cocci)
	opts=$(sed -n 's|^//[[:space:]]*Options:||p' "$cocci")
	# shellcheck disable=SC2086 # the script's options are words
	if ! spatch --python /usr/bin/python3 -D report --no-show-diff --very-quiet \
		--cocci-file "$cocci" $opts --dir "$top/kmod" -I "$top/include" -I "$top/kmod" \
		>"$out" 2>"$err"; then
		{
			echo "spatch failed on ${cocci#"$top"/build/coccinelle/}:"
			tail -n 5 "$err"
		} >>"$out"
	fi
	sed -i "s|$top/||g" "$out"
}

run_cocci() {
	local out=$work/cocci.found scripts
	need spatch "coccinelle kmod" || return 0
	mkdir -p "$work/cocci" "$work/cocci-err"
	if ! scripts=$(cocci_scripts 2>"$out"); then
		result "coccinelle kmod" "$out"
		return 0
	fi
	export -f cocci_one
	export work top
	# shellcheck disable=SC2016 # expanded by the inner shell
	printf '%s\n' "$scripts" | xargs -P "$jobs" -I{} bash -c 'cocci_one "$1"' _ {}
	cat "$work"/cocci/*.out >"$out"
	result "coccinelle kmod ($(printf '%s\n' "$scripts" | wc -l) scripts)" "$out"
}

# ------------------------------------------------------------ scan-build
#
# Every target's files compiled by clang under scan-build, $jobs at a
# time; a finding is a report, shown as file:line: type: description, or
# a file clang could not compile.  The analyzer's budget of paths per
# function is lowered from 225000 nodes: the kselftest harness' macros
# make the tests' functions long, and the default took nearly twice as
# long (230 s of CPU against 127 s here).

# The target a file of a finding belongs to.
target_of() {
	case "$1" in
	libsmem/* | include/*) echo libsmem ;;
	tools/smemctl/*) echo smemctl ;;
	selftests/vm/*) echo selftests/vm ;;
	*) echo "${1%%/*}" ;;
	esac
}

run_scan_build() {
	local name flags files f out=$work/scan status=0 found
	need scan-build-14 "scan-build" || return 0
	need clang-14 "scan-build" || return 0
	# The tests first: the longest to analyze.
	{ test_targets; userspace_targets; } >"$work/targets"
	# One pool of files for every target, so that no core waits for the
	# last file of a target: pairs of (the target's flags file, a file).
	mkdir -p "$out.d" "$out.found"
	while IFS='|' read -r name flags files; do
		printf '%s\n' "$flags" >"$out.flags.${name//\//_}"
		for f in $files; do
			printf '%s\n%s\n' "$out.flags.${name//\//_}" "$f"
		done
	done <"$work/targets" >"$out.list"
	# shellcheck disable=SC2016 # expanded by the inner shell
	scan-build-14 --status-bugs -o "$out.d" --use-cc=clang-14 \
		-analyzer-config max-nodes=75000 \
		xargs -d '\n' -P "$jobs" -n 2 sh -c '$CC $(cat "$1") -c -o /dev/null "$2"' _ \
		<"$out.list" >"$out.log" 2>&1 || status=$?
	{
		for r in "$out.d"/*/report-*.html; do
			[ -e "$r" ] || continue
			sed -n 's/^<!-- BUG\(FILE\|LINE\|TYPE\|DESC\) \(.*\) -->$/\1 \2/p' "$r" |
				awk '{ k = $1; sub(/^[A-Z]+ /, ""); v[k] = $0 }
				     END { print v["FILE"] ":" v["LINE"] ": " v["TYPE"] ": " v["DESC"] }'
		done | sed "s|^$top/||"
		grep -E '^[^ ]+: (fatal )?error:' "$out.log" || true
	} | sort -u | while IFS= read -r found; do
		name=$(target_of "$found")
		echo "$found" >>"$out.found/${name//\//_}"
	done
	while IFS='|' read -r name flags files; do
		f=$out.${name//\//_}.found
		touch "$out.found/${name//\//_}"
		mv "$out.found/${name//\//_}" "$f"
		result "scan-build $name" "$f"
	done <"$work/targets"
	# A finding in no target's files, or a failure that left none.
	cat "$out.found"/* >"$out.other" 2>/dev/null || true
	if [ "$status" != 0 ] && ! grep -q . "$out".*.found "$out.other"; then
		echo "scan-build failed ($status):" >>"$out.other"
		tail -n 20 "$out.log" >>"$out.other"
	fi
	[ ! -s "$out.other" ] || result "scan-build, elsewhere" "$out.other"
}

# -------------------------------------------------------------- cppcheck
#
# The configuration the code is built in (x86-64, GNU C: cppcheck would
# otherwise pick the branches for other machines); warning, style,
# performance and portability checks, less what tools/analyze/cppcheck.xml
# suppresses (two checks of taste, and three false positives), each with
# its reason.  The tests are left to scan-build: what cppcheck says
# of them is about the harness and the stack-erase tests' deliberate
# pointers into dead frames, at 35 s.
run_cppcheck() {
	local name flags files out defs
	need cppcheck "cppcheck" || return 0
	userspace_targets >"$work/targets"
	while IFS='|' read -r name flags files; do
		out=$work/cppcheck.${name//\//_}
		# Only the flags cppcheck understands: -D and -I.
		# shellcheck disable=SC2086 # the words of the flags
		defs=$(printf '%s\n' $flags | grep -E '^-[DI]' | tr '\n' ' ')
		# shellcheck disable=SC2086 # lists of words
		cppcheck -q -j "$jobs" --platform=unix64 --std=c11 -D__x86_64__ -D__GNUC__ $defs \
			--enable=warning,style,performance,portability --inline-suppr \
			--suppress-xml="$supp/cppcheck.xml" --error-exitcode=1 \
			--template='{file}:{line}: {severity}: {message} [{id}]' \
			$files >"$out" 2>&1 || [ -s "$out" ] || echo "cppcheck failed" >"$out"
		result "cppcheck $name" "$out"
	done <"$work/targets"
}

# ------------------------------------------------------- gcc -fanalyzer
#
# The tests are left to scan-build: -fanalyzer takes over a minute on
# them, and says the kselftest harness leaks what a failed ASSERT leaves.
run_analyzer() {
	local name flags files out
	need gcc "gcc -fanalyzer" || return 0
	userspace_targets >"$work/targets"
	while IFS='|' read -r name flags files; do
		out=$work/fanalyzer.${name//\//_}
		# shellcheck disable=SC2016 # expanded by the inner shell
		FA_FLAGS=$flags xargs -P "$jobs" -n 1 sh -c \
			'gcc $FA_FLAGS -fanalyzer -fdiagnostics-plain-output -c -o /dev/null "$1" 2>&1' _ \
			<<<"${files// /$'\n'}" >"$out.log" || true
		grep -E ': (warning|error):' "$out.log" >"$out" || true
		result "gcc -fanalyzer $name" "$out"
	done <"$work/targets"
}

for a in "$@"; do
	start=$SECONDS
	case "$a" in
	sparse) run_sparse ;;
	cocci) run_cocci ;;
	scan-build) run_scan_build ;;
	cppcheck) run_cppcheck ;;
	analyzer) run_analyzer ;;
	esac
	echo "# $a: $((SECONDS - start)) s"
done
exit $rc
