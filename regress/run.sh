#!/bin/sh
# Runs every test of the project and prints one closing line,
# "N passed, N failed, N skipped".  Unit tests are the binaries in
# regress/unit; end-to-end tests are the scripts in regress/e2e.  Each
# prints PASS/FAIL/SKIP lines; a program that exits non-zero without a
# FAIL line counts as one failure.
cd "$(dirname "$0")/.." || exit 1
out=$(mktemp)
trap 'rm -f "$out"' EXIT
pass=0 fail=0 skip=0
run() {
	name=$1; shift
	"$@" >"$out" 2>&1
	rc=$?
	cat "$out" | sed "s|^|[$name] |"
	p=$(grep -c '^PASS ' "$out"); f=$(grep -c '^FAIL ' "$out")
	s=$(grep -c '^SKIP ' "$out")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL $name: exited with status $rc"
		f=1
	fi
	pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
}
for t in regress/unit/*_test; do
	[ -x "$t" ] && run "$(basename "$t")" "$t"
done
for t in regress/manlint.sh regress/config/run.sh regress/fuzz/run.sh regress/e2e/*.sh; do
	[ -f "$t" ] && run "$(basename "$t")" sh "$t"
done
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
