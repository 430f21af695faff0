# quirks.sh: the host-quirk layer of vmm.  An int3 at CPL 0 must reach
# the guest as #BP (vmd completes it where KVM's emulator cannot); an
# instruction that cannot be emulated ends only that VM, with the vCPU's
# registers and instruction bytes in the log, and vmd and the other VMs
# run on; guest user mode makes its system calls (the guest's user
# check, under vmd and under QEMU's TCG as a referee).
TESTNAME=quirks
. "$(dirname "$0")/lib.subr"
need_root
cat >"$CONF" <<CONF
vm "other" {
	memory 32M
	boot "$GUEST"
	cmdline "interactive"
}
CONF
start_vmd || { fail start "vmd did not come up"; exit 1; }
wait_state other running 5 || fail other-started "$(vm_state other)"
vmctl start -c -b "$GUEST" -m 32M -k int3 q1 </dev/null >"$T/c1" 2>&1
tr -d '\r' <"$T/c1" | grep -q "^PASS int3" && pass int3 ||
    fail int3 "$(tr -d '\r' <"$T/c1" | tail -n 3)"
vmctl start -c -b "$GUEST" -m 32M -k popcnt q2 </dev/null >"$T/c2" 2>&1
if tr -d '\r' <"$T/c2" | grep -q "^PASS popcnt"; then
	skip emulation-failure "this host runs popcnt at CPL 0 natively"
else
	grep -q "vm q2: emulation failure; vcpu 0: rip 0x[0-9a-f]* .* insn f3 48 0f b8 c1" \
	    "$T/vmd.log" && pass emulation-failure-logged ||
	    fail emulation-failure-logged "$(grep 'q2' "$T/vmd.log" | tail -n 3)"
	wait_for "$T/vmd.log" "vmd: vm q2: emulation failure" 5 &&
	    pass emulation-failure-ended || fail emulation-failure-ended "not ended"
fi
# User mode: many system calls from CPL 3 (completed by vmd where KVM
# cannot finish them) and page faults, checked on both sides.
vmctl start -c -b "$GUEST" -m 32M -k "user" q3 </dev/null >"$T/c3" 2>&1
tr -d '\r' <"$T/c3" | grep -q "^PASS user" && pass user ||
    fail user "$(tr -d '\r' <"$T/c3" | tail -n 3)"
if [ -d /sys/module/kvm_pvm ]; then
	grep -q "host-quirk layer on: KVM is kvm_pvm" "$T/vmd.log" &&
	    pass layer-logged || fail layer-logged "no startup line"
else
	grep -q "host-quirk layer on" "$T/vmd.log" &&
	    pass layer-logged || skip layer-logged "not a kvm_pvm host"
fi
# The same check on QEMU's TCG, where syscall works: the check is right.
if command -v qemu-system-x86_64 >/dev/null 2>&1; then
	timeout 120 qemu-system-x86_64 -M pc -accel tcg -m 32 -kernel "$GUEST" \
	    -append user -display none -serial file:"$T/q3" -monitor none \
	    -no-reboot >/dev/null 2>&1
	tr -d '\r' <"$T/q3" | grep -q "^PASS user" && pass user-tcg ||
	    fail user-tcg "$(tr -d '\r' <"$T/q3" | tail -n 3)"
else
	skip user-tcg "no qemu-system-x86_64"
fi
[ "$(vm_state other)" = running ] && pass other-runs ||
    fail other-runs "$(vm_state other)"
kill -0 "$VMD_PID" && pass vmd-alive || fail vmd-alive "vmd died"
[ -z "$FAILED" ]
