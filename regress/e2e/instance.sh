# instance.sh: VM templates.  An instance in vm.conf takes what it does
# not set from its template; "vmctl start -t" makes one at run time.  A
# user named in the template's "allow instance { owner }" may make
# instances and change only what "allow instance" lists; root may change
# anything.  Refused requests create nothing.  The test user and group
# are removed at exit, whatever happens.
TESTNAME=instance
. "$(dirname "$0")/lib.subr"
need_root
IVAN=$(acct ivan) IGRP=$(acct igrp)
need_test_accounts "$IVAN" "$IGRP"
add_test_group $IGRP
add_test_user $IVAN $IGRP
share_with_users
cat >"$CONF" <<CONF
socket owner ":$IGRP"
vm "tmpl" {
	disable
	memory 8M
	boot "$GUEST"
	cmdline "interactive"
	allow instance { memory, owner "$IVAN" }
}
vm "tmpl" instance "ci" {
	memory 16M
}
vm "closed" {
	disable
	memory 8M
	boot "$GUEST"
	cmdline "interactive"
}
CONF
"$VMD" -n -f "$CONF" >"$T/n.out" 2>&1 ||
    { fail config "$(cat "$T/n.out")"; exit 1; }
start_vmd || { fail start "vmd did not come up"; exit 1; }
as() { setpriv --reuid=$IVAN --regid=$IGRP --init-groups \
    "$UVMCTL" -s "$SOCK" "$@"; }
row() { vmctl status | grep " $1\$"; }

wait_state ci running 10 && row ci | grep -q ' 16\.0M ' &&
    pass conf-instance || fail conf-instance "$(row ci)"

as start -t tmpl -m 12M i1 >"$T/o" 2>&1 && wait_state i1 running 10 &&
    pass user-instance || fail user-instance "$(cat "$T/o")"
row i1 | grep -Eq " 12\.0M .* $IVAN +running i1\$" && pass user-owner ||
    fail user-owner "$(row i1)"

refused() {	# test name, vm name, vmctl arguments...
	n=$1; v=$2; shift 2
	if as "$@" >"$T/o" 2>&1; then
		fail "$n" "allowed: $(cat "$T/o")"
	elif [ -n "$(vm_state "$v")" ]; then
		fail "$n" "$v exists: $(row "$v")"
	else
		pass "$n"
	fi
}
refused refuse-cmdline i2 start -t tmpl -k echo i2
grep -q "no permission to set cmdline" "$T/o" && pass refuse-reason ||
    fail refuse-reason "$(cat "$T/o")"
cp "$GUEST" "$T/other.elf" && chmod 0644 "$T/other.elf"
refused refuse-boot i3 start -t tmpl -b "$T/other.elf" i3
grep -q "no permission to set boot image" "$T/o" && pass refuse-boot-reason ||
    fail refuse-boot-reason "$(cat "$T/o")"
refused refuse-template i4 start -t closed i4
refused refuse-missing i5 start -t nosuch i5
as start -t tmpl ci >"$T/o" 2>&1 && fail refuse-exists "allowed" ||
    pass refuse-exists
as stop -f ci >"$T/o" 2>&1 && fail refuse-stop "ivan stopped ci" ||
    pass refuse-stop

vmctl start -t closed -k echo -m 8M r1 >"$T/o" 2>&1 &&
    wait_state r1 running 10 && pass root-instance ||
    fail root-instance "$(cat "$T/o")"
as stop -f i1 >"$T/o" 2>&1 || fail user-stop "$(cat "$T/o")"
i=0
while [ -n "$(vm_state i1)" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
[ -z "$(vm_state i1)" ] && pass forgotten || fail forgotten "$(row i1)"
[ -z "$FAILED" ]
