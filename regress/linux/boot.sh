#!/bin/sh
# boot.sh: boots a Linux kernel under a private vmd and times the
# milestones it reaches on the console.  Opt-in, not part of make test:
# minutes where KVM emulates guest kernel code.  By default vmd's test
# kernel (build-kernel.sh, cached) runs its initcalls up to the root
# mount, which fails (it has no root device).  With -u, the variant with
# the busybox initramfs (mkinitramfs.sh) built in goes on to /init; with
# -i, the plain kernel gets the same initramfs as an initrd (vm.conf's
# initrd).  Either then reaches a shell, runs a command, reads the
# virtio rng and powers off through ACPI (-b: through vmctl stop and the
# ACPI power button).  The VM is defined in a private vm.conf (boot,
# initrd, cmdline, memory) and started with vmctl start.  On hosts where
# vmd adds command-line options for Linux (see vmm(4)), they must be
# there.  Prints "PASS linux.NAME.<milestone> (<seconds> s)" per
# milestone, seconds from vmctl start; like the end-to-end tests it
# leaves nothing running.
#
#   boot.sh [-bdeinuxz] [-a args] [-c ncpus] [-k kernel] [-N name] [-S]
#           [-t seconds]
#
#   -a args     more kernel command-line options, after the others
#   -z          the bzImage instead of the vmlinux (PVH note)
#   -x          pci=nomsi: the virtio devices use INTx, which the kernel
#               must find through the DSDT's _PRT (level, IO-APIC)
#   -k kernel   boot this kernel (a vmlinux with a PVH note, or a
#               bzImage) with the initramfs as its initrd (implies -i)
#   -S          a milestone not reached is a SKIP, not a FAIL (for a
#               kernel this host is not expected to boot in the time)
#   -e          earlyprintk on COM1: the kernel's messages from its
#               start, not only once the serial driver is up
#   -c ncpus    vcpu NCPUS in vm.conf: the kernel must bring them all up
#   -d          a virtio-blk disk the test makes (a partition table and
#               an ext2 partition): the kernel finds both; with the
#               userland the ext2 is the root (root=/dev/vda1: the
#               initramfs's init mounts it read-write and switches to
#               it), and the shell mounts it once more and writes a file
#               the test finds in the image after poweroff
#   -n          a local interface and ip=dhcp: IP-Config reports the
#               address, gateway and host name of vmd's DHCP, and the
#               shell pings the gateway (the host)
#   -b          ends with vmctl stop without -f instead of poweroff -f:
#               vmd presses the ACPI power button (the guest has no
#               vmmci), the initramfs's acpid powers off; vmctl stop must
#               succeed and the VM end within vmd's stop timeout (120 s)
TESTNAME=linux
. "$(dirname "$0")/../e2e/lib.subr"
need_root

user=0 initrd=0 bz=0 intx=0 soft=0 early=0 ncpus=0 disk=0 net=0 kernel=
button=0
name= extra=
timeout=900
while getopts a:bc:deinuxzk:N:St: opt; do
	case $opt in
	a) extra=$OPTARG ;;
	b) button=1 ;;
	c) ncpus=$OPTARG ;;
	d) disk=1 ;;
	n) net=1 ;;
	e) early=1 ;;
	i) initrd=1 ;;
	u) user=1 ;;
	x) intx=1 ;;
	z) bz=1 ;;
	k) kernel=$OPTARG; initrd=1 ;;
	N) name=$OPTARG ;;
	S) soft=1 ;;
	t) timeout=$OPTARG ;;
	*) echo "usage: boot.sh [-bdeinuxz] [-a args] [-c ncpus] [-k kernel]" \
	    "[-N name] [-S] [-t seconds]" >&2; exit 2 ;;
	esac
done
[ -n "$name" ] && TESTNAME=linux.$name
# the power button needs the userland: the initramfs as initrd unless -u
[ $button -eq 1 ] && [ $user -eq 0 ] && initrd=1
CACHE=${VMD_LINUX_CACHE:-/var/tmp/vmd-linux-cache}
LINUX=$TOP/regress/linux

# a milestone missed: FAIL, or with -S a SKIP saying so
missed() {
	if [ $soft -eq 1 ]; then
		skip "$1" "not reached within $timeout s: $2"
	else
		fail "$1" "$2"
	fi
}

