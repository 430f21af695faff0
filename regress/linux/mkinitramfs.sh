#!/bin/sh
# mkinitramfs.sh: writes a busybox-static initramfs, a newc cpio archive
# with busybox, links for the applets exec'd by path, the device nodes
# the kernel needs before devtmpfs and regress/linux/init as /init.  No root
# rights are needed: the archive is made by the kernel's gen_init_cpio
# (built from Debian's linux-source-6.1 into the kernel cache) from a
# file list, with a fixed timestamp, so the same inputs give the same
# bytes.  It must never write outside OUT and the cache.
#
#   mkinitramfs.sh OUT.cpio
#
# Environment: BUSYBOX (default /bin/busybox, Debian's busybox-static),
# VMD_LINUX_CACHE and VMD_LINUX_SOURCE as for build-kernel.sh.
set -eu

TOP=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${VMD_LINUX_CACHE:-/var/tmp/vmd-linux-cache}
TARBALL=${VMD_LINUX_SOURCE:-/usr/src/linux-source-6.1.tar.xz}
BUSYBOX=${BUSYBOX:-/bin/busybox}
INIT=$TOP/regress/linux/init
# Debian's busybox-static runs every applet from its shell without a link
# (SH_STANDALONE); links are only for what is exec'd by path.  Each link
# costs the kernel tens of milliseconds to unpack where its code is
# emulated: all 270 of them were 15 s of boot.
LINKS="/bin/sh /bin/ash /bin/mount /bin/umount /usr/bin/setsid
/bin/cttyhack /sbin/poweroff /sbin/reboot /sbin/halt /sbin/init"

die() { echo "mkinitramfs.sh: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: mkinitramfs.sh OUT.cpio"
out=$1
[ -x "$BUSYBOX" ] || die "no $BUSYBOX (apt-get install busybox-static)"
readelf -l "$BUSYBOX" | grep -q "program interpreter" &&
    die "$BUSYBOX is dynamically linked; use busybox-static"

mkdir -p "$CACHE"
gic=$CACHE/gen_init_cpio
name=$(basename "$TARBALL" .tar.xz)
if [ ! -x "$gic" ]; then
	src=$CACHE/src/$name/usr/gen_init_cpio.c
	tmp=$(mktemp -d)
	if [ ! -f "$src" ]; then
		[ -f "$TARBALL" ] || die "no kernel source $TARBALL"
		tar -C "$tmp" -xJf "$TARBALL" "$name/usr/gen_init_cpio.c"
		src=$tmp/$name/usr/gen_init_cpio.c
	fi
	cc -O2 -o "$gic.new" "$src" && mv "$gic.new" "$gic"
	rm -rf "$tmp"
fi

list=$(mktemp)
trap 'rm -f "$list"' EXIT
{
	echo "dir /dev 0755 0 0"
	echo "nod /dev/console 0600 0 0 c 5 1"
	echo "nod /dev/null 0666 0 0 c 1 3"
	for d in /bin /sbin /usr /usr/bin /usr/sbin /proc /sys /mnt /root \
	    /etc /run /var; do
		echo "dir $d 0755 0 0"
	done
	echo "dir /tmp 1777 0 0"
	echo "file /bin/busybox $BUSYBOX 0755 0 0"
	for p in $LINKS; do
		echo "slink $p /bin/busybox 0777 0 0"
	done
	echo "file /init $INIT 0755 0 0"
} >"$list"
"$gic" -t 0 "$list" >"$out.new"
mv "$out.new" "$out"
