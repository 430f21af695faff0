# daemon_devices.sh: the devices of a user's VM under vmd run as
# etc/vmd.service runs it (daemonized, syslog; lib.subr's
# start_vmd_daemon), in a network namespace this test makes.  A user
# who owns a vm.conf VM with a disk, a CD-ROM and a local interface
# starts it with vmctl start -c: the test guest's blk, cdrom and dhcp
# checks pass (the written sectors reach the image).  An instance of it
# with the user's own disk and ISO boots and stays up; the host pings
# it.  The same user naming an ISO or a disk only root may read is
# refused (vmd opens them with the user's rights), no VM is made.  Then
# SIGTERM, as systemd stops the unit: vmd, its processes and the VM's
# tap go, the user's console client ends.
TESTNAME=daemon_devices
. "$(dirname "$0")/lib.subr"
need_root
[ -c /dev/net/tun ] || { skip all "needs /dev/net/tun"; exit 0; }
for c in ip busybox xorriso; do
	command -v $c >/dev/null 2>&1 || { skip all "no $c"; exit 0; }
done
DUSR=$(acct ddvu) DGRP=$(acct ddvg)
need_test_accounts "$DUSR" "$DGRP"
add_test_group $DGRP
add_test_user $DUSR $DGRP
share_with_users

NS=vmdt-$VMD_TEST_RUN-ddev
trap 'cleanup; ip netns del "$NS" 2>/dev/null' EXIT
ip netns add "$NS" || { fail netns "cannot make a network namespace"; exit 1; }
nsip() { ip -n "$NS" "$@"; }
nsip link set lo up
# vmd in the namespace: ip netns exec executes it, so the daemon is vmd
cat >"$T/vmd-ns" <<EOF
#!/bin/sh
exec ip netns exec "$NS" "$VMD" "\$@"
EOF
chmod +x "$T/vmd-ns"
VMD_EXE=$VMD
VMD=$T/vmd-ns

# vm.conf's disk and ISO are root's (vmd opens them as root); the
# instance's are the user's own; the secret ones only root may read.
mkraw "$T/conf.raw"
chmod 0600 "$T/conf.raw"
mkraw "$T/own.raw"
mkraw "$T/secret.raw"
chmod 0600 "$T/secret.raw"
mkdir "$T/iso"
echo "vmd test cdrom" >"$T/iso/readme.txt"
xorriso -as mkisofs -quiet -V VMDTESTCD -o "$T/conf.iso" "$T/iso" \
    2>/dev/null || { fail mkiso "xorriso failed"; exit 1; }
chmod 0600 "$T/conf.iso"
cp "$T/conf.iso" "$T/own.iso"
cp "$T/conf.iso" "$T/secret.iso"
chown "$DUSR:$DGRP" "$T/own.raw" "$T/own.iso"

cat >"$CONF" <<CONF
socket owner ":$DGRP"
vm "dev" {
	disable
	memory 64M
	boot "$GUEST"
	cmdline "blk cdrom dhcp"
	disk "$T/conf.raw"
	cdrom "$T/conf.iso"
	local interface
	owner "$DUSR"
	allow instance { disk, cdrom, cmdline, owner "$DUSR" }
}
CONF
start_vmd_daemon || { fail start "vmd did not come up"; exit 1; }
# no terminal, its own session, as the unit's forking daemon is
pgid=$(ps -o pgid= -p "$VMD_PID" | tr -d ' ')
sid=$(ps -o sid= -p "$VMD_PID" | tr -d ' ')
[ "$pgid" = "$VMD_PID" ] && [ "$sid" = "$VMD_PID" ] && pass daemonized ||
    fail daemonized "pid $VMD_PID pgid $pgid sid $sid"
as() { setpriv --reuid=$DUSR --regid=$DGRP --init-groups \
    "$UVMCTL" -s "$SOCK" "$@"; }