# -i: this checkout's initramfs, made in the test's directory (another
# checkout's boot may remake the cached one meanwhile); -u: the cached one
# build-kernel.sh builds in
initramfs=$T/busybox.cpio
[ $initrd -eq 0 ] && initramfs=$CACHE/initramfs/busybox.cpio
if [ $user -eq 1 ] || [ $initrd -eq 1 ]; then
	mkdir -p "$CACHE/initramfs"
	sh "$LINUX/mkinitramfs.sh" "$initramfs" ||
	    { fail initramfs "mkinitramfs.sh failed"; exit 1; }
fi
if [ -n "$kernel" ]; then
	[ -f "$kernel" ] || { fail kernel "no kernel $kernel"; exit 1; }
elif [ $user -eq 1 ] && [ $initrd -eq 0 ]; then
	out=$(sh "$LINUX/build-kernel.sh" -i "$initramfs") ||
	    { fail kernel "build-kernel.sh failed"; exit 1; }
else
	out=$(sh "$LINUX/build-kernel.sh") ||
	    { fail kernel "build-kernel.sh failed"; exit 1; }
fi
if [ -z "$kernel" ]; then
	kernel=$out/vmlinux
	[ $bz -eq 1 ] && kernel=$out/bzImage
fi
[ $initrd -eq 1 ] && user=1

cmdline="console=ttyS0"
[ $intx -eq 1 ] && cmdline="$cmdline pci=nomsi"
[ $early -eq 1 ] && cmdline="$cmdline earlyprintk=serial,ttyS0,115200"
[ $net -eq 1 ] && cmdline="$cmdline ip=dhcp"
[ -n "$extra" ] && cmdline="$cmdline $extra"
token=vmd-disk-$$-$(date +%s)
if [ $disk -eq 1 ]; then
	# With the userland the ext2 is the root: busybox, the links exec'd
	# by path (as mkinitramfs.sh) and init, which the initramfs's init
	# mounts read-write and switches to (root= on the command line)
	mkdir -p "$T/root"
	if [ $user -eq 1 ]; then
		for d in bin sbin usr/bin usr/sbin dev proc sys tmp run etc \
		    mnt; do
			mkdir -p "$T/root/$d"
		done
		cp "${BUSYBOX:-/bin/busybox}" "$T/root/bin/busybox" &&
		    cp "$LINUX/init" "$T/root/init" &&
		    touch "$T/root/etc/vmd-root" ||
		    { fail disk-image "cannot fill $T/root"; exit 1; }
		for p in bin/sh bin/ash bin/mount bin/umount usr/bin/setsid \
		    bin/cttyhack sbin/poweroff sbin/reboot sbin/halt; do
			ln -s /bin/busybox "$T/root/$p"
		done
		cmdline="$cmdline root=/dev/vda1"
	fi
	# 64 MB: an MBR with one Linux partition from 1 MB, ext2 in it
	dd if=/dev/zero of="$T/disk.img" bs=1M count=0 seek=64 2>/dev/null &&
	    echo 'start=2048, type=83' | sfdisk -q "$T/disk.img" >/dev/null &&
	    mke2fs -q -F -t ext2 -E offset=1048576 -d "$T/root" \
	    "$T/disk.img" 63M >/dev/null 2>&1 ||
	    { fail disk-image "cannot make $T/disk.img"; exit 1; }
fi
{
	echo 'vm "lx" {'
	echo '	disable'
	echo '	memory 256M'
	[ "$ncpus" -gt 0 ] && echo "	vcpu $ncpus"
	echo "	boot \"$kernel\""
	[ $initrd -eq 1 ] && echo "	initrd \"$initramfs\""
	echo "	cmdline \"$cmdline\""
	[ $disk -eq 1 ] && echo "	disk \"$T/disk.img\""
	[ $net -eq 1 ] && echo '	local interface'
	echo '}'
} >"$CONF"
start_vmd || { fail start "vmd did not come up"; exit 1; }
args=$(sed -n 's/.*Linux kernels vmd boots here get on their command line: //p' \
    "$T/vmd.log")
t0=$(date +%s)
vmctl start lx >"$T/start" 2>&1 || { fail start "$(cat "$T/start")"; exit 1; }
tty=$(sed -n 's|.*tty \(/dev/[^ ]*\).*|\1|p' "$T/start")
[ -c "$tty" ] || { fail start "no console tty in: $(cat "$T/start")"; exit 1; }

