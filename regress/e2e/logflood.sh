# logflood.sh: a guest cannot flood vmd's log.  A 6-byte guest writes an
# unknown i8042 command in a loop, with vmd at -v, where each one is a
# debug line: at most 20 at once and 10 a second pass (log_limited, per
# vm process and so per VM), the rest is counted and reported, and
# another VM and root's vmctl are not disturbed.  A second one asks
# fw_cfg for DMA outside its RAM in a loop, limited the same way.
TESTNAME=logflood
. "$(dirname "$0")/lib.subr"
need_root
# mov $0xb0,%al; 1: out %al,$0x64; jmp 1b
python3 "$(dirname "$0")/mkelf.py" "$T/flood.elf" b0b0e664ebfc ||
    { fail mkelf "flood"; exit 1; }
# fw_cfg DMA at an address outside guest RAM, in a loop:
# mov $0x518,%dx; mov $-1,%eax; 1: out %eax,(%dx); jmp 1b
python3 "$(dirname "$0")/mkelf.py" "$T/dma.elf" 66ba1805b8ffffffffefebfd ||
    { fail mkelf "dma"; exit 1; }
cat >"$CONF" <<CONF
vm "good" {
	memory 32M
	boot "$GUEST"
	cmdline "interactive"
}
CONF
start_vmd || { fail start "vmd did not come up"; exit 1; }
wait_state good running 10 || fail good-started "$(vm_state good)"
vmctl start -b "$T/flood.elf" -m 16M flood >/dev/null 2>&1
wait_state flood running 5 || fail flood-started "$(vm_state flood)"
vmctl start -b "$T/dma.elf" -m 16M dma >/dev/null 2>&1
wait_state dma running 5 || fail dma-started "$(vm_state dma)"
t0=$(date +%s)
sleep 4
n=$(grep -c "vm flood: i8042: command 0xb0 ignored" "$T/vmd.log")
t1=$(date +%s)
# the burst, 10 a second for the time it ran, and a second of slack
max=$((20 + 10 * (t1 - t0 + 2)))
[ "$n" -ge 20 ] && [ "$n" -le "$max" ] && pass limited ||
    fail limited "$n lines in $((t1 - t0)) s (at most $max)"
n=$(grep -c "vm dma: fw_cfg: DMA request at 0x[0-9a-f]* outside guest RAM" \
    "$T/vmd.log")
[ "$n" -ge 20 ] && [ "$n" -le "$max" ] && pass limited-dma ||
    fail limited-dma "$n lines in $((t1 - t0)) s (at most $max)"
d=$(sed -n 's/.*vm flood: \([0-9]*\) log messages dropped (more than 10 a second).*/\1/p' \
    "$T/vmd.log" | head -n 1)
[ -n "$d" ] && [ "$d" -gt 100 ] && pass dropped-reported ||
    fail dropped-reported "no count of dropped lines ($d)"
[ "$(vm_state good)" = running ] && vmctl status good >/dev/null &&
    pass others-fine || fail others-fine "good: $(vm_state good)"
vmctl stop -f -w flood >/dev/null 2>&1
vmctl stop -f -w dma >/dev/null 2>&1
wait_state flood "" 5 2>/dev/null
sz=$(wc -c <"$T/vmd.log")
[ "$sz" -lt 200000 ] && pass log-small || fail log-small "$sz bytes of log"
[ -z "$FAILED" ]
