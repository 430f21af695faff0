#!/bin/sh
# bios.sh: boots vmd's Linux test kernel through SeaBIOS, the firmware
# of a VM with no boot kernel, and a bootloader from Debian's syslinux
# packages, and times the milestones on the console.  Opt-in, not part
# of make test: minutes where KVM emulates guest kernel code (the real
# mode bootloader and the bzImage's self-decompression are emulated too).
#
#   bios.sh [-N name] [-t seconds] disk|cdrom|install
#
#   disk     a disk image mkdisk.sh builds (MBR, ext2 partition,
#            extlinux, the bzImage and the busybox initramfs) as the
#            virtio-blk disk of a vm.conf VM with "boot device disk"
#   cdrom    an ISO mkiso.sh builds (El Torito, isolinux, the same
#            kernel and initramfs) as the CD-ROM of a vm.conf VM with
#            "boot device cdrom"
#   install  from an ISO to an installed disk: the ISO also holds an
#            8 MB disk image as above and install.sh.  A VM vmctl start
#            makes ("vmctl start -m 256M -r ISO -d DISK -B cdrom inst")
#            gets the ISO and an empty disk from vmctl create; on the
#            live system's shell the test mounts the CD-ROM and runs
#            install.sh, which writes the image to /dev/vda and powers
#            off; the disk must then hold the image, and a vm.conf VM
#            with that disk and "boot device disk" boots what was
#            installed
#
# Each boot must show SeaBIOS's banner and its boot line, the
# bootloader's banner, the kernel's command line with the options vmd
# gives Linux on this host (they are in the bootloader's config, since
# vmd loads no kernel here), the console, the RTC read with the host's
# date, the initrd unpacked, Run /init, the shell, and an ACPI poweroff.
# Prints "PASS linux.NAME.<milestone> (<seconds> s)" per milestone,
# seconds from vmctl start; like the end-to-end tests it leaves nothing
# running.
TESTNAME=linux.bios
. "$(dirname "$0")/../e2e/lib.subr"
need_root

timeout=900
while getopts N:t: opt; do
	case $opt in
	N) TESTNAME=linux.$OPTARG ;;
	t) timeout=$OPTARG ;;
	*) echo "usage: bios.sh [-N name] [-t seconds] disk|cdrom|install" >&2
	    exit 2 ;;
	esac
done
shift $((OPTIND - 1))
mode=${1:-}
case $mode in
disk|cdrom|install) ;;
*) echo "usage: bios.sh [-N name] [-t seconds] disk|cdrom|install" >&2
    exit 2 ;;
esac
CACHE=${VMD_LINUX_CACHE:-/var/tmp/vmd-linux-cache}
LINUX=$TOP/regress/linux
BIOS=/usr/share/seabios/bios.bin
[ -f "$BIOS" ] || { skip all "no $BIOS (Debian's seabios)"; exit 0; }
for p in extlinux:extlinux /usr/lib/ISOLINUX/isolinux.bin:isolinux \
    /usr/lib/syslinux/modules/bios/ldlinux.c32:syslinux-common \
    xorriso:xorriso; do
	f=${p%%:*}
	if [ "${f#/}" = "$f" ]; then
		command -v "$f" >/dev/null 2>&1 && continue
	else
		[ -f "$f" ] && continue
	fi
	skip all "no $f (Debian's ${p#*:}; sh deps.sh linux)"
	exit 0
done

mkdir -p "$CACHE/initramfs"
sh "$LINUX/mkinitramfs.sh" "$CACHE/initramfs/busybox.cpio" ||
    { fail initramfs "mkinitramfs.sh failed"; exit 1; }
out=$(sh "$LINUX/build-kernel.sh") ||
    { fail kernel "build-kernel.sh failed"; exit 1; }
kernel=$out/bzImage
initrd=$CACHE/initramfs/busybox.cpio

# The VM of vm.conf: with the disk, or the CD-ROM.  install makes its
# live VM with vmctl start alone, and then boots this one from the disk.
case $mode in
cdrom) dev="cdrom \"$T/cd.iso\"" boot=cdrom ;;
*) dev="disk \"$T/disk.img\"" boot=disk ;;
esac
cat >"$CONF" <<EOF
vm "lx" {
	disable
	memory 256M
	$dev
	boot device $boot
}
EOF
# vmd checks the images named in vm.conf when it reads it: stand-ins
# until the images are made, with the options vmd tells once it is up
dd if=/dev/zero of="$T/cd.iso" bs=1M count=0 seek=1 2>/dev/null
if [ "$mode" = install ]; then
	# the empty disk the installer writes
	vmctl create -s 8M "$T/disk.img" >"$T/create" 2>&1 ||
	    { fail create "$(cat "$T/create")"; exit 1; }
else
	dd if=/dev/zero of="$T/disk.img" bs=1M count=0 seek=1 2>/dev/null
fi
start_vmd || { fail start "vmd did not come up"; exit 1; }
# vmd loads no kernel here: the options it gives Linux on this host go
# into the bootloader's config
args=$(sed -n 's/.*Linux kernels vmd boots here get on their command line: //p' \
    "$T/vmd.log")
cmdline="console=ttyS0${args:+ $args}"

case $mode in
disk)
	sh "$LINUX/mkdisk.sh" "$T/disk.img" "$kernel" "$initrd" "$cmdline" ||
	    { fail disk-image "mkdisk.sh failed"; exit 1; }
	pass disk-image ;;
