#!/bin/sh
# mkiso.sh: writes a bootable ISO 9660 image: an El Torito no-emulation
# boot entry with Debian's isolinux (isolinux.bin and ldlinux.c32), a
# config that boots the kernel with the initrd and the command line at
# once, and, with -d, a disk image and install.sh, which writes that
# image to a disk and powers off (the live system's installer: "mount
# the CD-ROM, sh install.sh /dev/vda").  install.sh reads the image
# straight from the CD-ROM device where it lies, with O_DIRECT on both
# sides: where the guest kernel's code is emulated, going through the
# page cache made 1 MB a minute.  Made by xorriso, without root rights.  It must never write outside OUT and the temporary directory
# it makes.
#
#   mkiso.sh [-d disk.img] OUT.iso KERNEL INITRD CMDLINE
set -eu

ISOLINUX=/usr/lib/ISOLINUX/isolinux.bin
LDLINUX=/usr/lib/syslinux/modules/bios/ldlinux.c32
disk=
usage() {
	echo "usage: mkiso.sh [-d disk.img] OUT.iso KERNEL INITRD CMDLINE" >&2
	exit 2
}
die() { echo "mkiso.sh: $*" >&2; exit 1; }

while getopts d: opt; do
	case $opt in
	d) disk=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 4 ] || usage
out=$1 kernel=$2 initrd=$3 cmdline=$4
[ -f "$kernel" ] || die "no kernel $kernel"
[ -f "$initrd" ] || die "no initrd $initrd"
[ -z "$disk" ] || [ -f "$disk" ] || die "no disk image $disk"
[ -f "$ISOLINUX" ] || die "no $ISOLINUX (apt-get install isolinux)"
[ -f "$LDLINUX" ] || die "no $LDLINUX (apt-get install syslinux-common)"
command -v xorriso >/dev/null 2>&1 || die "no xorriso"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/iso/isolinux" "$tmp/iso/boot"
cp "$ISOLINUX" "$LDLINUX" "$tmp/iso/isolinux/"
cp "$kernel" "$tmp/iso/boot/vmlinuz"
cp "$initrd" "$tmp/iso/boot/initrd"
cat >"$tmp/iso/isolinux/isolinux.cfg" <<EOF
SERIAL 0 115200
DEFAULT linux
PROMPT 0
TIMEOUT 0
LABEL linux
	KERNEL /boot/vmlinuz
	INITRD /boot/initrd
	APPEND $cmdline
EOF
# install LBA SIZE: install.sh for the image at block LBA, SIZE bytes;
# its length does not depend on the numbers, so neither does the layout
install() {
	printf '#!/bin/sh\nlba=%-12s size=%-14s\n' "$1" "$2"
	cat <<'EOF'
# install.sh DISK [CD]: writes the disk image this CD-ROM carries
# (disk.img: SIZE bytes from 2048-byte block LBA, numbers mkiso.sh put
# above) to DISK, partition table and boot code included, then powers
# off.  CD is the CD-ROM's device (default /dev/sr0).
dev=${1:-/dev/vda} cd=${2:-/dev/sr0}
echo "vmd-install: writing $size bytes from $cd to $dev"
if dd if="$cd" of="$dev" bs=1M skip=$((lba * 2048)) count="$size" \
    iflag=direct,skip_bytes,count_bytes oflag=direct conv=fsync && sync
then
	echo "vmd-install: done"
	poweroff -f
fi
echo "vmd-install: failed"
EOF
}
iso() {
	xorriso -as mkisofs -quiet -R -V VMDLINUX -o "$out.tmp" \
	    -b isolinux/isolinux.bin -c isolinux/boot.cat -no-emul-boot \
	    -boot-load-size 4 -boot-info-table "$tmp/iso" 2>"$tmp/err" ||
	    die "xorriso failed: $(cat "$tmp/err")"
}
lba() {
	xorriso -indev "$out.tmp" -find /disk.img -exec report_lba -- \
	    2>/dev/null | sed -n "s|^File data lba: *0 , *\([0-9]*\) ,.*'/disk.img'$|\1|p"
}
if [ -n "$disk" ]; then
	cp "$disk" "$tmp/iso/disk.img"
	size=$(wc -c <"$disk")
	[ $((size % 2048)) -eq 0 ] || die "$disk: not a multiple of 2048 bytes"
	install 0 "$size" >"$tmp/iso/install.sh"
	iso
	at=$(lba)
	[ -n "$at" ] || die "cannot find disk.img in the ISO"
	install "$at" "$size" >"$tmp/iso/install.sh"
	iso
	[ "$(lba)" = "$at" ] || die "disk.img moved from block $at"
else
	iso
fi
mv "$out.tmp" "$out"
