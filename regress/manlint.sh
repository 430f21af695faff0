#!/bin/sh
# manlint.sh: every man page is clean under mandoc -Tlint at warning
# level (STYLE notes about pages not installed on this host aside).
cd "$(dirname "$0")/.." || exit 1
for m in share/man/man*/*.[0-9]; do
	out=$(mandoc -Tlint -Wwarning "$m" 2>&1)
	if [ -z "$out" ]; then
		echo "PASS manlint.$(basename "$m")"
	else
		echo "FAIL manlint.$(basename "$m"): $out"
	fi
done
