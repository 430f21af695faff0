#!/bin/sh
# build-kernel.sh: builds vmd's Linux test kernel from Debian's
# linux-source-6.1 (tinyconfig + regress/linux/config-fragment, then
# make olddefconfig) and prints the directory holding vmlinux (PVH
# entry), bzImage and the final .config.  Everything is done in a cache
# outside the repo and kept between runs: the source is unpacked once,
# the build tree is reused (make rebuilds only what changed) and a
# variant is rebuilt only when the fragment, this script, the source
# tarball or its initramfs change.  It must never write into the source
# tree of the repo.
#
#   build-kernel.sh [-i initramfs.cpio]
#
# -i builds the variant with that cpio archive built in (uncompressed,
# CONFIG_INITRAMFS_SOURCE), for userland tests without initrd passing.
# Environment: VMD_LINUX_CACHE (default /var/tmp/vmd-linux-cache),
# VMD_LINUX_SOURCE (default /usr/src/linux-source-6.1.tar.xz),
# VMD_LINUX_JOBS (default: the number of CPUs).
set -eu

TOP=$(cd "$(dirname "$0")/../.." && pwd)
SELF=$TOP/regress/linux/build-kernel.sh
FRAG=$TOP/regress/linux/config-fragment
CACHE=${VMD_LINUX_CACHE:-/var/tmp/vmd-linux-cache}
TARBALL=${VMD_LINUX_SOURCE:-/usr/src/linux-source-6.1.tar.xz}
JOBS=${VMD_LINUX_JOBS:-$(nproc)}

die() { echo "build-kernel.sh: $*" >&2; exit 1; }

initramfs=
while getopts i: opt; do
	case $opt in
	i) initramfs=$OPTARG ;;
	*) die "usage: build-kernel.sh [-i initramfs.cpio]" ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || die "usage: build-kernel.sh [-i initramfs.cpio]"
variant=plain
if [ -n "$initramfs" ]; then
	[ -f "$initramfs" ] || die "no initramfs $initramfs"
	initramfs=$(cd "$(dirname "$initramfs")" && pwd)/$(basename "$initramfs")
	variant=initramfs
fi
[ -f "$TARBALL" ] ||
    die "no kernel source $TARBALL (sh deps.sh linux installs it)"
for t in make gcc flex bison bc perl; do
	command -v $t >/dev/null 2>&1 ||
	    die "$t is missing (sh deps.sh linux installs it)"
done

mkdir -p "$CACHE"
exec 9>"$CACHE/lock"
flock 9		# one build at a time in this cache

key=$({
	cat "$FRAG" "$SELF"
	stat -c '%n %s %Y' "$TARBALL"
	[ -z "$initramfs" ] || sha256sum <"$initramfs"
} | sha256sum | cut -c1-16)
out=$CACHE/out/$variant
if [ -f "$out/key" ] && [ "$(cat "$out/key")" = "$key" ] &&
    [ -f "$out/vmlinux" ] && [ -f "$out/bzImage" ]; then
	echo "$out"
	exit 0
fi

name=$(basename "$TARBALL" .tar.xz)
src=$CACHE/src/$name
if [ ! -f "$src/.vmd-unpacked" ]; then
	echo "build-kernel.sh: unpacking $TARBALL" >&2
	rm -rf "$CACHE/src"
	mkdir -p "$CACHE/src"
	tar -C "$CACHE/src" -xJf "$TARBALL"
	[ -d "$src" ] || die "$TARBALL does not unpack to $name/"
	touch "$src/.vmd-unpacked"
fi

b=$CACHE/build
log=$CACHE/build-$variant.log
mkdir -p "$b"
start=$(date +%s)
echo "build-kernel.sh: building the $variant kernel in $b (log $log)" >&2
cp "$FRAG" "$b/vmd-fragment"
if [ -n "$initramfs" ]; then
	printf 'CONFIG_INITRAMFS_SOURCE="%s"\nCONFIG_INITRAMFS_COMPRESSION_NONE=y\n' \
	    "$initramfs" >>"$b/vmd-fragment"
else
	printf 'CONFIG_INITRAMFS_SOURCE=""\n' >>"$b/vmd-fragment"
fi
{
	make -C "$src" O="$b" tinyconfig &&
	    "$src/scripts/kconfig/merge_config.sh" -m -O "$b" "$b/.config" \
	    "$b/vmd-fragment" &&
	    make -C "$src" O="$b" olddefconfig
} >"$log" 2>&1 || { tail -n 20 "$log" >&2; die "configuration failed"; }
missing=
for opt in $(grep -E '^CONFIG_[A-Z0-9_]+=y$' "$b/vmd-fragment"); do
	if ! grep -qx "$opt" "$b/.config"; then
		missing="$missing ${opt%=y}"
	fi
done
for opt in $(sed -n 's/^# \(CONFIG_[A-Z0-9_]*\) is not set$/\1/p' \
    "$b/vmd-fragment"); do
	if grep -q "^$opt=" "$b/.config"; then
		missing="$missing $opt"
	fi
done
[ -z "$missing" ] || die "options of the fragment that did not stick:$missing"
make -C "$src" O="$b" -j"$JOBS" bzImage >>"$log" 2>&1 ||
    { tail -n 30 "$log" >&2; die "build failed"; }
rm -rf "$out"
mkdir -p "$out"
cp "$b/vmlinux" "$b/arch/x86/boot/bzImage" "$b/.config" "$out/"
echo "$key" >"$out/key"
echo "build-kernel.sh: $variant kernel built in $(( $(date +%s) - start )) s" >&2
echo "$out"
