# vioblk_user.sh: disks a user names are opened with the user's rights.
# A user may give disks only to an instance of a template that allows
# it (allow instance { disk }): with a disk of the user's own the guest's
# blk check passes; a disk only root may read or write is refused, and
# so is a qcow2 overlay of the user's whose backing file only root may
# read (a backing file named inside an image is opened with the same
# rights as the image).  vmctl start -d for a vm.conf VM is root's only.
TESTNAME=vioblk_user
. "$(dirname "$0")/lib.subr"
need_root
UUSR=$(acct vbku) UGRP=$(acct vbkg)
need_test_accounts "$UUSR" "$UGRP"
add_test_group $UGRP
add_test_user $UUSR $UGRP
share_with_users
HAVE_QEMU_IMG=0
command -v qemu-img >/dev/null 2>&1 && HAVE_QEMU_IMG=1

mkraw "$T/own.raw"
chown "$UUSR:$UGRP" "$T/own.raw"
mkraw "$T/secret.raw"
chmod 0600 "$T/secret.raw"

cat >"$CONF" <<CONF
socket owner ":$UGRP"
vm "tmpl" {
	disable
	memory 64M
	boot "$GUEST"
	owner "$UUSR"
	allow instance { disk, cmdline, owner "$UUSR" }
}
CONF
start_vmd || { fail start "vmd did not come up"; exit 1; }
as() { setpriv --reuid=$UUSR --regid=$UGRP --init-groups \
    "$UVMCTL" -s "$SOCK" "$@"; }

# the user's own disk: the guest reads and writes it
console_run u1 30 as start -t tmpl -c -k blk -d "$T/own.raw" u1
grep -q "^PASS blk: " "$T/u1" && pass own-disk ||
    fail own-disk "$(grep -E 'blk|failed' "$T/u1" "$T/u1.err" | head -3 |
    tr '\n' ' ')"

# a disk only root may use
out=$(as start -t tmpl -k blk -d "$T/secret.raw" u2 2>&1) &&
    fail secret-disk "started: $out"
case $out in
*"Permission denied"*) pass secret-disk ;;
*) fail secret-disk "$out" ;;
esac
[ "$(vm_state u2)" = "" ] && pass secret-disk-no-vm ||
    fail secret-disk-no-vm "u2 is $(vm_state u2)"

# the user's overlay over a base only root may read
if [ $HAVE_QEMU_IMG = 1 ]; then
	qemu-img convert -q -f raw -O qcow2 "$T/secret.raw" "$T/base.qcow2"
	chmod 0600 "$T/base.qcow2"
	qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 -u \
	    "$T/over.qcow2" 16M
	chown "$UUSR:$UGRP" "$T/over.qcow2"
	out=$(as start -t tmpl -k blk -d "$T/over.qcow2" u3 2>&1) &&
	    fail secret-base "started: $out"
	case $out in
	*"base.qcow2"*"Permission denied"*) pass secret-base ;;
	*) fail secret-base "$out" ;;
	esac
else
	skip secret-base "no qemu-img"
fi

# -d on a vm.conf VM is root's
out=$(as start -k blk -d "$T/own.raw" tmpl 2>&1) &&
    fail conf-vm-disk "started: $out"
case $out in
*"permission denied"*) pass conf-vm-disk ;;
*) fail conf-vm-disk "$out" ;;
esac
[ -z "$FAILED" ]