cdrom|install)
	if [ "$mode" = install ]; then
		# what the installer writes: the disk image of "disk"
		sh "$LINUX/mkdisk.sh" -s 8 "$T/inst.img" "$kernel" "$initrd" \
		    "$cmdline" || { fail disk-image "mkdisk.sh failed"; exit 1; }
		set -- -d "$T/inst.img"
	else
		set --
	fi
	sh "$LINUX/mkiso.sh" "$@" "$T/cd.iso" "$kernel" "$initrd" "$cmdline" ||
	    { fail iso-image "mkiso.sh failed"; exit 1; }
	pass iso-image ;;
esac

# fwboot STEP VM VMCTL-START-ARGS...: starts VM with these arguments and
# times SeaBIOS, the bootloader and the kernel up to the shell; the
# console steps for after the shell come from $after (console.py steps,
# one per line).  Milestones are named STEP.<milestone>.
fwboot() {
	step=$1 vm=$2
	shift 2
	t0=$(date +%s)
	vmctl start "$@" "$vm" >"$T/$step.start" 2>&1 ||
	    { fail "$step.start" "$(cat "$T/$step.start")"; return 1; }
	tty=$(sed -n 's|.*tty \(/dev/[^ ]*\).*|\1|p' "$T/$step.start")
	[ -c "$tty" ] || { fail "$step.start" \
	    "no console tty in: $(cat "$T/$step.start")"; return 1; }
	case $step in
	cd*|live*) bootline='Booting from DVD/CD' ;;
	*) bootline='Booting from Hard Disk' ;;
	esac
	set -- \
	    mark rtc 'rtc_cmos [^ ]*: setting system clock to' \
	    mark initrd-unpacked 'Freeing initrd memory' \
	    mark seabios 'SeaBIOS \(version' \
	    mark bootloader '(SYS|EXT|ISO)LINUX [0-9]' \
	    expect firmware-boot "$bootline" \
	    expect console 'Linux version' \
	    expect run-init 'Run /init as init process' \
	    expect userland 'vmd-init: userland up' \
	    expect shell-prompt 'vmd-linux# '
	while IFS='	' read -r kind a b; do
		if [ -n "$b" ]; then set -- "$@" "$kind" "$a" "$b"
		else set -- "$@" "$kind" "$a"; fi
	done <<EOF
$after
EOF
	python3 "$LINUX/console.py" "$tty" "$T/$step.console" "$timeout" \
	    "$@" >"$T/$step.milestones" 2>&1
	rc=$?
	tr -d '\r' <"$T/$step.console" >"$T/$step.txt"
	# the bootloader adds BOOT_IMAGE= before and initrd= after it
	grep 'Command line:' "$T/$step.txt" | grep -qF " $cmdline " &&
	    pass "$step.cmdline" || fail "$step.cmdline" \
	    "$(grep 'Command line:' "$T/$step.txt" | head -1)"
	while read -r what m secs; do
		[ "$what" = milestone ] || continue
		case $m in
		rtc)
			e=$(sed -n 's/.*setting system clock to .*(\([0-9]*\)).*/\1/p' \
			    "$T/$step.txt" | head -1)
			now=$(date +%s)
			if [ -n "$e" ] && [ "$e" -ge $((t0 - 5)) ] &&
			    [ "$e" -le $((now + 5)) ]; then
				pass "$step.rtc ($secs s)"
			else
				fail "$step.rtc" "$(grep 'setting system clock' \
				    "$T/$step.txt")"
			fi ;;
		*)
			pass "$step.$m ($secs s)" ;;
		esac
	done <"$T/$step.milestones"
	for m in $(sed -n 's/^missing //p' "$T/$step.milestones"); do
		fail "$step.$m" "not on the console"
	done
	if [ $rc -ne 0 ]; then
		fail "$step.milestones" "$(grep -v '^milestone\|^missing' \
		    "$T/$step.milestones")"
		echo "--- console (last lines) ---"
		tail -n 25 "$T/$step.txt"
		echo "--- what vmd said of the VM ---"
		grep "vm $vm" "$T/vmd.log" | tail -n 8
		return 1
	fi
}

# ended STEP VM: the VM ended by itself after poweroff: vmd has it
# stopped (a VM of vm.conf) or no more (one vmctl start made)
ended() {
	i=0
	while [ -n "$(vm_state "$2")" ] && [ "$(vm_state "$2")" != stopped ] &&
	    [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
	[ -z "$(vm_state "$2")" ] || [ "$(vm_state "$2")" = stopped ] &&
	    pass "$1.stopped" || fail "$1.stopped" "state '$(vm_state "$2")'"
}

poweroff='send	poweroff -f\n
expect	poweroff	reboot: (Power down|System halted)'
case $mode in
disk)
	after=$poweroff
	fwboot disk lx && ended disk lx ;;
cdrom)
	after=$poweroff
	fwboot cd lx && ended cd lx ;;
install)
	# the live system installs the disk and powers off by itself
	after='send	mkdir -p /mnt/cd && mount -t iso9660 -o ro /dev/sr0 /mnt/cd && sh /mnt/cd/install.sh /dev/vda\n
expect	installed	vmd-install: (done|failed)
expect	poweroff	reboot: (Power down|System halted)'
	fwboot live inst -m 256M -r "$T/cd.iso" -d "$T/disk.img" -B cdrom &&
	    ended live inst || exit 1
	grep -q '^vmd-install: done' "$T/live.txt" ||
	    { fail live.install "$(grep -B3 '^vmd-install:' "$T/live.txt")";
	    exit 1; }
	cmp -n 8388608 "$T/inst.img" "$T/disk.img" >/dev/null &&
	    pass live.disk-written || { fail live.disk-written \
	    "the disk is not the image"; exit 1; }
	after=$poweroff
	fwboot installed lx && ended installed lx ;;
esac
[ -z "$FAILED" ]
