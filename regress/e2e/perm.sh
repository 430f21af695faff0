# perm.sh: owners and permissions.  Two unprivileged users and two groups
# are made for the test (and removed at exit, whatever happens): alice
# owns a VM and is in the group owning another, bob owns nothing; both
# may use the socket ("socket owner").  Each runs vmctl through setpriv
# and the test checks what each may and may not do, and that a refused
# request changes nothing.
TESTNAME=perm
. "$(dirname "$0")/lib.subr"
need_root
ALICE=$(acct alice) BOB=$(acct bob) GRP=$(acct grp) SOCKGRP=$(acct sock)
need_test_accounts "$ALICE $BOB" "$GRP $SOCKGRP"
add_test_group $GRP
add_test_group $SOCKGRP
add_test_user $ALICE $SOCKGRP -G $GRP
add_test_user $BOB $SOCKGRP
# the users must reach the socket and vmctl
share_with_users

cat >"$CONF" <<CONF
socket owner ":$SOCKGRP"
vm "pa" {
	memory 8M
	boot "$GUEST"
	cmdline "interactive"
	owner "$ALICE"
}
vm "pg" {
	disable
	memory 8M
	boot "$GUEST"
	cmdline "interactive"
	owner ":$GRP"
}
vm "pr" {
	memory 8M
	boot "$GUEST"
	cmdline "interactive"
}
CONF
"$VMD" -n -f "$CONF" >"$T/n.out" 2>&1 ||
    { fail config "$(cat "$T/n.out")"; exit 1; }
sum0=$(cksum <"$CONF")
start_vmd || { fail start "vmd did not come up"; exit 1; }
wait_state pa running 10 && wait_state pr running 10 ||
    { fail boot "pa $(vm_state pa), pr $(vm_state pr)"; exit 1; }

as() { u=$1; shift; setpriv --reuid=$u --regid=$SOCKGRP --init-groups \
    "$UVMCTL" -s "$SOCK" "$@"; }
# what must not change: ids, pids, states, names
snap() { vmctl status | awk 'NR > 1 { print $1, $2, $(NF-1), $NF }'; }

st=$(stat -c '%U:%G %a' "$SOCK")
[ "$st" = "root:$SOCKGRP 660" ] && pass socket-owner ||
    fail socket-owner "socket is $st"

as $BOB status >"$T/s.out" 2>&1 &&
    [ "$(grep -c ' p[agr]$' "$T/s.out")" -eq 3 ] && pass user-status ||
    fail user-status "$(cat "$T/s.out")"
grep -q " $ALICE *running pa$" "$T/s.out" && pass owner-column ||
    fail owner-column "$(grep ' pa$' "$T/s.out")"

# refused requests, each changing nothing
before=$(snap)
refused() {	# name, user, vmctl arguments...
	n=$1; shift; u=$1; shift
	if as $u "$@" >"$T/r.out" 2>&1; then
		fail "$n" "allowed: $(cat "$T/r.out")"
	elif [ "$(snap)" != "$before" ]; then
		fail "$n" "status changed: $(snap | tr '\n' ';')"
	else
		pass "$n"
	fi
}
refused bob-stop $BOB stop -f pa
refused bob-pause $BOB pause pa
refused bob-wait $BOB wait pa
refused bob-start-group $BOB start pg
refused alice-stop-root $ALICE stop -f pr
refused alice-pause-root $ALICE pause pr
refused alice-create $ALICE start -b "$GUEST" -m 8M pnew
refused alice-override $ALICE start -m 16M pg
refused alice-reload $ALICE reload
refused alice-load $ALICE load "$CONF"
refused alice-reset $ALICE reset vms
refused bob-log $BOB log verbose
grep -q "permission denied" "$T/r.out" && pass denied-message ||
    fail denied-message "$(cat "$T/r.out")"
grep -q "denied request" "$T/vmd.log" && pass denied-logged ||
    fail denied-logged "no 'denied request' line"
[ "$(cksum <"$CONF")" = "$sum0" ] && pass conf-untouched ||
    fail conf-untouched "vm.conf changed"

# what alice may do: her VM, and the one of her group
tty=/dev/$(vmctl status | awk '$NF == "pa" { print $6 }')
st=$(stat -c '%U:%G %a' "$tty")
[ "$st" = "$ALICE:tty 620" ] && pass tty-owner || fail tty-owner "$tty is $st"
as $ALICE pause pa >"$T/a.out" 2>&1 && wait_state pa paused 5 &&
    pass alice-pause || fail alice-pause "$(cat "$T/a.out")"
as $ALICE unpause pa >"$T/a.out" 2>&1 && wait_state pa running 5 &&
    pass alice-unpause || fail alice-unpause "$(cat "$T/a.out")"
as $ALICE start pg >"$T/a.out" 2>&1 && wait_state pg running 10 &&
    pass alice-start-group || fail alice-start-group "$(cat "$T/a.out")"
tty=/dev/$(vmctl status | awk '$NF == "pg" { print $6 }')
st=$(stat -c '%G %a' "$tty")
[ "$st" = "$GRP 660" ] && pass tty-group || fail tty-group "$tty is $st"
as $ALICE stop -f pg >"$T/a.out" 2>&1 && wait_state pg stopped 10 &&
    pass alice-stop-group || fail alice-stop-group "$(cat "$T/a.out")"
as $ALICE stop -f pa >"$T/a.out" 2>&1 && wait_state pa stopped 10 &&
    pass alice-stop || fail alice-stop "$(cat "$T/a.out")"
[ "$(vm_state pr)" = running ] && pass root-vm-untouched ||
    fail root-vm-untouched "pr is $(vm_state pr)"
[ -z "$FAILED" ]
