#!/bin/sh
# quirk_bench.sh: the cost of vmd's host-quirk layer (sys/dev/vmm/
# vmm_host.c), seen from the guest: the test guest's hostbench check
# (each completed instruction, 1 000 times, against a nop loop) and its
# user check (N system calls from CPL 3 with their round-trip time),
# under vmd and, for comparison, under QEMU (TCG; and KVM, which on a
# host that needs the layer stops at the first instruction it lacks).
# Measures only; run as root:  sh bench/quirk_bench.sh [calls]
TOP=$(cd "$(dirname "$0")/.." && pwd)
GUEST=$TOP/regress/guest/guest.elf
N=${1:-10000}
T=$(mktemp -d /tmp/quirk_bench.XXXXXX)
VMD_PID=
cleanup() {
	[ -n "$VMD_PID" ] && kill "$VMD_PID" 2>/dev/null
	sleep 0.5
	[ -n "$VMD_PID" ] && kill -9 "$VMD_PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

: >"$T/vm.conf"
"$TOP/usr.sbin/vmd/vmd" -d -f "$T/vm.conf" -s "$T/sock" >"$T/vmd.log" 2>&1 &
VMD_PID=$!
i=0
while [ ! -S "$T/sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
grep "host-quirk layer" "$T/vmd.log"
"$TOP/usr.sbin/vmctl/vmctl" -s "$T/sock" start -c -b "$GUEST" -m 32M \
    -k "hostbench user user=$N" qb </dev/null >"$T/vmd.out" 2>&1
echo "== vmd"
tr -d '\r' <"$T/vmd.out" | grep -E "bench|user"

run_qemu() {
	timeout 300 qemu-system-x86_64 -M pc -accel "$1" -m 32 -kernel "$GUEST" \
	    -append "hostbench user user=$N" -display none \
	    -serial file:"$T/qemu.$1" -monitor none -no-reboot >/dev/null 2>&1
	echo "== qemu -accel $1"
	tr -d '\r' <"$T/qemu.$1" | grep -E "bench|user|FAIL"
}
run_qemu tcg
run_qemu kvm
