# signals.sh: a signal vmd does not use ends nothing.  Every process of
# vmd (parent, control, vmm, vm) gets each of them and all run on, the
# VM too, and the log says "ignoring SIGUSR1" as OpenBSD's vmd does.
# Only SIGHUP (reload) and SIGTERM/SIGINT (stop) act, in the parent.
TESTNAME=signals
. "$(dirname "$0")/lib.subr"
need_root
cat >"$CONF" <<CONF
vm "s1" {
	memory 32M
	boot "$GUEST"
	cmdline "interactive"
}
CONF
start_vmd || { fail start "vmd did not come up"; exit 1; }
wait_state s1 running 10 || { fail boot "s1: $(vm_state s1)"; exit 1; }
procs="$VMD_PID $(descendants "$VMD_PID")"
vm=$(vm_pid s1)
# every unused one (16 is SIGSTKFLT) and two realtime signals
sigs="USR1 USR2 PIPE ALRM VTALRM PROF IO PWR 16 XCPU XFSZ 40 64"
for s in $sigs; do
	for p in $procs; do
		case $s in
		[0-9]*) kill -s "$s" "$p" 2>/dev/null || kill -"$s" "$p" ;;
		*) kill -s "$s" "$p" ;;
		esac
	done
	sleep 0.1
done
# SIGHUP and SIGINT to the children are the parent's business
for p in $(descendants "$VMD_PID"); do
	kill -s HUP "$p"
	[ "$p" = "$vm" ] || kill -s INT "$p"
done
sleep 1
left=
for p in $procs; do kill -0 "$p" 2>/dev/null || left="$left $p"; done
[ -z "$left" ] && pass all-alive || fail all-alive "gone:$left"
[ "$(vm_state s1)" = running ] && [ "$(vm_pid s1)" = "$vm" ] &&
    pass vm-runs || fail vm-runs "s1 $(vm_state s1)"
for w in "vmd: ignoring SIGUSR1" "vmd: ignoring SIGPIPE" \
    "control: ignoring SIGUSR2" "vmm: ignoring SIGALRM" \
    "vm s1: ignoring SIGXFSZ" "vm s1: ignoring SIGPROF"; do
	grep -q "$w" "$T/vmd.log" || fail logged "no \"$w\""
done
grep -q "vm s1: ignoring SIGUSR1" "$T/vmd.log" &&
    fail kick-not-logged "the vm's own SIGUSR1 is its vCPU kick"
[ -z "$FAILED" ] && pass logged
# a burst of one signal is logged once a second, not once each
n0=$(grep -c "vmd: ignoring SIGUSR2" "$T/vmd.log")
i=0
while [ $i -lt 50 ]; do kill -s USR2 "$VMD_PID"; i=$((i + 1)); done
sleep 0.5
n1=$(grep -c "vmd: ignoring SIGUSR2" "$T/vmd.log")
[ $((n1 - n0)) -le 2 ] && pass burst || fail burst "$((n1 - n0)) lines"
# the ones that act
kill -s HUP "$VMD_PID"
wait_for "$T/vmd.log" "reload requested with SIGHUP" 5 && pass hup-reloads ||
    fail hup-reloads "no reload"
kill -s TERM "$VMD_PID"
i=0
while kill -0 "$VMD_PID" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
kill -0 "$VMD_PID" 2>/dev/null && fail term-stops "vmd still there" ||
    pass term-stops
[ -z "$FAILED" ]
