# isolation.sh: SIGKILL of one vm process marks that VM stopped, logs it,
# and leaves the other VM and vmd running; SIGTERM to vmd then ends every
# process it started and removes its socket.  vmd logs OpenBSD's lines.
# control runs chrooted.
TESTNAME=isolation
. "$(dirname "$0")/lib.subr"
need_root
cat >"$CONF" <<CONF
vm "a" {
	disable
	memory 32M
	boot "$GUEST"
	cmdline "interactive"
}
CONF
start_vmd || { fail start "vmd did not come up"; exit 1; }
vmctl start a 2>/dev/null
vmctl start -b "$GUEST" -m 32M -k interactive b 2>/dev/null
wait_state a running 5 && wait_state b running 5 && pass two-running ||
    fail two-running "a=$(vm_state a) b=$(vm_state b)"
pa=$(vm_pid a); pb=$(vm_pid b)
kill -KILL "$pa"
wait_state a stopped 5 && pass killed-stopped || fail killed-stopped "$(vm_state a)"
grep -q "signal 9" "$T/vmd.log" && pass logged || fail logged "no log of the kill"
[ "$(vm_state b)" = running ] && kill -0 "$pb" && pass other-runs ||
    fail other-runs "b=$(vm_state b)"
vmctl start a 2>/dev/null && pass restart-a ||
    fail restart-a "could not start a again"
kids=$(descendants "$VMD_PID")
[ -n "$kids" ] || fail kids "no child processes seen"
# control is chrooted to _vmd's home, but in SANITIZE=1 builds, whose
# leak check at exit reads /proc (proc.h)
home=$(getent passwd _vmd | cut -d: -f6)
ctl=
for k in $kids; do
	case $(tr '\0' ' ' <"/proc/$k/cmdline" 2>/dev/null) in
	"vmd: control "*) ctl=$k ;;
	esac
done
want=$home
grep -q __asan_init "$VMD" && want=/
if [ -z "$home" ] || [ ! -d "$home" ]; then
	skip control-chroot "_vmd has no home directory"
elif [ "$(readlink "/proc/$ctl/root" 2>/dev/null)" = "$want" ]; then
	pass control-chroot
else
	fail control-chroot "control ($ctl) has root \
'$(readlink "/proc/$ctl/root" 2>&1)', not '$want'"
fi
kill -TERM "$VMD_PID"
i=0
while kill -0 "$VMD_PID" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
kill -0 "$VMD_PID" 2>/dev/null && fail sigterm "vmd still running" || pass sigterm
left=""
for k in $kids; do kill -0 "$k" 2>/dev/null && left="$left $k"; done
[ -z "$left" ] && pass no-orphans || fail no-orphans "left:$left"
[ ! -e "$SOCK" ] && pass socket-removed || fail socket-removed "$SOCK still there"
# the log lines of OpenBSD's vmd, for those who grep for them
logline() {	# test name, line
	grep -q "^vmd: $2\$" "$T/vmd.log" && pass "$1" ||
	    fail "$1" "no '$2' in the log"
}
logline log-startup "startup"
logline log-started-a "started a (vm 1) successfully, tty /dev/pts/[0-9]*"
logline log-started-b "started b (vm 2) successfully, tty /dev/pts/[0-9]*"
logline log-terminating "terminating"
[ -z "$FAILED" ]
