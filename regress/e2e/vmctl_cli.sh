# vmctl_cli.sh: vmctl's command line against a real vmd: usage lines and
# exit codes, abbreviations, the start options refused until their
# device exists (nothing may reach vmd), the OWNER column with a group,
# and the replies to log, load, reload, reset, pause, unpause and start
# -t, the pause checked on the guest's console.
TESTNAME=vmctl_cli
. "$(dirname "$0")/lib.subr"

# expect NAME RC PATTERN cmd...: exit status RC and, unless PATTERN is
# empty, a line of output (stdout and stderr) matching it exactly.
expect() {
	name=$1 want=$2 pat=$3
	shift 3
	"$@" >"$T/out" 2>&1
	rc=$?
	if [ "$rc" -ne "$want" ]; then
		fail "$name" "rc $rc, not $want: $(head -c 300 "$T/out")"
	elif [ -n "$pat" ] && ! grep -qxF -- "$pat" "$T/out"; then
		fail "$name" "no line '$pat' in: $(head -c 300 "$T/out")"
	else
		pass "$name"
	fi
}

# expect_silent NAME cmd...: exit 0 and no output at all, as OpenBSD.
expect_silent() {
	name=$1
	shift
	"$@" >"$T/out" 2>&1
	rc=$?
	if [ "$rc" -ne 0 ] || [ -s "$T/out" ]; then
		fail "$name" "rc $rc: $(head -c 300 "$T/out")"
	else
		pass "$name"
	fi
}

NOSOCK="$VMCTL -s $T/nosock"
# vmctl run as uid 65534 in group 0, which may use the root:root 0660
# socket; it runs a copy in $T, as the checkout may be out of its reach
install -m 0755 "$VMCTL" "$T/vmctl"
asuser() { setpriv --reuid=65534 --regid=0 --clear-groups "$T/vmctl" -s "$SOCK" "$@"; }
# load with a path relative to vmctl's working directory
load_relative() { (cd "$T" && "$VMCTL" -s "$SOCK" load more.conf); }
TAB="$(printf '\t')"

# Without a daemon: the command line alone decides.
expect usage 1 "usage:${TAB}vmctl [-v] [-s socket] command [arg ...]" $VMCTL
expect unknown 1 "unknown argument: frob" $VMCTL frob
expect ambiguous-st 1 "ambiguous argument: st" $VMCTL st
expect ambiguous-re 1 "ambiguous argument: re" $VMCTL re
expect ambiguous-lo 1 "ambiguous argument: lo" $VMCTL lo
expect ambiguous-empty 1 "ambiguous argument: " $VMCTL ""
# No GNU reordering: options after the operand are a usage error.
expect after-start 1 "usage:${TAB}vmctl [-v] start [-cL] [-B device] [-b path] [-d disk] [-i count]" \
    $NOSOCK start vm1 -c
expect after-stop 1 "usage:${TAB}vmctl [-v] stop [-fw] [id | -a]" \
    $NOSOCK stop vm1 -f
expect after-status 1 "usage:${TAB}vmctl [-v] status [-r] [id]" \
    $NOSOCK status vm1 -r
# A dash where the id goes is an invalid id.
for c in console pause unpause wait; do
	expect "dash-$c" 1 "vmctl: invalid id: -x" $NOSOCK $c -x
done
expect dash-stop 1 "vmctl: invalid id: -x" $NOSOCK stop -- -x
long=$(printf 'n%.0s' $(seq 64))
for c in console stop status; do
	expect "long-$c" 1 "vmctl: invalid id: $long" $NOSOCK $c "$long"
	grep -qx "vmctl: name too long" "$T/out" && pass "long-$c-why" ||
	    fail "long-$c-why" "$(cat "$T/out")"
done
expect long-63 1 "" $NOSOCK status "${long#n}"
grep -q "invalid id\|too long" "$T/out" && fail long-63-ok "$(cat "$T/out")" ||
    pass long-63-ok
expect kernel-dir 1 "vmctl: kernel must be a regular file" \
    $NOSOCK start -b "$T" vm1
expect kernel-missing 1 "vmctl: invalid boot image path: No such file or directory" \
    $NOSOCK start -b "$T/nothere" vm1
