# stop.sh: vmctl stop without -f asks the guest to shut down, through
# vmmci (the guest's vmmci check, the interactive prompt: a reboot
# request, as OpenBSD's vmd posts it, whose reset ends the VM) or else
# the ACPI power button (the pwrbtn check, which powers off); stop -w
# waits for the end.  A guest that cannot be asked (idle) is told so at
# once, one that does not answer (deaf: vmmci, then the button) in vmd's
# timeouts; either stays up and stop -f ends it.  The VM shows as
# stopping meanwhile; a second stop, a pause and a stop -f during a
# pending shutdown do what vmd does.  A pause longer than 5 s is
# followed by a clock sync.
TESTNAME=stop
. "$(dirname "$0")/lib.subr"
need_root
cat >"$CONF" <<CONF
vm "mci" {
	disable
	memory 32M
	boot "$GUEST"
	cmdline "vmmci hosttime=$(date +%s)"
}
vm "ia" {
	disable
	memory 32M
	boot "$GUEST"
	cmdline "interactive"
}
vm "pb" {
	disable
	memory 32M
	boot "$GUEST"
	cmdline "pwrbtn"
}
vm "idle" {
	disable
	memory 32M
	boot "$GUEST"
	cmdline "idle"
}
vm "deaf" {
	disable
	memory 32M
	boot "$GUEST"
	cmdline "deaf"
}
CONF
start_vmd || { fail start "vmd did not come up"; exit 1; }

# boot NAME: start it with its console in $T/NAME.con, input held open
boot() {
	mkfifo "$T/$1.in"
	vmctl start -c "$1" <"$T/$1.in" >"$T/$1.con" 2>&1 &
	EXTRA_PIDS="$EXTRA_PIDS $!"
	sleep 3600 >"$T/$1.in" &
	EXTRA_PIDS="$EXTRA_PIDS $!"
}

