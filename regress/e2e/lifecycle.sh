# lifecycle.sh: status columns, stop -f, stop -fw, wait, restart, and the
# interactive guest powering off from its console; what vmctl says for
# each, in OpenBSD vmctl's words.
TESTNAME=lifecycle
. "$(dirname "$0")/lib.subr"
need_root
cat >"$CONF" <<CONF
vm "l1" {
	disable
	memory 64M
	boot "$GUEST"
	cmdline "interactive"
}
CONF
start_vmd || { fail start "vmd did not come up"; exit 1; }
hdr=$(vmctl status | head -n 1)
[ "$hdr" = "   ID   PID VCPUS  MAXMEM  CURMEM     TTY        OWNER    STATE NAME" ] &&
    pass header || fail header "got '$hdr'"
vmctl start l1 2>"$T/err" ||
    fail start "$(cat "$T/err")"
wait_state l1 running 5 && pass running || fail running "$(vm_state l1)"
row=$(vmctl status | grep ' l1$')
echo "$row" | grep -Eq '^ +1 +[0-9]+ +1 +64\.0M +[0-9.]+[KMG]? +pts/[0-9]+ +root +running l1$' &&
    pass row || fail row "got '$row'"
vmctl status l1 | grep -q ' l1$' && pass status-filter ||
    fail status-filter "status l1"
pid=$(vm_pid l1)
vmctl stop -f l1 2>"$T/err"; rc=$?
[ $rc -eq 0 ] &&
    [ "$(cat "$T/err")" = "stopping vm l1: requested to shutdown vm 1" ] &&
    pass stop-f || fail stop-f "rc $rc: $(cat "$T/err")"
wait_state l1 stopped 5 && pass stopped || fail stopped "$(vm_state l1)"
kill -0 "$pid" 2>/dev/null && fail reaped "vm process $pid still there" ||
    pass reaped
vmctl stop -f l1 2>"$T/err"; rc=$?
[ $rc -ne 0 ] &&
    [ "$(cat "$T/err")" = "stopping vm l1: failed: vm not running" ] &&
    pass stop-stopped || fail stop-stopped "rc $rc: $(cat "$T/err")"
vmctl wait l1 2>"$T/err"; rc=$?
[ $rc -ne 0 ] &&
    [ "$(cat "$T/err")" = "waiting for vm l1: failed: vm not running" ] &&
    pass wait-stopped || fail wait-stopped "rc $rc: $(cat "$T/err")"
vmctl start l1 2>"$T/err" &&
    pass restart || fail restart "$(cat "$T/err")"
wait_state l1 running 5
vmctl stop -fw l1 2>"$T/err"; rc=$?
[ $rc -eq 0 ] && [ "$(cat "$T/err")" = "stopping vm l1: terminated vm 1" ] &&
    [ "$(vm_state l1)" = stopped ] && pass stop-fw ||
    fail stop-fw "rc $rc: $(cat "$T/err"), state $(vm_state l1)"
vmctl start l1 2>"$T/err" ||
    fail restart2 "$(cat "$T/err")"
wait_state l1 running 5
vmctl wait l1 >"$T/wait.out" 2>&1 &
WPID=$!
EXTRA_PIDS=$WPID
mkfifo "$T/in"
vmctl console l1 <"$T/in" >"$T/console" 2>&1 &
CPID=$!
EXTRA_PIDS="$WPID $CPID"
exec 3>"$T/in"
if wait_for "$T/console" "guest>" 20; then
	printf 'poweroff\r' >&3
fi
exec 3>&-
i=0
while kill -0 $WPID 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
kill -0 $WPID 2>/dev/null && fail wait "vmctl wait did not return" ||
    pass wait
[ "$(cat "$T/wait.out")" = "waiting for vm l1: terminated vm 1" ] &&
    pass wait-words || fail wait-words "$(cat "$T/wait.out")"
wait_state l1 stopped 5 && pass poweroff || fail poweroff "$(vm_state l1)"
i=0
while kill -0 $CPID 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
kill -0 $CPID 2>/dev/null && fail console-ends "console still attached" ||
    pass console-ends
vmctl stop -f nosuchvm 2>"$T/err"; rc=$?
[ $rc -ne 0 ] &&
    [ "$(cat "$T/err")" = "stopping vm nosuchvm: vm not found" ] &&
    pass notfound ||
    fail notfound "rc $rc: $(cat "$T/err")"
[ -z "$FAILED" ]
