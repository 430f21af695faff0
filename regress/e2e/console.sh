# console.sh: vmctl console on a terminal.  Typed input reaches the guest,
# "~." leaves with the VM still running, and a terminal that hangs up
# ends the session instead of leaving vmctl behind.
TESTNAME=console
. "$(dirname "$0")/lib.subr"
need_root
command -v script >/dev/null || { skip all "script(1) is missing"; exit 0; }
cat >"$CONF" <<CONF
vm "c1" {
	memory 32M
	boot "$GUEST"
	cmdline "interactive"
}
CONF
start_vmd || { fail start "vmd did not come up"; exit 1; }
wait_state c1 running 5 || fail started "$(vm_state c1)"

# script(1) gives vmctl a terminal; its input comes from a fifo
mkfifo "$T/in"
script -qfc "$VMCTL -s $SOCK console c1" "$T/typescript" <"$T/in" \
    >/dev/null 2>&1 &
SPID=$!
EXTRA_PIDS=$SPID
exec 3>"$T/in"
wait_for "$T/typescript" "Connected to" 10 || fail connect "no banner"
printf 'info\r' >&3
wait_for "$T/typescript" "cmdline: interactive" 10 && pass typed ||
    fail typed "$(tr -d '\r' <"$T/typescript" | tail -n 3)"
printf '\r~.' >&3
i=0
while kill -0 $SPID 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
kill -0 $SPID 2>/dev/null && fail tilde-dot "still attached" || pass tilde-dot
[ "$(vm_state c1)" = running ] && pass vm-still-runs || fail vm-still-runs "$(vm_state c1)"
exec 3>&-

# attach again from a shell, as a user does, and hang the terminal up
# under it: the shell gets the SIGHUP, vmctl only the hangup
rm -f "$T/typescript"
mkfifo "$T/in2"
script -qfc "sh -c '$VMCTL -s $SOCK console c1; true'" "$T/typescript" \
    <"$T/in2" >/dev/null 2>&1 &
SPID=$!
EXTRA_PIDS=$SPID
exec 4>"$T/in2"
wait_for "$T/typescript" "Connected to" 10
CPID=
for p in $(descendants $SPID); do
	grep -q "console" /proc/$p/cmdline 2>/dev/null &&
	    [ "$(readlink /proc/$p/exe)" = "$VMCTL" ] && CPID=$p
done
kill -KILL $SPID
i=0
while [ -n "$CPID" ] && kill -0 "$CPID" 2>/dev/null && [ $i -lt 50 ]; do
	sleep 0.1; i=$((i+1))
done
[ -n "$CPID" ] && ! kill -0 "$CPID" 2>/dev/null && pass hangup-ends ||
    fail hangup-ends "vmctl $CPID still there"
exec 4>&-
[ "$(vm_state c1)" = running ] && pass vm-survives-hangup ||
    fail vm-survives-hangup "$(vm_state c1)"
[ -z "$FAILED" ]
