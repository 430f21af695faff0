# reload.sh: vmctl reload and SIGHUP re-read vm.conf: a new VM appears and
# starts, a running VM keeps running untouched, a VM removed from the
# file is forgotten once stopped; a broken file is refused, logged, and
# the old configuration stays in force.  load adds the VMs of another
# file; reset vms terminates and forgets every VM.
TESTNAME=reload
. "$(dirname "$0")/lib.subr"
need_root
vmblock() {	# name, enable|disable
	printf 'vm "%s" {\n\t%s\n\tmemory 8M\n\tboot "%s"\n\tcmdline "interactive"\n}\n' \
	    "$1" "$2" "$GUEST"
}
{ vmblock r1 enable; vmblock r2 disable; } >"$CONF"
start_vmd || { fail start "vmd did not come up"; exit 1; }
wait_state r1 running 10 || { fail boot "r1 $(vm_state r1)"; exit 1; }
pid1=$(vm_pid r1)

# good file: r3 is new and enabled, r2 is gone
{ vmblock r1 enable; vmblock r3 enable; } >"$CONF"
vmctl reload 2>"$T/err" && pass reload || fail reload "$(cat "$T/err")"
wait_state r3 running 10 && pass new-vm || fail new-vm "r3 $(vm_state r3)"
[ "$(vm_pid r1)" = "$pid1" ] && pass running-untouched ||
    fail running-untouched "r1 pid $pid1 -> $(vm_pid r1)"
[ -z "$(vm_state r2)" ] && pass removed || fail removed "r2 $(vm_state r2)"

# broken file: refused, logged, nothing changes
before=$(vmctl status | awk 'NR > 1 { print $1, $2, $(NF-1), $NF }')
{ vmblock r1 enable; echo 'vm "r4" { memory lots }'; } >"$CONF"
vmctl reload 2>"$T/err" && fail broken "reload accepted a broken file" ||
    pass broken
grep -q "configuration has errors" "$T/err" && pass broken-reason ||
    fail broken-reason "$(cat "$T/err")"
grep -q "vm.conf:7: " "$T/vmd.log" && pass broken-logged ||
    fail broken-logged "no file:line error in the log"
after=$(vmctl status | awk 'NR > 1 { print $1, $2, $(NF-1), $NF }')
[ "$before" = "$after" ] && pass old-config || fail old-config "$after"

# SIGHUP, with r3 dropped from the file: forgotten once stopped
vmblock r1 enable >"$CONF"
kill -HUP "$VMD_PID"
wait_for "$T/vmd.log" "reload requested with SIGHUP" 5 && pass sighup ||
    fail sighup "no reload on SIGHUP"
sleep 0.5
[ "$(vm_state r3)" = running ] && pass keeps-running ||
    fail keeps-running "r3 $(vm_state r3)"
vmctl stop -f r3 2>/dev/null
i=0
while [ -n "$(vm_state r3)" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
[ -z "$(vm_state r3)" ] && pass forgotten || fail forgotten "r3 $(vm_state r3)"

# load another file: adds its VMs, leaves the rest alone
vmblock l1 disable >"$T/other.conf"
vmblock r1 enable >>"$T/other.conf"
vmctl load "$T/other.conf" 2>"$T/err" && [ "$(vm_state l1)" = stopped ] &&
    pass load || fail load "$(cat "$T/err") l1 $(vm_state l1)"
[ "$(vm_pid r1)" = "$pid1" ] && pass load-untouched ||
    fail load-untouched "r1 pid $pid1 -> $(vm_pid r1)"
vmctl load "$T/nonexistent.conf" 2>"$T/err" && fail load-missing "accepted" ||
    pass load-missing

# reset vms: every VM terminated and forgotten
vmctl reset vms 2>"$T/err" || fail reset "$(cat "$T/err")"
i=0
while [ -n "$(vm_state r1)" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
n=$(vmctl status 2>/dev/null | awk 'NR > 1' | wc -l)
[ "$n" -eq 0 ] && ! kill -0 "$pid1" 2>/dev/null && pass reset ||
    fail reset "$n VMs left"
vmctl reload 2>"$T/err" && wait_state r1 running 10 && pass reload-after-reset ||
    fail reload-after-reset "$(cat "$T/err") r1 $(vm_state r1)"

# log verbose/brief reach every process
vmctl log brief 2>"$T/err" && vmctl log verbose 2>>"$T/err" && pass log ||
    fail log "$(cat "$T/err")"
[ -z "$FAILED" ]
