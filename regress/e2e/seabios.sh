# seabios.sh: Debian's SeaBIOS runs as a VM's firmware (vmctl start -b
# bios.bin): it finds fw_cfg, takes the memory map, the ACPI tables and
# the serial console from it, prints its banner on COM1 and, with no
# disk, says "No bootable device"; the VM is then stopped.
TESTNAME=seabios
. "$(dirname "$0")/lib.subr"
need_root
BIOS=/usr/share/seabios/bios.bin
[ -f "$BIOS" ] || { skip all "no $BIOS (Debian's seabios)"; exit 0; }
start_vmd || { fail start "vmd did not come up"; exit 1; }
vmctl start -b "$BIOS" -m 128M -c sb </dev/null >"$T/console" \
    2>"$T/err" &
EXTRA_PIDS=$!
wait_for "$T/console" "No bootable device" 30 &&
    pass nobootable || fail nobootable "$(tr -d '\r' <"$T/console" |
    tail -5) $(cat "$T/err")"
grep -q "SeaBIOS (version" "$T/console" && pass banner ||
    fail banner "no banner on COM1"
vmctl stop -f sb >/dev/null 2>&1
# a VM started with -b only is gone from the list once stopped
i=0
while [ -n "$(vm_state sb)" ] && [ "$(vm_state sb)" != stopped ] &&
    [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -z "$(vm_state sb)" ] || [ "$(vm_state sb)" = stopped ] && pass stopped ||
    fail stopped "state is $(vm_state sb)"
[ -z "$FAILED" ]
