# seabios_int13.sh: a boot sector that reads through the BIOS, as every
# real-mode bootloader (syslinux, GRUB, OpenBSD's biosboot) does, under
# SeaBIOS, the firmware of a VM with no kernel.  From a virtio-blk disk
# (vm.conf's boot device disk) and from the virtio-scsi CD-ROM (an El
# Torito no-emulation image, vmctl start -r -B cdrom), the boot sector
# prints a line through int 10h, then reads the sector after itself with
# int 13h's extended read (AH=42h) and prints the line the host put
# there.  SeaBIOS builds those requests on its stack in the 640K-1M
# area, which the devices must reach as guest RAM.
TESTNAME=seabios_int13
. "$(dirname "$0")/lib.subr"
need_root
BIOS=/usr/share/seabios/bios.bin
[ -f "$BIOS" ] || { skip all "no $BIOS (Debian's seabios)"; exit 0; }
command -v as >/dev/null 2>&1 && command -v ld >/dev/null 2>&1 ||
    { skip all "no as or ld to build the boot sector"; exit 0; }
command -v xorriso >/dev/null 2>&1 || { skip all "no xorriso"; exit 0; }

# Bytes 8-63 are El Torito's boot info table, which xorriso fills in
# for the CD (the LBA of the boot file at 12); on the disk they stay 0.
cat >"$T/boot.S" <<'ASM'
	.code16
	.text
	.globl _start
_start:	jmp	start
	.org	8
bi_pvd:	.long	0
bi_file: .long	0
	.org	64
start:	cli
	xorw	%ax, %ax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %ss
	movw	$0x7c00, %sp
	sti
	movb	%dl, drive
	movw	$hello, %si
	call	puts
	movl	bi_file, %eax
	incl	%eax
	movl	%eax, lba
	movb	$0x42, %ah
	movb	drive, %dl
	movw	$dap, %si
	int	$0x13
	jc	bad
	movw	$0x8000, %si
	call	puts
	jmp	halt
bad:	movw	$failed, %si
	call	puts
halt:	cli
1:	hlt
	jmp	1b
puts:	lodsb
	testb	%al, %al
	jz	2f
	movb	$0x0e, %ah
	movw	$0x0007, %bx
	int	$0x10
	jmp	puts
2:	ret
	.balign	4
dap:	.byte	16, 0
	.word	1
	.word	0x8000, 0
lba:	.long	0, 0
drive:	.byte	0
hello:	.asciz	"VMDBOOT: boot sector runs\r\n"
failed:	.asciz	"VMDBOOT: int 13h read failed\r\n"
	.org	510
	.word	0xaa55
ASM
as --32 -o "$T/boot.o" "$T/boot.S" &&
    ld -m elf_i386 -Ttext=0x7c00 --oformat binary -o "$T/boot.bin" \
    "$T/boot.o" || { fail build "cannot build the boot sector"; exit 1; }

# sector SIZE TEXT: TEXT and a NUL, padded to SIZE bytes
sector() {
	printf '%s\r\n' "$2" >"$T/sect"
	dd if=/dev/zero bs=1 count=$(($1 - $(wc -c <"$T/sect"))) \
	    2>/dev/null >>"$T/sect"
	cat "$T/sect"
}
{ cat "$T/boot.bin"; sector 512 "VMDREAD: disk sector 1 through int 13h"; } \
    >"$T/disk.img"
dd if=/dev/zero of="$T/disk.img" bs=1M count=0 seek=1 2>/dev/null
mkdir "$T/cd"
{ cat "$T/boot.bin"; dd if=/dev/zero bs=1536 count=1 2>/dev/null;
    sector 2048 "VMDREAD: CD sector after the boot image through int 13h"; } \
    >"$T/cd/boot.img"
xorriso -as mkisofs -quiet -V VMDINT13 -b boot.img -no-emul-boot \
    -boot-load-size 4 -boot-info-table -o "$T/cd.iso" "$T/cd" \
    2>/dev/null || { fail build "xorriso failed"; exit 1; }

cat >"$CONF" <<CONF
vm "hd" {
	disable
	memory 128M
	disk "$T/disk.img"
	boot device disk
}
CONF
start_vmd || { fail start "vmd did not come up"; exit 1; }

# int13 NAME WANT vmctl-start-args...  (SeaBIOS's serial console holds
# the last few characters until the next BIOS call, which never comes:
# WANT stops short of the line's end)
int13() {
	n=$1 want=$2
	shift 2
	vmctl start -c "$@" "$n" </dev/null >"$T/$n.console" 2>"$T/$n.err" &
	EXTRA_PIDS="$EXTRA_PIDS $!"
	wait_for "$T/$n.console" "$want\|VMDBOOT: int 13h read failed" 90
	if grep -q "$want" "$T/$n.console"; then
		pass "$n.read"
	else
		fail "$n.read" "$(tr -d '\r' <"$T/$n.console" | tail -4 |
		    tr '\n' ' ') $(grep "vm $n" "$T/vmd.log" | grep -i \
		    'broken\|outside' | head -2 | tr '\n' ' ')"
	fi
	vmctl stop -f "$n" >/dev/null 2>&1
	i=0
	while [ "$(vm_state "$n")" = running ] && [ $i -lt 100 ]; do
		sleep 0.1; i=$((i + 1))
	done
}
int13 hd "VMDREAD: disk sector 1 through"
int13 cd "VMDREAD: CD sector after the boot image" -m 128M -r "$T/cd.iso" \
    -B cdrom
[ -z "$FAILED" ]
