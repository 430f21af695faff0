# bootproto.sh: the test guest's boot-protocol variants boot under vmd,
# started with vmctl start -b: as a Linux bzImage (64-bit boot protocol:
# entry state, zero page, e820, command line, ACPI tables) and as an
# OpenBSD kernel (vmd's boot arguments, the boot loader's stack, entry
# state, page tables, the copied symbol table, random data).  Each passes
# its checks and the usual ones and powers off through ACPI.
TESTNAME=bootproto
. "$(dirname "$0")/lib.subr"
need_root
BZ=$TOP/regress/guest/bzguest.bin
OB=$TOP/regress/guest/obsdguest.elf
start_vmd || { fail start "vmd did not come up"; exit 1; }

# run_variant NAME IMAGE CMDLINE: boots it, its console in $T/NAME
run_variant() {
	console_run "$1" 30 vmctl start -b "$2" -m 64M -c -k "$3" "$1" ||
	    fail "$1.console" "still running after 30 s"
}

# expect NAME CHECK...: a PASS line for each, no FAIL, ALL DONE
expect() {
	n=$1; shift
	for c in "$@"; do
		grep -q "^PASS $c" "$T/$n" && pass "$n.$c" ||
		    fail "$n.$c" "$(grep " $c" "$T/$n" || echo no result line)"
	done
	grep -q "^FAIL" "$T/$n" && fail "$n.nofail" "$(grep '^FAIL' "$T/$n")"
	grep -q "^ALL DONE" "$T/$n" && pass "$n.alldone" ||
	    fail "$n.alldone" "no ALL DONE: $(tail -3 "$T/$n") $(cat "$T/$n.err")"
}

run_variant bz "$BZ" "bz hello=world"
# where vmd adds options for Linux kernels (vmm(4), host quirks), after ours
opts=$(sed -n 's/.*Linux kernels vmd boots here get on their command line: //p' \
    "$T/vmd.log")
grep -qxF "guest: vmd test guest (bzImage), cmdline: bz hello=world${opts:+ $opts}" \
    "$T/bz" && pass bz.cmdline || fail bz.cmdline "$(head -3 "$T/bz")"
expect bz bzparams bzentry acpi console timer rtc pci

run_variant ob "$OB" ""
expect ob obsd.entry obsd.bootargs obsd.stack obsd.symbols obsd.random \
    console timer rtc pci

wait_for "$T/vmd.log" "vm ob: powered off" 5 && pass poweroff ||
    fail poweroff "vmd did not log the poweroff"
[ -z "$FAILED" ]
