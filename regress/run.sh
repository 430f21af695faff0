#!/bin/sh
# Runs every test of the project (or only the tests named as arguments:
# unit test binaries and shell scripts) and prints one closing line,
# "N passed, N failed, N skipped".  Unit tests are the binaries in
# regress/unit; end-to-end tests are the scripts in regress/e2e.  Each
# prints PASS/FAIL/SKIP lines; a program that exits non-zero without a
# FAIL line counts as one failure.
#
# The run owns a directory and test accounts of its own (regress/run.subr)
# and removes them when it ends, also when it is interrupted (INT, TERM,
# HUP: ^C, timeout(1), a closed terminal); it first removes what runs
# killed outright left behind.  Tests read /dev/null: none needs a
# terminal, and none stops for one when make runs in the background.
# tests named relative to the caller's directory
here=$(pwd) n=$#
for a in "$@"; do
	case $a in
	/*) set -- "$@" "$a" ;;
	*) set -- "$@" "$here/$a" ;;
	esac
done
shift "$n"
cd "$(dirname "$0")/.." || exit 1
. regress/run.subr
run_sweep
run_begin
out=$(mktemp)
trap 'run_end' EXIT
# The test running when a signal comes gets it too (same process group)
# and cleans up after itself; the run stops after it.
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
trap 'exit 141' PIPE
pass=0 fail=0 skip=0
run() {
	name=$1; shift
	t0=$(date +%s%N)
	"$@" >"$out" 2>&1 </dev/null
	rc=$?
	t1=$(date +%s%N)
	sed "s|^|[$name] |" "$out"
	# what each test costs, to keep the whole run within its budget
	echo "[$name] took $(( (t1 - t0) / 1000000 )) ms"
	p=$(grep -c '^PASS ' "$out"); f=$(grep -c '^FAIL ' "$out")
	s=$(grep -c '^SKIP ' "$out")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL $name: exited with status $rc"
		f=1
	fi
	pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
}
runone() {
	case $1 in
	*.sh) [ -f "$1" ] && run "$(basename "$1")" sh "$1" ;;
	*) [ -x "$1" ] && run "$(basename "$1")" "$1" ;;
	esac
}
if [ $# -gt 0 ]; then
	for t in "$@"; do
		runone "$t"
	done
else
	for t in regress/unit/*_test regress/manlint.sh regress/config/run.sh \
	    regress/fuzz/run.sh regress/e2e/*.sh; do
		runone "$t"
	done
	# again with vmd daemonized, as etc/vmd.service runs it
	for t in boot console hostile stop; do
		run "$t.sh daemon" env E2E_DAEMON=1 sh "regress/e2e/$t.sh"
	done
fi
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
