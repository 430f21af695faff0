# badkernel.sh: a missing kernel and a file that is not a kernel are
# refused with a clear message; vmd stays up and keeps serving.  A VM
# without boot, disk or cdrom is a valid configuration (vmd -n says so,
# as OpenBSD's does) and boots the firmware (seabios.sh checks more).
TESTNAME=badkernel
. "$(dirname "$0")/lib.subr"
need_root
cp "$GUEST" "$T/gone.elf"
cat >"$CONF" <<CONF
vm "gone" {
	disable
	boot "$T/gone.elf"
}
vm "noboot" {
	memory 32M
}
CONF
"$VMD" -n -f "$CONF" >"$T/n.out" 2>&1 &&
    [ "$(cat "$T/n.out")" = "configuration OK" ] && pass noboot-config ||
    fail noboot-config "$(cat "$T/n.out")"
start_vmd || { fail start "vmd did not come up"; exit 1; }
# enabled, so vmd started it at startup, with the firmware
if [ -f /usr/share/seabios/bios.bin ]; then
	wait_state noboot running 10 && pass noboot-firmware ||
	    fail noboot-firmware "$(grep noboot "$T/vmd.log")"
	vmctl stop -f noboot >/dev/null 2>&1
else
	skip noboot-firmware "no /usr/share/seabios/bios.bin"
fi
vmctl start -b "$T/nonexistent" -m 32M b1 2>"$T/err1"; rc=$?
# vmctl resolves the path itself, as OpenBSD's does
[ $rc -ne 0 ] && grep -q "^vmctl: invalid boot image path: No such file" \
    "$T/err1" && pass missing || fail missing "rc $rc: $(cat "$T/err1")"
# a configured kernel that went away after vmd read its config
rm -f "$T/gone.elf"
vmctl start gone 2>"$T/err0"; rc=$?
[ $rc -ne 0 ] && grep -q "^vmctl: start vm command failed: .*gone.elf.*No such file" \
    "$T/err0" && pass vanished || fail vanished "rc $rc: $(cat "$T/err0")"
head -c 70000 /dev/urandom >"$T/junk"
vmctl start -b "$T/junk" -m 32M b2 2>"$T/err2"; rc=$?
[ $rc -ne 0 ] && grep -q "^vmctl: start vm command failed: .*neither an ELF kernel" \
    "$T/err2" && pass notelf || fail notelf "rc $rc: $(cat "$T/err2")"
vmctl start -b "$T" -m 32M b3 2>"$T/err3"; rc=$?
[ $rc -ne 0 ] && [ "$(cat "$T/err3")" = "vmctl: kernel must be a regular file" ] &&
    pass directory || fail directory "rc $rc: $(cat "$T/err3")"
vmctl start -b "$GUEST" -m 64K b4 2>"$T/err4"; rc=$?
[ $rc -ne 0 ] && pass tinymem || fail tinymem "rc $rc: $(cat "$T/err4")"
kill -0 "$VMD_PID" && vmctl status >/dev/null && pass vmd-alive ||
    fail vmd-alive "vmd died"
vmctl start -b "$GUEST" -m 32M -k interactive b5 2>"$T/err5" &&
    pass still-starts || fail still-starts "$(cat "$T/err5")"
[ -z "$FAILED" ]
