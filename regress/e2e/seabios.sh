# seabios.sh: Debian's SeaBIOS runs as a VM's firmware: given as the
# kernel (vmctl start -b bios.bin), and, as on OpenBSD, for every VM with
# no kernel at all (vm.conf's "vm x { memory 128M }", a new VM of vmctl
# start without -b).  It finds fw_cfg, takes the memory map, the ACPI
# tables and the serial console from it, prints its banner on COM1
# without a boot menu prompt and, with nothing to boot (whatever boot
# device vm.conf or vmctl -B chose), says "No bootable device" once and
# waits halted instead of rebooting.  Without the firmware file, such a
# start fails saying what is missing (vmd runs in a mount namespace where
# /usr/share/seabios is empty).
TESTNAME=seabios
. "$(dirname "$0")/lib.subr"
need_root
BIOS=/usr/share/seabios/bios.bin
[ -f "$BIOS" ] || { skip all "no $BIOS (Debian's seabios)"; exit 0; }
cat >"$CONF" <<CONF
vm "fw" {
	disable
	memory 128M
}
vm "fwcd" {
	disable
	memory 128M
	boot device cdrom
}
CONF
"$VMD" -n -f "$CONF" >"$T/n.out" 2>&1 && grep -qx "configuration OK" \
    "$T/n.out" && pass config || fail config "$(cat "$T/n.out")"
start_vmd || { fail start "vmd did not come up"; exit 1; }

# nobios NAME vmctl-start-args...: SeaBIOS banner, no menu prompt, one
# "No bootable device." without a retry, still running 3 s later
nobios() {
	n=$1; shift
	vmctl start "$@" -c "$n" </dev/null >"$T/$n.console" 2>"$T/$n.err" &
	EXTRA_PIDS="$EXTRA_PIDS $!"
	if wait_for "$T/$n.console" "No bootable device" 60; then
		pass "$n.nobootable"
	else
		fail "$n.nobootable" "$(tr -d '\r' <"$T/$n.console" | tail -5) $(cat "$T/$n.err")"
		return
	fi
	grep -q "SeaBIOS (version" "$T/$n.console" && pass "$n.banner" ||
	    fail "$n.banner" "no banner on COM1"
	grep -q "Press ESC" "$T/$n.console" && fail "$n.nomenu" \
	    "a boot menu prompt" || pass "$n.nomenu"
	sleep 3
	if grep -q "Retrying\|Rebooting" "$T/$n.console" ||
	    [ "$(grep -c "SeaBIOS (version" "$T/$n.console")" -ne 1 ]; then
		fail "$n.waits" "$(tr -d '\r' <"$T/$n.console" | tail -3)"
	elif [ "$(vm_state "$n")" != running ]; then
		fail "$n.waits" "state $(vm_state "$n")"
	else
		pass "$n.waits"
	fi
	vmctl stop -f "$n" >/dev/null 2>&1
	i=0
	while [ -n "$(vm_state "$n")" ] && [ "$(vm_state "$n")" != stopped ] &&
	    [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	[ -z "$(vm_state "$n")" ] || [ "$(vm_state "$n")" = stopped ] &&
	    pass "$n.stopped" || fail "$n.stopped" "state is $(vm_state "$n")"
}

nobios sb -b "$BIOS" -m 128M
nobios fw
nobios fwcd
nobios fwnet -B net -m 128M
grep -q "vm fwnet: boot device net: the firmware has no network boot" \
    "$T/vmd.log" && pass fwnet.logged || fail fwnet.logged "not in the log"
vmctl stop -a -f >/dev/null 2>&1

# without the firmware: a private /usr/share/seabios with nothing in it
kill "$VMD_PID"
wait "$VMD_PID" 2>/dev/null
rm -f "$SOCK"
mkdir "$T/empty"
unshare -m --propagation private sh -c 'mount --bind "$1" /usr/share/seabios &&
    exec "$2" -d -v -f "$3" -s "$4"' sh "$T/empty" "$VMD" "$CONF" "$SOCK" \
    >"$T/vmd2.log" 2>&1 &
VMD_PID=$!
i=0
while [ ! -S "$SOCK" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
vmctl start fw >"$T/o" 2>&1 && fail nofirmware "started" ||
    { grep -q "no kernel to boot, and the firmware $BIOS: No such file or directory" \
    "$T/o" && pass nofirmware || fail nofirmware "$(cat "$T/o")"; }
[ "$(vm_state fw)" = stopped ] && pass nofirmware-stopped ||
    fail nofirmware-stopped "state $(vm_state fw)"
[ -z "$FAILED" ]