if [ $user -eq 1 ]; then
	set -- \
	    mark rtc 'rtc_cmos [^ ]*: setting system clock to' \
	    mark nogsi 'PCI INT [A-D]: no GSI' \
	    expect console 'Linux version'
	[ $initrd -eq 1 ] && set -- "$@" \
	    mark initrd-unpacked 'Freeing initrd memory'
	[ "$ncpus" -gt 0 ] && set -- "$@" \
	    mark cpus-up "smp: Brought up 1 node, $ncpus CPUs"
	[ $disk -eq 1 ] && set -- "$@" \
	    mark disk-found 'virtio_blk virtio[0-9]+: \[vda\]' \
	    mark partition-found ' vda: vda1' \
	    mark root-mounted-rw 'vmd-init: / is /dev/vda1 / ext2 rw[, ]'
	[ $net -eq 1 ] && set -- "$@" \
	    mark ip-config 'IP-Config: Complete'
	set -- "$@" \
	    expect run-init 'Run /init as init process' \
	    expect userland 'vmd-init: userland up' \
	    expect shell-prompt 'vmd-linux# ' \
	    send 'echo sum=$((6*7)) $(uname -r) $(ls /proc | wc -l) done\n' \
	    expect command 'sum=42 [0-9][^ ]* [0-9]+ done' \
	    expect prompt-again 'vmd-linux# ' \
	    send 'echo rng=$(cat /sys/class/misc/hw_random/rng_current):$(head -c 64 /dev/hwrng | wc -c)\n' \
	    expect rng-read 'rng=[^ ]*:[0-9]+'
	[ $intx -eq 1 ] && set -- "$@" \
	    send 'echo intx=$(grep -c "IO-APIC.*fasteoi.*virtio" /proc/interrupts)\n' \
	    expect intx-read 'intx=[0-9]+'
	[ $disk -eq 1 ] && set -- "$@" \
	    send "mkdir -p /tmp/m && mount -t ext2 -o rw /dev/vda1 /tmp/m && echo $token >/tmp/m/t && grep -q ' /tmp/m ext2 rw' /proc/mounts && umount /tmp/m && echo disk=\$((40+2))\\n" \
	    expect disk-written 'disk=[0-9]+|mount: '
	[ $net -eq 1 ] && set -- "$@" \
	    send 'g=$(ip route | sed -n "s/^default via \([0-9.]*\).*/\1/p"); ping -c 1 -W 10 $g >/dev/null && echo ping=$((1+1)) || echo ping=$((2+2))\n' \
	    expect ping-answer 'ping=(2|4)'
	if [ $button -eq 1 ]; then
		# vmctl stop, from the host, once acpid watches the button
		printf '%s\n' "out=\$(\"$VMCTL\" -s \"$SOCK\" stop lx 2>&1)" \
		    'echo "$out"' \
		    'case $out in *"requested to shutdown"*) exit 0 ;; esac' \
		    'exit 1' >"$T/stop.sh"
		set -- "$@" \
		    send 'pidof acpid >/dev/null && [ -c /dev/input/event0 ] && echo acpid=$((1+1)) || echo acpid=$((0))\n' \
		    expect acpid-up 'acpid=[0-9]+' \
		    run stop-requested "sh $T/stop.sh >$T/stop.out" \
		    expect power-button 'vmd-init: power button' \
		    expect poweroff 'reboot: (Power down|System halted)'
	else
		set -- "$@" \
		    send 'poweroff -f\n' \
		    expect poweroff 'reboot: (Power down|System halted)'
	fi
else
	set -- \
	    mark rtc 'rtc_cmos [^ ]*: setting system clock to' \
	    expect console 'Linux version' \
	    expect initcalls-done 'VFS: Cannot open root device' \
	    expect root-mount-panic 'Unable to mount root fs'
fi
python3 "$LINUX/console.py" "$tty" "$T/console" "$timeout" "$@" \
    >"$T/milestones" 2>&1
rc=$?
tr -d '\r' <"$T/console" >"$T/console.txt"
# vmd adds the options this host needs (the host-quirk layer) itself
if [ -n "$args" ]; then
	grep -qF "Command line: $cmdline $args" "$T/console.txt" &&
	    pass host-options || missed host-options "not on the command line"
	# and the kernel took every feature it was told to clear
	want=$(echo "$args" | sed -n 's/.*clearcpuid=\([^ ]*\).*/\1/p' |
	    tr ',' ' ')
	got=$(sed -n 's/.*Clearing CPUID bits://p' "$T/console.txt" | head -1)
	if [ -n "$want" ] && [ "$(echo $got)" = "$(echo $want)" ]; then
		pass clearcpuid
	elif [ -n "$want" ]; then
		missed clearcpuid "cleared: $got; asked: $want"
	fi
