# privdir.sh: vmd run from a directory only root may enter (a checkout in
# /root) starts VMs: vmm, already _vmd and sandboxed, executes vmd for
# each vm process from the descriptor the parent opened, not by path.
TESTNAME=privdir
. "$(dirname "$0")/lib.subr"
need_root
mkdir -m 0700 "$T/root"
cp "$VMD" "$T/root/vmd"
VMD=$T/root/vmd
cat >"$CONF" <<CONF
vm "p1" {
	memory 32M
	boot "$GUEST"
	cmdline "interactive"
}
CONF
start_vmd || { fail start "vmd did not come up"; exit 1; }
if wait_state p1 running 10; then
	pass vm-runs
else
	fail vm-runs "p1 is '$(vm_state p1)'; $(grep 'p1' "$T/vmd.log" | tail -n 2)"
fi
vmctl start -b "$GUEST" -m 32M -k interactive p2 >"$T/o" 2>&1 &&
    wait_state p2 running 10 && pass vmctl-start ||
    fail vmctl-start "$(cat "$T/o")"
[ -z "$FAILED" ]
