# linux_boot.sh: a real Linux kernel boots under vmd through both of its
# entry points, the bzImage's 64-bit boot protocol and the vmlinux PVH
# note, far enough to print its version, the command line vmd gave it,
# the e820 map and the ACPI tables it found (the RSDP where vmd put it).
# The VM is then stopped; reaching userland is make test-linux's job.
# The kernel comes from regress/linux's build cache (or the directory in
# VMD_LINUX_KERNEL_DIR holding bzImage and vmlinux); without one: SKIP.
TESTNAME=linux_boot
. "$(dirname "$0")/lib.subr"
need_root
KDIR=${VMD_LINUX_KERNEL_DIR:-/var/tmp/vmd-linux-cache/out/plain}
if [ ! -f "$KDIR/bzImage" ] && [ ! -f "$KDIR/vmlinux" ]; then
	skip all "no Linux kernel in $KDIR (regress/linux builds one)"
	exit 0
fi
# what this host's KVM needs (see DESIGN.md), and a marker to look for
QUIRKS="noxsave nosmap nosmep clearcpuid=cx16,popcnt,bmi1,bmi2,abm,movbe,rdrand,rdseed,fsgsbase,rdpid,avx,avx2,avx512f,fma,f16c,aes,pclmulqdq,sha_ni,sse4_1,sse4_2,ssse3,pni"
CMDLINE="console=ttyS0 earlyprintk=serial,ttyS0,115200 vmdtest=$$ $QUIRKS"
start_vmd || { fail start "vmd did not come up"; exit 1; }

# boot NAME IMAGE: up to the ACPI table lines, then stop it
boot() {
	t0=$(date +%s)
	vmctl start -b "$2" -m 256M -c -k "$CMDLINE" "$1" \
	    </dev/null >"$T/$1.console" 2>"$T/$1.err" &
	CPID=$!
	EXTRA_PIDS="$EXTRA_PIDS $CPID"
	if wait_for "$T/$1.console" "ACPI: APIC 0x" 180; then
		echo "note: $1: ACPI tables read after $(($(date +%s) - t0)) s"
	fi
	vmctl stop -f "$1" >/dev/null 2>&1
	wait_state "$1" stopped 10 >/dev/null 2>&1
	kill $CPID 2>/dev/null
	tr -d '\r' <"$T/$1.console" >"$T/$1.out"
	grep -q "Linux version 6" "$T/$1.out" && pass "$1.version" ||
	    fail "$1.version" "$(head -5 "$T/$1.out") $(cat "$T/$1.err")"
	grep -qF "Command line: $CMDLINE" "$T/$1.out" && pass "$1.cmdline" ||
	    fail "$1.cmdline" "$(grep "ommand line" "$T/$1.out")"
	grep -q "BIOS-e820: \[mem 0x0000000000100000-0x000000000fffffff\] usable" \
	    "$T/$1.out" && pass "$1.e820" || fail "$1.e820" \
	    "$(grep e820 "$T/$1.out")"
	grep -q "ACPI: RSDP 0x00000000000E0000 000024 (v02 VMD" "$T/$1.out" &&
	    grep -q "ACPI: APIC 0x" "$T/$1.out" && pass "$1.acpi" ||
	    fail "$1.acpi" "$(grep ACPI "$T/$1.out" | head -5)"
}

if [ -f "$KDIR/bzImage" ]; then boot bz "$KDIR/bzImage"; else
	skip bz "no bzImage in $KDIR"; fi
if [ -f "$KDIR/vmlinux" ]; then boot pvh "$KDIR/vmlinux"; else
	skip pvh "no vmlinux in $KDIR"; fi
[ -z "$FAILED" ]
