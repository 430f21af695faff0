#!/bin/sh
# test-linux.sh: make test-linux, the opt-in acceptance of real Linux
# kernels under vmd (minutes; not part of make test).  It builds (or
# takes from the cache) vmd's Linux 6.1 test kernel and the busybox
# initramfs, then boots the kernel with the initramfs as vm.conf's
# initrd through its PVH note, and its bzImage through the 64-bit boot
# protocol with pci=nomsi (virtio on INTx, routed by the DSDT's _PRT),
# each with 2 vCPUs (both up), a disk (its partition found, ext2 mounted
# rw, a file written and found in the image), a local interface
# (IP-Config from vmd's DHCP, a ping of the host), the virtio rng, the
# RTC, to a shell and an ACPI poweroff (poweroff -f), with the time of
# each milestone (boot.sh).  A third boot (PVH, 2 vCPUs) ends with
# vmctl stop without -f: the ACPI power button, the initramfs's acpid.
# Last, Debian's stock kernel
# (linux-image-amd64's image package, downloaded with apt-get download
# and unpacked with dpkg-deb -x, never installed) boots through PVH with
# the same initrd for VMD_STOCK_TIMEOUT seconds (default 2400): the
# milestones it reaches pass, the others are SKIPs.  Prints the PASS,
# FAIL and SKIP lines as they come and closes with
# "N passed, N failed, N skipped".
cd "$(dirname "$0")/../.." || exit 1
TOP=$(pwd)
LINUX=$TOP/regress/linux
CACHE=${VMD_LINUX_CACHE:-/var/tmp/vmd-linux-cache}
STOCK_TIMEOUT=${VMD_STOCK_TIMEOUT:-2400}
VMD=$TOP/usr.sbin/vmd/vmd
GUEST=$TOP/regress/guest/guest.elf
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
pass=0 fail=0 skip=0

# part CMD...: runs it, shows its lines as they come, and counts them
part() {
	{ "$@" </dev/null 2>&1; echo $? >"$tmp/rc"; } | tee "$tmp/out"
	p=$(grep -c '^PASS ' "$tmp/out") f=$(grep -c '^FAIL ' "$tmp/out")
	s=$(grep -c '^SKIP ' "$tmp/out")
	if [ "$(cat "$tmp/rc")" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL $*: exited with status $(cat "$tmp/rc")"
		f=1
	fi
	pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
}

say() { echo "$@" | tee "$tmp/out"; }

# Debian's stock kernel, unpacked once in the cache: prints the path of
# its vmlinux (extracted from the vmlinuz, which has the PVH note)
stock_kernel() {
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
	    sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -1)
	[ -n "$pkg" ] || { echo "no linux-image-amd64 in apt's lists" >&2;
	    return 1; }
	d=$CACHE/stock/$pkg
	if [ ! -s "$d/vmlinux" ]; then
		rm -rf "$d" && mkdir -p "$d" || return 1
		(cd "$d" && apt-get download -q "$pkg" >&2) || return 1
		dpkg-deb -x "$d/${pkg}_"*.deb "$d/root" || return 1
		x=$CACHE/src/linux-source-6.1/scripts/extract-vmlinux
		[ -f "$x" ] || { echo "no $x (build-kernel.sh unpacks it)" >&2;
		    return 1; }
		sh "$x" "$d/root/boot/vmlinuz-${pkg#linux-image-}" \
		    >"$d/vmlinux.tmp" || return 1
		mv "$d/vmlinux.tmp" "$d/vmlinux"
		rm -rf "$d/${pkg}_"*.deb "$d/root"
	fi
	echo "$d/vmlinux"
}

part sh "$LINUX/boot.sh" -i -c 2 -d -n -N pvh
part sh "$LINUX/boot.sh" -i -z -x -c 2 -d -n -N bzimage
part sh "$LINUX/boot.sh" -b -c 2 -N button
# the bzImage through SeaBIOS and syslinux: disk, CD-ROM, ISO to disk
part sh "$LINUX/bios.sh" disk
part sh "$LINUX/bios.sh" cdrom
part sh "$LINUX/bios.sh" install
# Debian's kernel with what a user of a host that emulates kernel code
# would add (regress/linux/README): no crypto self tests (run at
# late_initcall, they ran for more than 10 minutes in bignum arithmetic)
# and no kallsyms lookup per traced function
# (ftrace_check_for_weak_functions holds the only CPU for minutes).  A
# milestone not reached in the time is a SKIP that says why.
STOCK_ARGS="cryptomgr.notests initcall_blacklist=ftrace_check_for_weak_functions"
stock_boot() {
	{ sh "$LINUX/boot.sh" -k "$1" -e -S -a "$STOCK_ARGS" \
	    -t "$STOCK_TIMEOUT" -N stock; echo $? >"$tmp/stock.rc"; } |
	    sed -u "/^SKIP linux\.stock\./s|\$|; Debian's kernel runs emulated here, about 2M instructions/s, and has virtio_rng as a module (regress/linux/README)|"
	return "$(cat "$tmp/stock.rc")"
}
if k=$(stock_kernel 2>"$tmp/stock.err"); then
	part stock_boot "$k"
else
	say "FAIL linux.stock: cannot get Debian's kernel: $(tail -1 "$tmp/stock.err")"
	fail=$((fail + 1))
fi
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
