# initrd.sh: an initrd reaches the guest.  The test guest checks the
# ramdisk its loader reported against the size and FNV-1a hash the test
# puts on its command line: through PVH (vm.conf's initrd, its first
# module) and through the bzImage boot protocol (vmctl start -I, the
# zero page).  vmd opens a user's initrd with that user's rights: an
# instance user who names an initrd only root can read is refused, and
# one it can read boots.  An initrd without a kernel is refused.
TESTNAME=initrd
. "$(dirname "$0")/lib.subr"
need_root
# the system's python: the test user may not reach root's own
PY=/usr/bin/python3
[ -x $PY ] || { skip all "no $PY"; exit 0; }
BZ=$TOP/regress/guest/bzguest.bin
IUSR=$(acct irdu) IGRP=$(acct irdg)
need_test_accounts "$IUSR" "$IGRP"
add_test_group $IGRP
add_test_user $IUSR $IGRP
share_with_users

# 20 KiB of random bytes, and the word the guest checks them against
head -c 20000 /dev/urandom >"$T/initrd.img"
chmod 0644 "$T/initrd.img"
word=$($PY -c '
import sys
h = 2166136261
for b in open(sys.argv[1], "rb").read():
    h = ((h ^ b) * 16777619) & 0xffffffff
print("initrd=%d:%d" % (20000, h))' "$T/initrd.img")
cp "$T/initrd.img" "$T/secret.img" && chmod 0600 "$T/secret.img"

cat >"$CONF" <<CONF
socket owner ":$IGRP"
vm "pvh" {
	disable
	memory 64M
	boot "$GUEST"
	initrd "$T/initrd.img"
	cmdline "console initrd $word"
}
vm "tmpl" {
	disable
	memory 64M
	boot "$GUEST"
	cmdline "console initrd $word"
	allow instance { boot, owner "$IUSR" }
}
vm "closed" {
	disable
	memory 64M
	boot "$GUEST"
	cmdline "console initrd $word"
	allow instance { memory, owner "$IUSR" }
}
CONF
"$VMD" -n -f "$CONF" >"$T/n.out" 2>&1 ||
    { fail config "$(cat "$T/n.out")"; exit 1; }
start_vmd || { fail start "vmd did not come up"; exit 1; }
as() { setpriv --reuid=$IUSR --regid=$IGRP --init-groups \
    "$UVMCTL" -s "$SOCK" "$@"; }

# boot NAME CMD...: runs vmctl start -c ... NAME, its console in $T/NAME
boot() {
	n=$1; shift
	console_run "$n" 30 "$@" -c "$n" ||
	    fail "$n.console" "still running after 30 s"
}

# check NAME HOW: a PASS initrd line naming HOW, no FAIL, ALL DONE
check() {
	if grep -q "^PASS initrd: 20000 bytes at .* through $2" "$T/$1" &&
	    ! grep -q "^FAIL" "$T/$1" && grep -q "^ALL DONE" "$T/$1"
	then
		pass "$1"
	else
		fail "$1" "$(grep -E '^(PASS|FAIL|ALL)' "$T/$1" | tr '\n' ' ')$(cat "$T/$1.err")"
	fi
}

boot pvh vmctl start
check pvh "the PVH start info"

boot bz vmctl start -b "$BZ" -m 64M -I "$T/initrd.img" -k "$word"
check bz "the zero page"

# without an initrd, the guest sees none and says so
boot none vmctl start -b "$GUEST" -m 64M -k "console initrd"
grep -q "^PASS initrd: none given, none reported" "$T/none" &&
    pass none || fail none "$(grep initrd "$T/none")"

# the user's own rights open the initrd: vmctl checks first, and vmd,
# asked directly (a start request laid out as vmd.h says), checks again
as start -t tmpl -I "$T/secret.img" u1 >"$T/o" 2>&1 &&
    fail user-secret "started with a file the user cannot read" ||
    { grep -q "cannot open initrd '$T/secret.img': Permission denied" \
    "$T/o" && pass user-secret || fail user-secret "$(cat "$T/o")"; }
# the request's layout as vmd.h has it today, from the compiler
cat >"$T/layout.c" <<'C'
#include <stddef.h>
#include <stdio.h>
#include "vmd.h"
int
main(void)
{
	printf("%zu %zu %zu %zu %zu %zu\n", sizeof(struct vmop_create_params),
	    offsetof(struct vmop_create_params, vmc_flags),
	    offsetof(struct vmop_create_params, vmc_instance),
	    offsetof(struct vmop_create_params, vmc_name),
	    offsetof(struct vmop_create_params, vmc_initrd),
	    offsetof(struct vmop_result, vmr_reason));
	return (0);
}
C
cc -I"$TOP/usr.sbin/vmd" -I"$TOP/lib/libutil" -o "$T/layout" "$T/layout.c" &&
    layout=$("$T/layout") || { fail layout "cannot compile $T/layout.c"; exit 1; }
cat >"$T/start.py" <<'PY'
import socket, struct, sys
size, flags, inst, name, initrd, reason = map(int, sys.argv[5].split())
body = bytearray(size)
struct.pack_into("<I", body, flags, 0x100)	# VMOP_CREATE_INITRD
for off, v in ((inst, sys.argv[2]), (name, sys.argv[3]),
    (initrd, sys.argv[4])):
    body[off:off + len(v)] = v.encode()
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.settimeout(30)
s.sendall(struct.pack("<IHHII", 1, 16 + len(body), 0, 0, 0) + bytes(body))
buf = b""
while len(buf) < 16 or len(buf) < struct.unpack_from("<IH", buf)[1]:
    b = s.recv(65536)
    if not b:
        break
    buf += b
print(struct.unpack_from("<i", buf, 16)[0],
    buf[16 + reason:].split(b"\0")[0].decode())
PY
chmod 0644 "$T/start.py"
setpriv --reuid=$IUSR --regid=$IGRP --init-groups "$PY" "$T/start.py" \
    "$SOCK" tmpl u1 "$T/secret.img" "$layout" >"$T/o" 2>&1
grep -q "^13 initrd $T/secret.img: Permission denied" "$T/o" &&
    pass vmd-user-rights || fail vmd-user-rights "$(cat "$T/o")"
[ -z "$(vm_state u1)" ] && pass user-secret-nothing ||
    fail user-secret-nothing "u1 exists"
as start -t closed -I "$T/initrd.img" u2 >"$T/o" 2>&1 &&
    fail user-closed "allowed without allow instance boot" ||
    { grep -q "no permission to set initrd" "$T/o" && pass user-closed ||
    fail user-closed "$(cat "$T/o")"; }
console_run u3 30 setpriv --reuid=$IUSR --regid=$IGRP --init-groups sh -c \
    "'$UVMCTL' -s '$SOCK' start -t tmpl -I '$T/initrd.img' -c u3"
check u3 "the PVH start info"

# an initrd without a kernel
vmctl start -m 64M -I "$T/initrd.img" nok >"$T/o" 2>&1 &&
    fail no-kernel "started" ||
    { grep -q "initrd given without a kernel to boot" "$T/o" &&
    pass no-kernel || fail no-kernel "$(cat "$T/o")"; }
[ -z "$FAILED" ]