# vmid NAME: the id vmd gave NAME when it started it
vmid() {
	sed -n "s/.*started $1 (vm \([0-9]*\)) successfully.*/\1/p" \
	    "$T/vmd.log" | tail -n 1
}
# devices NAME: the guest's blk, cdrom and dhcp checks passed on NAME
devices() {
	grep -q "^PASS blk: " "$T/$1" && pass "$1.disk" ||
	    fail "$1.disk" "$(grep -E 'blk|failed' "$T/$1" "$T/$1.err" |
	    head -3 | tr '\n' ' ')"
	grep -q "^PASS cdrom: .*blocks of 2048.*volume 'VMDTESTCD'" "$T/$1" &&
	    pass "$1.cdrom" || fail "$1.cdrom" "$(grep -E 'cdrom|failed' \
	    "$T/$1" "$T/$1.err" | head -3 | tr '\n' ' ')"
	_id=$(vmid "$2")
	_want="^PASS dhcp: vio0 100.64.$_id.3/31 router 100.64.$_id.2 "
	grep -q "$_want.* host name $2" "$T/$1" && pass "$1.net" || fail "$1.net" "vm $_id: $(grep -E \
	    'dhcp|failed' "$T/$1" "$T/$1.err" | head -3 | tr '\n' ' ')"
}

# the user's VM from vm.conf: each device seen, the disk written
console_run dev 40 as start -c dev || fail dev.console "still running"
devices dev dev
wait_state dev stopped 5 || fail dev.stopped "state '$(vm_state dev)'"
written | cmp -s -i 0:4096 -n 4096 - "$T/conf.raw" && pass dev.written ||
    fail dev.written "sectors 8-15 are not what the guest wrote"

# an instance with the user's disk and ISO, left running
console_start inst as start -t dev -d "$T/own.raw" -r "$T/own.iso" \
    -k "blk cdrom dhcp interactive" -c inst
if wait_for "$T/inst.tty" "guest>" 40; then
	tr -d '\r' <"$T/inst.tty" >"$T/inst"
	devices inst inst
	id=$(vmid inst)
	ip netns exec "$NS" busybox ping -c 1 -W 2 "100.64.$id.3" \
	    >/dev/null 2>&1 && pass inst.ping ||
	    fail inst.ping "no answer from 100.64.$id.3"
else
	fail inst.boot "$(tr -d '\r' <"$T/inst.tty" | tail -n 3) $(cat \
	    "$T/inst.err")"
fi

# refused REASON-NAME ARGS...: the user's start with ARGS fails with
# "Permission denied" and makes no VM
refused() {
	_n=$1; shift
	out=$(as start -t dev -k blk "$@" "r$_n" 2>&1) &&
	    fail "$_n" "started: $out"
	case $out in
	*"Permission denied"*) pass "$_n" ;;
	*) fail "$_n" "$out" ;;
	esac
	[ "$(vm_state "r$_n")" = "" ] && pass "$_n.no-vm" ||
	    fail "$_n.no-vm" "r$_n is $(vm_state "r$_n")"
}
refused secret-iso -r "$T/secret.iso"
refused secret-disk -d "$T/secret.raw"

# systemd's stop: SIGTERM to the daemon; everything of it goes
kids=$(descendants "$VMD_PID")
kill -TERM "$VMD_PID"
i=0
while kill -0 "$VMD_PID" 2>/dev/null && [ $i -lt 100 ]; do
	sleep 0.1; i=$((i + 1))
done
if kill -0 "$VMD_PID" 2>/dev/null; then
	fail stop "vmd still running 10 s after SIGTERM"
else
	pass stop
	left=
	for p in $kids; do
		kill -0 "$p" 2>/dev/null && left="$left $p"
	done
	[ -z "$left" ] && pass stop.children ||
	    fail stop.children "still running:$left"
	[ -z "$(nsip -br link | grep '^vm')" ] && pass stop.taps ||
	    fail stop.taps "$(nsip -br link | grep '^vm')"
	console_wait inst 5 && pass stop.console ||
	    fail stop.console "the user's console client still runs"
	VMD_PID=
fi
[ -z "$FAILED" ]
