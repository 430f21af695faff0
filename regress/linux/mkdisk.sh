#!/bin/sh
# mkdisk.sh: writes a BIOS-bootable disk image: an MBR partition table
# with one active Linux partition from 1 MB, syslinux's MBR boot code
# (Debian's extlinux: /usr/lib/EXTLINUX/mbr.bin), an ext2 file system in
# the partition holding the kernel, the initrd and extlinux.conf, and
# extlinux installed in the partition's boot sector.  mke2fs -d fills
# the file system without a mount; extlinux works only on a mounted one,
# so the script mounts the partition (a loop device) in a private mount
# namespace of its own: when the script ends, however it ends, the
# mount and with it the loop device go away.  Needs root for that mount.
# It must never write outside OUT and the temporary directory it makes.
#
#   mkdisk.sh [-s MB] OUT.img KERNEL INITRD CMDLINE
#
#   -s MB	the image's size (default 64); the partition is the rest
#		after the first megabyte
set -eu

MBR=/usr/lib/EXTLINUX/mbr.bin
size=64
usage() {
	echo "usage: mkdisk.sh [-s MB] OUT.img KERNEL INITRD CMDLINE" >&2
	exit 2
}
die() { echo "mkdisk.sh: $*" >&2; exit 1; }

while getopts s: opt; do
	case $opt in
	s) size=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 4 ] || usage
out=$1 kernel=$2 initrd=$3 cmdline=$4
case $size in
''|*[!0-9]*) die "size $size: not a number of MB" ;;
esac
[ "$size" -ge 8 ] || die "size $size MB: 8 MB at least"
[ -f "$kernel" ] || die "no kernel $kernel"
[ -f "$initrd" ] || die "no initrd $initrd"
[ -f "$MBR" ] || die "no $MBR (apt-get install syslinux-common)"
command -v extlinux >/dev/null 2>&1 || die "no extlinux (apt-get install extlinux)"
[ "$(id -u)" -eq 0 ] || die "extlinux needs the file system mounted: run as root"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/root/boot/extlinux"
cp "$kernel" "$tmp/root/boot/vmlinuz"
cp "$initrd" "$tmp/root/boot/initrd"
# no prompt, no menu: straight to the kernel, on the serial console too
cat >"$tmp/root/boot/extlinux/extlinux.conf" <<EOF
SERIAL 0 115200
DEFAULT linux
PROMPT 0
TIMEOUT 0
LABEL linux
	KERNEL /boot/vmlinuz
	INITRD /boot/initrd
	APPEND $cmdline
EOF

rm -f "$out.tmp"
dd if=/dev/zero of="$out.tmp" bs=1M count=0 seek="$size" 2>/dev/null
echo 'start=2048, type=83, bootable' | sfdisk -q "$out.tmp" >/dev/null ||
    die "sfdisk failed"
mke2fs -q -F -t ext2 -L vmdroot -E offset=1048576 -d "$tmp/root" \
    "$out.tmp" "$((size - 1))M" >/dev/null || die "mke2fs failed"
# the boot code of the MBR only: the partition table stays
dd if="$MBR" of="$out.tmp" bs=440 count=1 conv=notrunc 2>/dev/null ||
    die "cannot write $MBR"
mkdir "$tmp/mnt"
unshare -m --propagation private sh -euc '
	mount -t ext2 -o loop,offset=1048576 "$1" "$2"
	trap "umount \"\$2\"" EXIT
	extlinux --install "$2/boot/extlinux" >/dev/null 2>&1 ||
	    { echo "mkdisk.sh: extlinux --install failed" >&2; exit 1; }
	[ -f "$2/boot/extlinux/ldlinux.sys" ]
' sh "$out.tmp" "$tmp/mnt" || die "cannot install extlinux"
mv "$out.tmp" "$out"
