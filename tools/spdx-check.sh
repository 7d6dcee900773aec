#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# spdx-check.sh: every file of the tree that carries code or text of the
# project's own (sources, scripts, makefiles, man pages, configuration) has
# an SPDX-License-Identifier line, and every licence and exception it names
# has its full text under LICENSES/.  Prints the files that fail and exits
# non-zero when there is one.  Files that hold no authored text of their
# own are exempt: the licence texts themselves, the Markdown documents and
# NEWS (README.md says which licence covers them), VERSION, .gitignore, man
# pages that are only a ".so" link, the fuzzers' corpora (inputs, not
# sources), the benchmarks' recorded results and the charts drawn from
# them (bench/history.jsonl, bench/charts/: data), and the Debian files
# whose formats allow no comment
# (debian/changelog, debian/source/format; debian/copyright is itself the
# licence statement, in DEP-5).
set -eu
cd "$(dirname "$0")/.."

# The identifiers LICENSES/ provides, one per line.
known=$(sed -n -e 's/^Valid-License-Identifier: *//p' \
	-e 's/^SPDX-Exception-Identifier: *//p' LICENSES/*/* | sort -u)

bad=0
for f in $(git ls-files --cached --others --exclude-standard | sort -u); do
	[ -f "$f" ] || continue
	case "$f" in
	LICENSES/* | *.md | NEWS | VERSION | .gitignore | fuzz/*/corpus/*) continue ;;
	bench/history.jsonl | bench/charts/*) continue ;;
	debian/changelog | debian/copyright | debian/source/format) continue ;;
	man/*) [ "$(grep -cv '^\.so ' "$f")" = 0 ] && continue ;;
	esac
	expr=$(sed -n 's/.*SPDX-License-Identifier: *\(.*\)$/\1/p' "$f" | head -n 1 |
		sed 's/ *\*\/ *$//')
	if [ -z "$expr" ]; then
		echo "$f: no SPDX-License-Identifier line"
		bad=1
		continue
	fi
	for id in $(echo "$expr" | tr '()' '  ' | sed 's/ OR / /g; s/ AND / /g; s/ WITH / /g'); do
		if ! echo "$known" | grep -qxF "$id"; then
			echo "$f: '$id' has no text under LICENSES/"
			bad=1
		fi
	done
done
exit $bad
