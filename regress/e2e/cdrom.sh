# cdrom.sh: the virtio-scsi CD-ROM end to end.  The test guest's cdrom
# check (regress/guest/README) reads an ISO made by xorriso: through
# vmctl start -r and through vm.conf's cdrom, the volume id the host
# gave must come back from sector 16.  Images that cannot be a CD-ROM
# (a directory, a device, a missing or unreadable file, an empty one, one
# smaller than a 2048-byte block) are refused with vmctl's message
# naming the file and the reason, and vmd stays up to start the next VM.
# SeaBIOS, for a VM with no kernel, boots an El Torito ISO (a no-emulation
# boot image that prints a line through the BIOS) from the CD-ROM.
TESTNAME=cdrom
. "$(dirname "$0")/lib.subr"
need_root
command -v xorriso >/dev/null 2>&1 || { skip all "no xorriso"; exit 0; }

mkdir -p "$T/iso"
echo "vmd test cdrom" >"$T/iso/readme.txt"
xorriso -as mkisofs -quiet -V VMDTESTCD -o "$T/cd.iso" "$T/iso" \
    2>/dev/null || { fail mkiso "xorriso failed"; exit 1; }
cp "$T/cd.iso" "$T/conf.iso"

cat >"$CONF" <<CONF
vm "g1" {
	disable
	memory 64M
	boot "$GUEST"
}
vm "g2" {
	disable
	memory 64M
	boot "$GUEST"
	cdrom "$T/conf.iso"
}
CONF
start_vmd || { fail start "vmd did not come up"; exit 1; }

# cdvm NAME VM ARGS...: run VM with the cdrom check and vmctl start
# options ARGS; the check must pass with the volume id the ISO has.
cdvm() {
	name=$1 vm=$2
	shift 2
	console_run "$name" 40 vmctl start -c -k cdrom "$@" "$vm" ||
	    fail "$name.console" "still running"
	wait_state "$vm" stopped 5 ||
	    fail "$name.stopped" "state '$(vm_state "$vm")'"
	if grep -q "^PASS cdrom: .*blocks of 2048.*volume 'VMDTESTCD'" \
	    "$T/$name"; then
		pass "$name.cdrom"
	else
		fail "$name.cdrom" "$(grep -E 'cdrom|^FAIL|failed' "$T/$name" \
		    "$T/$name.err" | head -3 | tr '\n' ' ')"
	fi
}

cdvm flag g1 -r "$T/cd.iso"
cdvm conf g2

# refused NAME PATH WANT: vmctl start -r PATH fails saying WANT, no VM
refused() {
	out=$(vmctl start -k cdrom -r "$2" -b "$GUEST" -m 64M "r$1" 2>&1) &&
	    fail "$1" "started: $out"
	case $out in
	*"cdrom $2: $3"*) pass "$1" ;;
	*) fail "$1" "$out" ;;
	esac
	[ "$(vm_state "r$1")" = "" ] && pass "$1.no-vm" ||
	    fail "$1.no-vm" "r$1 is $(vm_state "r$1")"
}
: >"$T/empty.iso"
printf 'short' >"$T/short.iso"
out=$(vmctl start -r "$T/nosuch.iso" -b "$GUEST" rmissing 2>&1) &&
    fail missing "started: $out"
case $out in
*"invalid iso image path: No such file or directory"*) pass missing ;;
*) fail missing "$out" ;;
esac
refused dir "$T/iso" "Is a directory"
refused device /dev/null "not a regular file"
refused empty "$T/empty.iso" "empty image"
refused short "$T/short.iso" "smaller than one 2048-byte block"

# vmd is still up and still starts CD-ROM VMs
cdvm after g1 -r "$T/cd.iso"

# SeaBIOS boots the CD-ROM: its virtio-scsi driver finds the unit
# (REPORT LUNS, INQUIRY, TEST UNIT READY) and reads the boot catalog and
# the boot image (READ(10) of 2048-byte blocks).
BIOS=/usr/share/seabios/bios.bin
if [ ! -f "$BIOS" ]; then
	skip seabios "no $BIOS (Debian's seabios)"
elif ! command -v as >/dev/null 2>&1 || ! command -v ld >/dev/null 2>&1; then
	skip seabios "no as or ld to build the boot image"
else
	mkdir -p "$T/boot"
	cat >"$T/boot.S" <<'ASM'
	.code16
	.text
	.globl _start
_start:	cli
	xorw	%ax, %ax
	movw	%ax, %ds
	movw	%ax, %ss
	movw	$0x7c00, %sp
	sti
	movw	$msg, %si
1:	lodsb
	testb	%al, %al
	jz	2f
	movb	$0x0e, %ah
	movw	$0x0007, %bx
	int	$0x10
	jmp	1b
2:	cli
3:	hlt
	jmp	3b
msg:	.asciz	"VMDCDBOOT: the El Torito image runs\r\n"
	.org	2048
ASM
	as --32 -o "$T/boot.o" "$T/boot.S" &&
	    ld -m elf_i386 -Ttext=0x7c00 --oformat binary \
	    -o "$T/boot/boot.img" "$T/boot.o" &&
	    xorriso -as mkisofs -quiet -V VMDBOOTCD -b boot.img \
	    -no-emul-boot -boot-load-size 4 -o "$T/boot.iso" "$T/boot" \
	    2>/dev/null || fail seabios.mkiso "cannot build the boot ISO"
	vmctl start -c -m 128M -r "$T/boot.iso" sb </dev/null \
	    >"$T/sb.console" 2>"$T/sb.err" &
	EXTRA_PIDS="$EXTRA_PIDS $!"
	if wait_for "$T/sb.console" "VMDCDBOOT: the El Torito image" \
	    90 && grep -q "Booting from DVD/CD" "$T/sb.console"; then
		pass seabios.boot
	else
		fail seabios.boot "$(tr -d "\r" <"$T/sb.console" | tail -5 | tr "\n" " ") \
		    $(cat "$T/sb.err")"
	fi
	vmctl stop -f sb >/dev/null 2>&1
	i=0
	while [ "$(vm_state sb)" = running ] && [ $i -lt 100 ]; do
		sleep 0.1; i=$((i + 1))
	done
fi
[ -z "$FAILED" ]
