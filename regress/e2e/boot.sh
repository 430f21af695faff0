# boot.sh: the test guest boots under vmd, driven by vmctl start -c with
# the console on a pipe, passes every default check and powers off; the
# VM then shows as stopped.
TESTNAME=boot
. "$(dirname "$0")/lib.subr"
need_root
cat >"$CONF" <<CONF
vm "g1" {
	disable
	memory 64M
	boot "$GUEST"
}
CONF
start_vmd || { fail start "vmd did not come up"; exit 1; }

console_run out 30 vmctl start -c -k "hosttime=$(date +%s)" g1 ||
	fail console "vmctl console still running after 30 s"
grep -q "^vmctl: started vm 1 successfully, tty /dev/pts/[0-9]*$" \
    "$T/out.err" && pass start || fail start "$(cat "$T/out.err")"
for c in console timer rtc pci; do
	if grep -q "^PASS $c" "$T/out"; then
		pass "guest.$c"
	else
		fail "guest.$c" "$(grep " $c" "$T/out" || echo no result line)"
	fi
done
grep -q "^FAIL" "$T/out" && fail guest.nofail "$(grep '^FAIL' "$T/out")"
grep -q "^ALL DONE" "$T/out" && pass alldone || fail alldone "no ALL DONE"
wait_state g1 stopped 5 && pass poweroff-stopped ||
    fail poweroff-stopped "state is '$(vm_state g1)'"
grep -q "powered off" "$T/vmd.log" && pass poweroff-logged ||
    fail poweroff-logged "vmd did not log the poweroff"
[ -z "$FAILED" ]
