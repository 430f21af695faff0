# smp.sh: several vCPUs.  The test guest's smp check finds the CPUs in
# the MADT and starts each application processor with INIT and SIPI;
# every one must report in, with 2 vCPUs from vm.conf and 4 from vmctl
# start -p, and again after a guest reboot.  vmctl status shows the count,
# pause stops every vCPU and unpause starts them all, and counts out of
# range are refused with a clear message.
TESTNAME=smp
. "$(dirname "$0")/lib.subr"
need_root
cat >"$CONF" <<CONF
vm "s2" {
	disable
	memory 32M
	vcpu 2
	boot "$GUEST"
	cmdline "smp"
}
vm "s4" {
	disable
	memory 32M
	boot "$GUEST"
	cmdline "smp interactive"
}
vm "sr" {
	disable
	memory 32M
	vcpu 2
	boot "$GUEST"
	cmdline "reboot smp"
}
CONF
start_vmd || { fail start "vmd did not come up"; exit 1; }

# vmctl start -c NAME [options]: the console until the guest powers off,
# in $T/NAME.out
run_console() {
	_name=$1; shift
	console_run "$_name.out" 60 vmctl start -c "$@" "$_name" || {
		kill $CPID 2>/dev/null
		wait $CPID 2>/dev/null
	}
}

# vcpus NAME: the VCPUS column of vmctl status
vcpus() {
	vmctl status 2>/dev/null | awk -v n="$1" '$NF == n { print $3 }'
}

[ "$(vcpus s2)" = 2 ] && pass status-conf || fail status-conf "$(vcpus s2)"

# 1. two vCPUs from vm.conf
run_console s2
grep -q "^PASS smp: 2 of 2 CPUs up, apic ids 0 1$" "$T/s2.out" &&
    pass two || fail two "$(grep smp "$T/s2.out" | tail -n 3)"
[ "$(grep -c "^smp: cpu apic id [0-9]* up" "$T/s2.out")" = 1 ] &&
    pass two-reported || fail two-reported "$(grep smp "$T/s2.out")"
wait_state s2 stopped 5 || fail two-stopped "$(vm_state s2)"

# 2. four from vmctl start -p, interactive: status, pause, unpause
mkfifo "$T/in"
vmctl start -c -p 4 s4 <"$T/in" >"$T/s4.raw" 2>"$T/s4.err" &
CPID=$!
EXTRA_PIDS=$CPID
exec 3>"$T/in"
wait_for "$T/s4.raw" "guest>" 30 || fail prompt "no prompt"
tr -d '\r' <"$T/s4.raw" >"$T/s4.out"
grep -q "^PASS smp: 4 of 4 CPUs up, apic ids 0 1 2 3$" "$T/s4.out" &&
    pass four || fail four "$(grep smp "$T/s4.out" | tail -n 3)"
[ "$(vcpus s4)" = 4 ] && pass status-start || fail status-start "$(vcpus s4)"
pid=$(vm_pid s4)
[ "$(ls /proc/"$pid"/task | wc -l)" -ge 5 ] && pass threads ||
    fail threads "$(ls /proc/"$pid"/task | wc -l) threads"
vmctl pause s4 2>"$T/err" && pass pause || fail pause "$(cat "$T/err")"
paused_frozen "$pid" "$T/s4.raw"
vmctl unpause s4 2>"$T/err" && pass unpause || fail unpause "$(cat "$T/err")"
wait_for "$T/s4.raw" "commands:" 10 && pass resumes ||
    fail resumes "no answer after unpause"
vmctl stop -f s4 2>"$T/err" || fail stop "$(cat "$T/err")"
wait_state s4 stopped 10 && pass stop || fail stop "state $(vm_state s4)"
kill -0 "$pid" 2>/dev/null && fail reaped "vm process $pid still there" ||
    pass reaped
exec 3>&-
[ "$(vcpus s4)" = 1 ] && pass status-after || fail status-after "$(vcpus s4)"

# 3. a guest reboot starts again with every vCPU, the APs waiting for SIPI
run_console sr
grep -q "^PASS reboot" "$T/sr.out" && pass reboot ||
    fail reboot "$(tail -n 5 "$T/sr.out")"
grep -q "^PASS smp: 2 of 2 CPUs up" "$T/sr.out" && pass reboot-smp ||
    fail reboot-smp "$(grep smp "$T/sr.out" | tail -n 3)"

# 4. counts out of range
vmctl start -p 0 s2 >"$T/o" 2>&1 && fail start-zero "accepted" ||
    { grep -q "invalid vcpu count: 0 (1 to 64)" "$T/o" && pass start-zero ||
    fail start-zero "$(cat "$T/o")"; }
vmctl start -p 65 s2 >"$T/o" 2>&1 && fail start-many "accepted" ||
    { grep -q "invalid vcpu count: 65 (1 to 64)" "$T/o" && pass start-many ||
    fail start-many "$(cat "$T/o")"; }
printf 'vm "x" {\n\tvcpu 0\n}\nvm "y" {\n\tvcpu 65\n}\n' >"$T/bad.conf"
"$VMD" -n -f "$T/bad.conf" >"$T/o" 2>&1 && fail conf "accepted" || {
	grep -q "vcpu 0: the count must be 1 to 64" "$T/o" &&
	grep -q "vcpu 65: the count must be 1 to 64" "$T/o" && pass conf ||
	fail conf "$(cat "$T/o")"; }
[ -z "$FAILED" ]
