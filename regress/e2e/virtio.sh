# virtio.sh: the virtio devices every VM has, seen by the test guest: the
# entropy device (1af4:1044, virtio-rng) answers on the PCI bus; when the
# guest has a virtio driver, its `rng` check gets non-repeating bytes
# through the queue, once over MSI-X (doorbell by ioeventfd, interrupt
# by irqfd) and once over INTx, and its `rngreset` check offers a
# malformed chain, which must set DEVICE_NEEDS_RESET with a configuration
# interrupt, leave one log line naming the VM, the device and the reason,
# and let the guest reset the device and use it again.  Without a guest
# driver the rng parts are skipped.
TESTNAME=virtio
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

# boot NAME ARGS: run the guest with ARGS, its console in $T/NAME
boot() {
	console_run "$1" 30 vmctl start -c -k "$2" g1 ||
	    fail "$1.console" "still running after 30 s"
	wait_state g1 stopped 5 || fail "$1.stopped" "state '$(vm_state g1)'"
}

# result NAME CHECK WANT: the guest's line for CHECK passed and says WANT
result() {
	if grep -q "^PASS $2.*$3" "$T/$1"; then
		pass "$1.$2"
	elif grep -q "^FAIL $2\|^SKIP $2\|^PASS $2" "$T/$1"; then
		fail "$1.$2" "$(grep " $2" "$T/$1")"
	else
		skip "$1.$2" "the test guest has no $2 check yet"
	fi
}

boot msix "pci rng rngreset"
grep -q "^PASS pci:.* 1af4:1044" "$T/msix" && pass viornd-on-bus ||
    fail viornd-on-bus "$(grep " pci" "$T/msix" || echo no pci line)"
result msix rng "(msix)"
result msix rngreset "DEVICE_NEEDS_RESET"
grep -q "^FAIL" "$T/msix" && fail msix.nofail "$(grep '^FAIL' "$T/msix")"
grep -q "^ALL DONE" "$T/msix" && pass msix.alldone ||
    fail msix.alldone "no ALL DONE"
# only the malformed chain may be logged, once, with VM, device and reason
LINE="vm g1: viornd (pci slot [0-9]*): queue 0: .*out of range"
LINE="$LINE.*device needs reset"
if grep -q "^PASS rngreset" "$T/msix"; then
	n=$(grep -c "$LINE" "$T/vmd.log")
	[ "$n" -eq 1 ] && pass msix.logged ||
	    fail msix.logged "$n lines: $(grep viornd "$T/vmd.log" | head -3)"
fi
cp "$T/vmd.log" "$T/vmd.log.msix"

boot intx "intx rng"
result intx rng "(intx irq"
grep -q "^FAIL" "$T/intx" && fail intx.nofail "$(grep '^FAIL' "$T/intx")"
grep -q "^ALL DONE" "$T/intx" && pass intx.alldone ||
    fail intx.alldone "no ALL DONE"
a=$(grep -c viornd "$T/vmd.log")
b=$(grep -c viornd "$T/vmd.log.msix")
[ "$a" -eq "$b" ] && pass intx.quiet-log ||
    fail intx.quiet-log "$(grep viornd "$T/vmd.log" | tail -2)"
[ -z "$FAILED" ]
