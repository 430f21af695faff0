# pause.sh: pause and unpause an interactive guest.  While paused the
# guest makes no progress (a command typed on its console is not
# answered and its vCPU uses no CPU time); after unpause it answers the
# command it was given; stop -f ends a paused VM.
TESTNAME=pause
. "$(dirname "$0")/lib.subr"
need_root
cat >"$CONF" <<CONF
vm "p1" {
	memory 8M
	boot "$GUEST"
	cmdline "interactive"
}
CONF
start_vmd || { fail start "vmd did not come up"; exit 1; }
wait_state p1 running 10 || { fail running "$(vm_state p1)"; exit 1; }
mkfifo "$T/in"
vmctl console p1 <"$T/in" >"$T/console" 2>&1 &
CPID=$!
EXTRA_PIDS=$CPID
exec 3>"$T/in"
printf '\r' >&3
wait_for "$T/console" "guest>" 20 || fail prompt "no prompt"

pid=$(vm_pid p1)

vmctl pause p1 2>"$T/err" && grep -q "paused vm 1 successfully" "$T/err" &&
    pass pause || fail pause "$(cat "$T/err")"
[ "$(vm_state p1)" = paused ] && pass status-paused ||
    fail status-paused "state $(vm_state p1)"
vmctl pause p1 2>"$T/err" && fail pause-twice "no error" ||
    { grep -q "already paused" "$T/err" && pass pause-twice ||
    fail pause-twice "$(cat "$T/err")"; }
paused_frozen "$pid" "$T/console"
vmctl unpause p1 2>"$T/err" && grep -q "unpaused vm 1 successfully" "$T/err" &&
    pass unpause || fail unpause "$(cat "$T/err")"
[ "$(vm_state p1)" = running ] && pass status-running ||
    fail status-running "state $(vm_state p1)"
wait_for "$T/console" "commands:" 10 && pass resumes ||
    fail resumes "no answer after unpause"
vmctl unpause p1 2>"$T/err" && fail unpause-running "no error" ||
    pass unpause-running
vmctl pause nosuchvm 2>"$T/err" && fail pause-missing "no error" ||
    pass pause-missing
vmctl pause p1 2>/dev/null
wait_state p1 paused 5
vmctl stop -f p1 2>"$T/err" || fail stop-paused "$(cat "$T/err")"
wait_state p1 stopped 10 && pass stop-paused ||
    fail stop-paused "state $(vm_state p1)"
kill -0 "$pid" 2>/dev/null && fail reaped "vm process $pid still there" ||
    pass reaped
vmctl pause p1 2>"$T/err" && fail pause-stopped "no error" ||
    { grep -q "not running" "$T/err" && pass pause-stopped ||
    fail pause-stopped "$(cat "$T/err")"; }
exec 3>&-
[ -z "$FAILED" ]
