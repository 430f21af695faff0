# echo.sh: console input reaches the guest through the pty and the
# ns8250's receive interrupt.
TESTNAME=echo
. "$(dirname "$0")/lib.subr"
need_root
start_vmd || { fail start "vmd did not come up"; exit 1; }
mkfifo "$T/in"
vmctl start -c -b "$GUEST" -m 32M -k "echo" e1 \
    <"$T/in" >"$T/out.tty" 2>"$T/out.err" &
CPID=$!
EXTRA_PIDS=$CPID
exec 3>"$T/in"
if wait_for "$T/out.tty" "type a line" 20; then
	printf 'hello vmd\r' >&3
	wait_for "$T/out.tty" "PASS echo" 20
fi
exec 3>&-
console_wait out 20
grep -q "^echo: hello vmd" "$T/out" && pass echoed ||
    fail echoed "$(tail -n 3 "$T/out")"
grep -q "^PASS echo" "$T/out" && pass check || fail check "no PASS echo"
[ -z "$FAILED" ]