fi
while read -r what m secs; do
	[ "$what" = failed ] && fail "$m" "$secs"
	[ "$what" = milestone ] || continue
	case $m in
	acpid-up)
		grep -q '^acpid=2' "$T/console.txt" &&
		    pass "acpid-up ($secs s)" || fail acpid-up \
		    "no acpid or no /dev/input/event0" ;;
	nogsi)
		fail intx-routing "$(grep 'no GSI' "$T/console.txt" | head -1)" ;;
	rtc)
		# the clock the kernel set from the CMOS RTC is the host's
		e=$(sed -n 's/.*setting system clock to .*(\([0-9]*\)).*/\1/p' \
		    "$T/console.txt" | head -1)
		now=$(date +%s)
		if [ -n "$e" ] && [ "$e" -ge $((t0 - 5)) ] &&
		    [ "$e" -le $((now + 5)) ]; then
			pass "rtc ($secs s)"
		else
			fail rtc "$(grep 'setting system clock' "$T/console.txt")"
		fi ;;
	rng-read)
		grep -Eq '^rng=virtio_rng\.[0-9]+:64' "$T/console.txt" &&
		    pass "rng ($secs s)" || missed rng \
		    "$(grep -E '^rng=' "$T/console.txt" | head -1)" ;;
	disk-written)
		grep -q '^disk=42' "$T/console.txt" &&
		    pass "disk-mounted-rw ($secs s)" || fail disk-mounted-rw \
		    "$(grep -A3 'mount -t ext2' "$T/console.txt" | tail -3)" ;;
	ping-answer)
		grep -q '^ping=2' "$T/console.txt" &&
		    pass "ping-host ($secs s)" || fail ping-host \
		    "no answer from the gateway" ;;
	ip-config)
		# vmd's DHCP: an address of its local prefix, a gateway, and
		# the VM's name as host name
		c=$(sed -n '/IP-Config: Complete/,/bootserver/p' "$T/console.txt")
		if echo "$c" | grep -q 'ipaddr=100\.' &&
		    echo "$c" | grep -q 'gw=100\.' &&
		    echo "$c" | grep -q 'host=lx,'; then
			pass "ip-config ($secs s)"
		else
			fail ip-config "$(echo "$c" | tr '\n' ' ')"
		fi ;;
	intx-read)
		grep -Eq '^intx=[1-9]' "$T/console.txt" &&
		    grep -q 'PCI: Using ACPI for IRQ routing' "$T/console.txt" &&
		    pass "intx ($secs s)" || fail intx "$(grep -E \
		    'virtio|^intx=' "$T/console.txt" | head -5)" ;;
	*)
		pass "$m ($secs s)" ;;
	esac
done <"$T/milestones"
# vmctl stop answered: the VM must end by itself within vmd's timeout
if [ $button -eq 1 ] && grep -q '^milestone stop-requested' "$T/milestones"
then
	if wait_state lx stopped 120; then
		pass "vm-gone ($(($(date +%s) - t0)) s)"
	else
		fail vm-gone "still $(vm_state lx) 120 s after vmctl stop"
	fi
	grep -q 'shutdown: the guest acknowledged (power button)' \
	    "$T/vmd.log" && pass button-acknowledged ||
	    fail button-acknowledged "$(grep 'shutdown:' "$T/vmd.log")"
fi
# the file the guest wrote is in the image, once the VM is gone
if [ $disk -eq 1 ] && grep -q '^disk=42' "$T/console.txt"; then
	vmctl stop -f lx >/dev/null 2>&1
	wait_state lx stopped 10
	grep -aq "$token" "$T/disk.img" && pass disk-file-persisted ||
	    fail disk-file-persisted "$token is not in the image"
fi
if [ $user -eq 1 ] && ! grep -q "^milestone nogsi" "$T/milestones" &&
    grep -q "^milestone rng-read" "$T/milestones"; then
	pass intx-routing
fi
for m in $(sed -n 's/^missing //p' "$T/milestones"); do
	[ "$m" = nogsi ] || missed "$m" "not in the kernel's output"
done
if [ $rc -ne 0 ]; then
	missed milestones "$(grep -v '^milestone\|^missing' "$T/milestones")"
	echo "--- console (last lines) ---"
	tail -n 25 "$T/console.txt"
	echo "--- what vmd said of the VM ---"
	grep "vm lx" "$T/vmd.log" | tail -n 8
fi
[ -z "$FAILED" ]
