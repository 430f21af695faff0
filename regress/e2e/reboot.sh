# reboot.sh: a guest reset through the i8042 restarts the VM in the same
# process, same pty: the guest sees its CMOS marker after the reboot.
TESTNAME=reboot
. "$(dirname "$0")/lib.subr"
need_root
cat >"$CONF" <<CONF
vm "r1" {
	disable
	memory 32M
	boot "$GUEST"
	cmdline "reboot console"
}
CONF
start_vmd || { fail start "vmd did not come up"; exit 1; }
console_run out 30 vmctl start -c r1
grep -q "^reboot: resetting" "$T/out" && pass reset-requested ||
    fail reset-requested "guest did not ask for a reset"
grep -q "^PASS reboot" "$T/out" && pass came-back ||
    fail came-back "$(tail -n 5 "$T/out")"
[ "$(grep -c "vmd test guest" "$T/out")" -eq 2 ] && pass booted-twice ||
    fail booted-twice "banner count $(grep -c "vmd test guest" "$T/out")"
grep -q "rebooting" "$T/vmd.log" && pass logged || fail logged "no reboot log"
wait_state r1 stopped 5 && pass stopped || fail stopped "$(vm_state r1)"
[ -z "$FAILED" ]
