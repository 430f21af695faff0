# badguest.sh: guests that misbehave on purpose.  One that triple-faults
# at once is reset, again and again, until vmd calls it a reboot loop and
# ends it; one that spins with interrupts off is stopped with stop -f.
# vmd and the other VMs stay up.
TESTNAME=badguest
. "$(dirname "$0")/lib.subr"
need_root
python3 "$(dirname "$0")/mkelf.py" "$T/ud2.elf" 0f0b || fail mkelf "ud2"
python3 "$(dirname "$0")/mkelf.py" "$T/spin.elf" faebfe || fail mkelf "spin"
cat >"$CONF" <<CONF
vm "good" {
	memory 32M
	boot "$GUEST"
	cmdline "interactive"
}
vm "loop" {
	disable
	memory 16M
	boot "$T/ud2.elf"
}
CONF
start_vmd || { fail start "vmd did not come up"; exit 1; }
wait_state good running 5 || fail good-started "$(vm_state good)"
vmctl start loop 2>/dev/null
wait_for "$T/vmd.log" "vmd: vm loop: reboot loop" 20 && pass reboot-loop-ended ||
    fail reboot-loop-ended "$(grep 'loop' "$T/vmd.log" | tail -n 3)"
wait_state loop stopped 5 && pass loop-stopped || fail loop-stopped "$(vm_state loop)"
vmctl start -b "$T/spin.elf" -m 16M spin 2>/dev/null
wait_state spin running 5 && pass spin-running || fail spin-running "$(vm_state spin)"
vmctl stop -f spin 2>/dev/null
i=0
while [ -n "$(vm_state spin)" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
[ -z "$(vm_state spin)" ] && pass spin-stopped || fail spin-stopped "$(vm_state spin)"
[ "$(vm_state good)" = running ] && pass good-runs || fail good-runs "$(vm_state good)"
kill -0 "$VMD_PID" && pass vmd-alive || fail vmd-alive "vmd died"
[ -z "$FAILED" ]