# con NAME PATTERN SECONDS: until the console of NAME shows PATTERN
con() {
	i=0
	while [ $i -lt $(($3 * 10)) ]; do
		tr -d '\r' 2>/dev/null <"$T/$1.con" | grep -q -- "$2" &&
		    return 0
		sleep 0.1; i=$((i + 1))
	done
	return 1
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# --- vmmci: the guest acknowledges the reboot request and resets, which
# ends the VM
boot mci
con mci "vmmci: waiting for a host request" 60 || {
	fail mci-ready "$(tail -n 3 "$T/mci.con")"; exit 1; }
hs=$(tr -d '\r' <"$T/mci.con" | sed -n 's/^vmmci: features 0x7, host time \([0-9]*\)\..*/\1/p')
[ -n "$hs" ] && [ $((hs - $(date +%s))) -le 2 ] &&
    [ $(($(date +%s) - hs)) -le 120 ] && pass mci-clock ||
    fail mci-clock "$(grep "vmmci:" "$T/mci.con" | head -n 1)"
vmctl stop mci 2>"$T/err"; rc=$?
[ $rc -eq 0 ] && grep -q "^stopping vm mci: requested to shutdown vm [0-9]*$" \
    "$T/err" && pass mci-stop || fail mci-stop "rc $rc: $(cat "$T/err")"
con mci "^PASS vmmci: reboot request acknowledged" 20 && pass mci-ack ||
    fail mci-ack "$(tail -n 3 "$T/mci.con")"
wait_state mci stopped 20 && pass mci-stopped ||
    fail mci-stopped "$(vm_state mci)"
wait_for "$T/vmd.log" "vm mci: shutdown: the guest acknowledged (vmmci)" 5 &&
    wait_for "$T/vmd.log" "vm mci: shut down: the guest reset while asked" 5 &&
    wait_for "$T/vmd.log" "vm mci: stopped" 5 && pass mci-log ||
    fail mci-log "no end in the log"

# --- interactive: clock sync after a long pause only; stop -w
boot ia
con ia "vmmci: attached, answering host requests" 60 ||
    fail ia-ready "$(tail -n 3 "$T/ia.con")"
vmctl pause ia 2>/dev/null && sleep 1 && vmctl unpause ia 2>/dev/null
sleep 2
tr -d '\r' <"$T/ia.con" | grep -q "clock sync requested" &&
    fail ia-short-pause "synced after 1 s" || pass ia-short-pause
vmctl pause ia 2>/dev/null && sleep 6.5 && vmctl unpause ia 2>/dev/null
con ia "vmmci: clock sync requested, acknowledged, rtc [0-9]" 15 &&
    pass ia-clock-sync || fail ia-clock-sync "$(tail -n 3 "$T/ia.con")"
vmctl stop -w ia 2>"$T/err"; rc=$?
st=$(vm_state ia)
[ $rc -eq 0 ] && grep -q "^stopping vm ia: terminated vm [0-9]*$" "$T/err" &&
    pass ia-stop-w || fail ia-stop-w "rc $rc: $(cat "$T/err")"
[ "$st" = stopped ] && pass ia-stopped-on-return ||
    fail ia-stopped-on-return "state $st"
con ia "vmmci: reboot requested, acknowledged" 5 && pass ia-ack ||
    fail ia-ack "$(tail -n 3 "$T/ia.con")"

# --- power button: a guest without vmmci that enabled it
boot pb
con pb "pwrbtn: enabled" 60 || fail pb-ready "$(tail -n 3 "$T/pb.con")"
vmctl stop pb 2>"$T/err"; rc=$?
[ $rc -eq 0 ] && grep -q "requested to shutdown vm" "$T/err" &&
    pass pb-stop || fail pb-stop "rc $rc: $(cat "$T/err")"
con pb "^PASS pwrbtn: power button pressed" 20 && pass pb-pressed ||
    fail pb-pressed "$(tail -n 3 "$T/pb.con")"
wait_state pb stopped 20 && pass pb-stopped || fail pb-stopped "$(vm_state pb)"

# --- a guest that cannot be asked: told at once, stays up
boot idle
con idle "idle: waiting" 60 || fail idle-ready "$(tail -n 3 "$T/idle.con")"
t0=$(now_ms)
vmctl stop idle 2>"$T/err"; rc=$?
t1=$(now_ms)
[ $rc -ne 0 ] && grep -q "neither a vmmci driver nor an enabled power button" \
    "$T/err" && pass idle-refused || fail idle-refused "rc $rc: $(cat "$T/err")"
[ $((t1 - t0)) -lt 2000 ] && pass idle-at-once ||
    fail idle-at-once "answer took $((t1 - t0)) ms"
[ "$(vm_state idle)" = running ] && pass idle-stays ||
    fail idle-stays "state $(vm_state idle)"
vmctl stop -f idle 2>/dev/null
wait_state idle stopped 10 && pass idle-stop-f ||
    fail idle-stop-f "$(vm_state idle)"

# --- a guest that does not answer: vmd's timeouts, stays up
boot deaf
con deaf "deaf: vmmci and power button enabled" 60 ||
    fail deaf-ready "$(tail -n 3 "$T/deaf.con")"
t0=$(now_ms)
vmctl stop deaf 2>"$T/err1" &
SPID=$!
wait_state deaf stopping 3 && pass deaf-stopping ||
    fail deaf-stopping "state $(vm_state deaf)"
vmctl stop deaf 2>"$T/err2" && fail deaf-second "no error" ||
    { grep -q "shutting down" "$T/err2" && pass deaf-second ||
    fail deaf-second "$(cat "$T/err2")"; }
wait $SPID; rc=$?
t1=$(now_ms)
[ $rc -ne 0 ] && grep -q "did not answer the power button; the vm stays up" \
    "$T/err1" && pass deaf-unanswered || fail deaf-unanswered \
    "rc $rc: $(cat "$T/err1")"
# 3 s for vmmci, then 3 s for the button
[ $((t1 - t0)) -ge 5500 ] && [ $((t1 - t0)) -lt 15000 ] &&
    pass deaf-timeouts || fail deaf-timeouts "answer took $((t1 - t0)) ms"
[ "$(vm_state deaf)" = running ] && pass deaf-stays ||
    fail deaf-stays "state $(vm_state deaf)"
grep -q "did not acknowledge the reboot request" "$T/vmd.log" &&
    pass deaf-log || fail deaf-log "no vmmci line in the log"
# paused while it is pending: the timeouts run on, it stays paused
vmctl stop deaf 2>"$T/err1" &
SPID=$!
wait_state deaf stopping 3
vmctl pause deaf 2>"$T/err2" && [ "$(vm_state deaf)" = paused ] &&
    pass deaf-pause || fail deaf-pause "$(cat "$T/err2"), $(vm_state deaf)"
wait $SPID; rc=$?
[ $rc -ne 0 ] && [ "$(vm_state deaf)" = paused ] && pass deaf-paused-stays ||
    fail deaf-paused-stays "rc $rc, state $(vm_state deaf)"
vmctl unpause deaf 2>/dev/null
[ "$(vm_state deaf)" = running ] && pass deaf-unpause ||
    fail deaf-unpause "state $(vm_state deaf)"
# stop -f while a stop -w waits: both end
vmctl stop -w deaf 2>"$T/err1" &
SPID=$!
wait_state deaf stopping 3
vmctl stop -f deaf 2>"$T/err2" || fail deaf-stop-f "$(cat "$T/err2")"
wait $SPID; rc=$?
[ $rc -eq 0 ] && grep -q "terminated vm" "$T/err1" && pass deaf-stop-f ||
    fail deaf-stop-f "rc $rc: $(cat "$T/err1")"
wait_state deaf stopped 10 && pass deaf-stopped ||
    fail deaf-stopped "$(vm_state deaf)"
[ -z "$FAILED" ]