expect initrd-dir 1 "vmctl: initrd must be a regular file" \
    $NOSOCK start -b "$T/vmctl" -I "$T" vm1
expect initrd-missing 1 "vmctl: invalid initrd path: No such file or directory" \
    $NOSOCK start -I "$T/nothere" vm1
expect initrd-twice 1 "vmctl: initrd specified multiple times" \
    $NOSOCK start -I /dev/null -I /dev/null vm1
expect bootdev-unknown 1 "vmctl: unknown boot device floppy" \
    $NOSOCK start -B floppy vm1
expect bootdev-twice 1 "vmctl: boot device specified multiple times" \
    $NOSOCK start -B disk -B net vm1
expect usage-start 1 "usage:${TAB}vmctl [-v] start [-cL] [-B device] [-b path] [-d disk] [-i count]" \
    $NOSOCK start
expect usage-stop 1 "usage:${TAB}vmctl [-v] stop [-fw] [id | -a]" $NOSOCK stop
expect usage-log 1 "usage:${TAB}vmctl [-v] log [brief | verbose]" $NOSOCK log loud
expect usage-log-none 1 "usage:${TAB}vmctl [-v] log [brief | verbose]" $NOSOCK log
expect usage-reset 1 "usage:${TAB}vmctl [-v] reset [all | switches | vms]" \
    $NOSOCK reset some
expect usage-reset-two 1 "usage:${TAB}vmctl [-v] reset [all | switches | vms]" \
    $NOSOCK reset all vms
expect usage-reload 1 "usage:${TAB}vmctl [-v] reload" $NOSOCK reload now
expect usage-load 1 "usage:${TAB}vmctl [-v] load filename" $NOSOCK load
expect usage-pause 1 "usage:${TAB}vmctl [-v] pause id" $NOSOCK pause
expect usage-unpause 1 "usage:${TAB}vmctl [-v] unpause id" $NOSOCK unpause a b
expect usage-create 1 "usage:${TAB}vmctl [-v] create [-b base | -i disk] [-s size] disk" \
    $NOSOCK create
# create itself: vmctl_create.sh
expect no-daemon 1 "" $NOSOCK status

need_root

cat >"$CONF" <<CONF
vm "p1" {
	disable
	memory 64M
	boot "$GUEST"
	cmdline "interactive"
	owner "root:root"
}
CONF
start_vmd || { fail start "vmd did not come up"; exit 1; }

# Abbreviations reach the right command.
expect abbrev-stat 0 "" vmctl stat p1
expect abbrev-sho 0 "" vmctl sho
row=$(vmctl status p1 | tail -n 1)
echo "$row" | grep -Eq '^ +[0-9]+ +- +1 +64\.0M +- +- +root:root +stopped p1$' &&
    pass owner-group || fail owner-group "got '$row'"

# log: silent success for root, refused for anyone else.
expect_silent log-verbose vmctl log verbose
expect_silent log-brief vmctl log b
# The socket is root:root 0660: a uid other than 0 in group 0 may
# connect, and vmd must tell it apart by its credentials.
chmod 0750 "$T"
if asuser status 2>/dev/null | grep -q '^ *ID '; then
	# OpenBSD's words are strerror(EPERM); vmd may give its own.
	for c in "log verbose" "reload" "reset" "load $CONF"; do
		expect "eperm-${c%% *}" 1 "" asuser $c
		grep -Eqi "^vmctl: command failed: .*(not permitted|permission denied)" \
		    "$T/out" && pass "eperm-${c%% *}-message" ||
		    fail "eperm-${c%% *}-message" "$(cat "$T/out")"
	done
else
	skip eperm "user 65534 cannot reach the socket"
fi
chmod 0700 "$T"

# load: more VMs from another file; a file with errors is refused.
cat >"$T/more.conf" <<CONF
vm "m1" {
	disable
	memory 32M
	boot "$GUEST"
}
CONF
expect_silent load load_relative
expect load-added 0 "" vmctl status m1
# a file that is not there: vmd says so, as vmd -f does
expect load-missing 1 \
    "vmctl: command failed: failed to open $T/nothere.conf: No such file or directory" \
    vmctl load "$T/nothere.conf"
expect load-missing-relative 1 \
    "vmctl: command failed: failed to open $T/nothere.conf: No such file or directory" \
    sh -c "cd '$T' && '$VMCTL' -s '$SOCK' load nothere.conf"
printf 'vm "bad" {\n\tmemory lots\n}\n' >"$T/bad.conf"
expect load-bad 1 "" vmctl load "$T/bad.conf"
grep -q "^vmctl: command failed" "$T/out" && pass load-bad-message ||
    fail load-bad-message "$(cat "$T/out")"
expect load-bad-nothing 1 "" vmctl status bad

# reload: stopped VMs not in the file go, new ones come.
cat >>"$CONF" <<CONF
vm "r1" {
	disable
	memory 32M
	boot "$GUEST"
}
CONF
expect_silent reload vmctl reload
expect reload-added 0 "" vmctl status r1
expect reload-dropped 1 "" vmctl status m1
expect reload-kept 0 "" vmctl status p1

# pause and unpause a booted guest; its console must stay silent while
# it is paused and answer once it runs again.
expect pause-notfound 1 "" vmctl pause nosuchvm
vmctl start p1 2>"$T/err" || fail start-p1 "$(cat "$T/err")"
wait_state p1 running 5 || fail running "$(vm_state p1)"
id=$(vmctl status p1 | awk '$NF == "p1" { print $1 }')
mkfifo "$T/in"
vmctl console p1 <"$T/in" >"$T/console" 2>&1 &
CPID=$!
EXTRA_PIDS=$CPID
exec 3>"$T/in"
if wait_for "$T/console" "guest>" 20; then
	pass prompt
else
	fail prompt "no guest> on the console"
fi
expect pause 0 "vmctl: paused vm $id successfully" vmctl pause p1
[ "$(vm_state p1)" = paused ] && pass state-paused ||
    fail state-paused "state $(vm_state p1)"
expect status-r-paused 0 "" vmctl status -r p1
expect pause-again 1 "" vmctl pause p1
grep -q "^vmctl: pause vm command failed: " "$T/out" &&
    pass pause-again-message || fail pause-again-message "$(cat "$T/out")"
printf 'help\r' >&3
sleep 1
grep -q "commands:" "$T/console" && fail paused-silent "guest answered" ||
    pass paused-silent
expect unpause 0 "vmctl: unpaused vm $id successfully" vmctl unp "$id"
wait_for "$T/console" "commands:" 10 && pass unpaused-answers ||
    fail unpaused-answers "no answer after unpause"
[ "$(vm_state p1)" = running ] && pass state-running ||
    fail state-running "state $(vm_state p1)"
expect unpause-again 1 "" vmctl unpause p1
grep -q "^vmctl: unpause vm command failed: " "$T/out" &&
    pass unpause-again-message || fail unpause-again-message "$(cat "$T/out")"
exec 3>&-

# start -t: a new VM made from the template p1, with p1's memory.
expect instance 0 "" vmctl start -t p1 i1
wait_state i1 running 5 && pass instance-running ||
    fail instance-running "state $(vm_state i1)"
vmctl status i1 | grep -Eq ' 64\.0M .* i1$' && pass instance-memory ||
    fail instance-memory "$(vmctl status i1 | tail -n 1)"
expect instance-bad-template 1 "" vmctl start -t nosuch i2
grep -q "^vmctl: start vm command failed: " "$T/out" &&
    pass instance-bad-message || fail instance-bad-message "$(cat "$T/out")"

# reset vms ends every VM.
pids="$(vm_pid p1) $(vm_pid i1)"
expect_silent reset-vms vmctl reset vms
for pid in $pids; do
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do
		sleep 0.1; i=$((i + 1))
	done
	kill -0 "$pid" 2>/dev/null &&
	    fail reset-ended "vm process $pid still there" ||
	    pass reset-ended
done
expect reset-none-running 1 "" vmctl status -r
expect_silent reset-switches vmctl reset switches
expect_silent reset-all vmctl reset
[ -z "$FAILED" ]
