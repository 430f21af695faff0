# vmctl_create.sh: "vmctl create" with qemu-img as the referee: the
# images it makes (raw, qcow2, over a base, converted with -i) pass
# qemu-img check, and qemu-img info shows their format, size and
# backing file; data written to them through the disk library reads
# back in qemu; OpenBSD's messages and exit codes for every refusal;
# an existing file is never overwritten, and a failed conversion leaves
# nothing behind; the image is made with the rights of the user who
# runs vmctl.  No vmd is started.
TESTNAME=vmctl_create
. "$(dirname "$0")/lib.subr"
DISKTOOL=${DISKTOOL:-$TOP/regress/disk/disktool}

command -v qemu-img >/dev/null 2>&1 || { skip all "no qemu-img"; exit 0; }
cd "$T" || exit 1
TAB="$(printf '\t')"

# expect NAME RC LINE cmd...: exit status RC and LINE among the output
expect() {
	name=$1 want=$2 line=$3
	shift 3
	"$@" >out 2>&1
	rc=$?
	if [ "$rc" -ne "$want" ]; then
		fail "$name" "rc $rc, not $want: $(head -c 300 out)"
	elif [ -n "$line" ] && ! grep -qxF -- "$line" out; then
		fail "$name" "no line '$line' in: $(head -c 300 out)"
	else
		pass "$name"
	fi
}

# info NAME IMAGE KEY VALUE: qemu-img info's "KEY: VALUE" line
info() {
	qemu-img info -U "$2" >info.out 2>&1
	if grep -qxF -- "$3: $4" info.out; then
		pass "$1"
	else
		fail "$1" "no '$3: $4' in: $(cat info.out)"
	fi
}

check() {
	if qemu-img check "$2" >check.out 2>&1; then
		pass "$1"
	else
		fail "$1" "$(head -c 400 check.out)"
	fi
}

expect qcow2 0 "vmctl: qcow2 imagefile created" $VMCTL create -s 50G d.qcow2
check qcow2.check d.qcow2
info qcow2.format d.qcow2 "file format" qcow2
info qcow2.size d.qcow2 "virtual size" "50 GiB (53687091200 bytes)"
[ "$(stat -c %a d.qcow2)" = 600 ] && pass qcow2.mode ||
    fail qcow2.mode "mode $(stat -c %a d.qcow2)"
expect raw 0 "vmctl: raw imagefile created" $VMCTL create -s 1G d.raw
info raw.format d.raw "file format" raw
info raw.size d.raw "virtual size" "1 GiB (1073741824 bytes)"
[ "$(du -k d.raw | cut -f1)" -lt 64 ] && pass raw.sparse ||
    fail raw.sparse "$(du -k d.raw)"
expect noext 0 "vmctl: raw imagefile created" $VMCTL create -s 1M d.img
expect prefix.qcow2 0 "vmctl: qcow2 imagefile created" \
    $VMCTL create -s 1M qcow2:p.img
info prefix.qcow2.format p.img "file format" qcow2
expect prefix.raw 0 "vmctl: raw imagefile created" \
    $VMCTL create -s 1M raw:p.qcow2
info prefix.raw.format p.qcow2 "file format" raw

# never overwrite; the magic of an existing file names its format
sum=$(md5sum < d.qcow2)
expect exists 1 "vmctl: create imagefile operation failed: File exists" \
    $VMCTL create -s 1G d.qcow2
cp d.qcow2 magic.img
expect exists.magic 1 "vmctl: base images require qcow2 disk format" \
    $VMCTL create -b d.qcow2 d.img
[ "$(md5sum < d.qcow2)" = "$sum" ] && pass exists.same ||
    fail exists.same "d.qcow2 changed"

# sizes
expect size.missing 1 "usage:${TAB}vmctl [-v] create [-b base | -i disk] [-s size] disk" \
    $VMCTL create n.qcow2
grep -qxF "could not create n.qcow2: missing size argument" out &&
    pass size.missing.msg || fail size.missing.msg "$(cat out)"
expect size.small 1 "vmctl: disk size must be at least 1MB" \
    $VMCTL create -s 100K n.qcow2
expect size.bad 1 "vmctl: invalid disk size: 12X: Invalid argument" \
    $VMCTL create -s 12X n.qcow2
expect size.round 0 "vmctl: disk size rounded to 1.0M" \
    $VMCTL create -s 1.5M r.qcow2
info size.round.info r.qcow2 "virtual size" "1 MiB (1048576 bytes)"
expect size.huge 1 "vmctl: create imagefile operation failed: File too large" \
    $VMCTL create -s 8E n.qcow2
[ -e n.qcow2 ] && fail size.nofile "n.qcow2 left behind" || pass size.nofile

# over a base
qemu-img create -q -f qcow2 base.qcow2 64M
qemu-io -c "write -P 0x42 1M 2M" base.qcow2 >/dev/null
expect base 0 "vmctl: qcow2 imagefile created" \
    $VMCTL create -b base.qcow2 o.qcow2
check base.check o.qcow2
info base.name o.qcow2 "backing file" base.qcow2
info base.format o.qcow2 "backing file format" qcow2
info base.size o.qcow2 "virtual size" "64 MiB (67108864 bytes)"
qemu-img compare -q o.qcow2 base.qcow2 && pass base.same ||
    fail base.same "differs from its base"
mkdir sub
expect base.subdir 0 "vmctl: qcow2 imagefile created" \
    $VMCTL create -b base.qcow2 -s 64M sub/o.qcow2
info base.subdir.name sub/o.qcow2 "backing file" "$T/base.qcow2"
cp base.qcow2 sub/base.qcow2
expect base.samedir 0 "vmctl: qcow2 imagefile created" \
    $VMCTL create -b sub/base.qcow2 sub/o2.qcow2
info base.samedir.name sub/o2.qcow2 "backing file" \
    "base.qcow2 (actual path: sub/base.qcow2)"
(cd sub && "$VMCTL" create -b ../base.qcow2 ../o4.qcow2 >/dev/null 2>&1)
info base.updir.name o4.qcow2 "backing file" base.qcow2
expect base.mismatch 1 "vmctl: base size does not match requested size" \
    $VMCTL create -b base.qcow2 -s 1G o3.qcow2
expect base.raw 1 "vmctl: base image is not a qcow2 file" \
    $VMCTL create -b d.raw o3.qcow2
expect base.missing 1 "vmctl: failure to read base image header" \
    $VMCTL create -b nothere.qcow2 o3.qcow2
expect base.rawdisk 1 "vmctl: base images require qcow2 disk format" \
    $VMCTL create -b base.qcow2 o3.raw
expect conflict 1 "vmctl: conflicting -b and -i arguments" \
    $VMCTL create -b base.qcow2 -i d.raw o3.qcow2
[ -e o3.qcow2 ] || [ -e o3.raw ] && fail refused.nofile "left a file" ||
    pass refused.nofile

# written through the library, read by qemu
qemu-img convert -O raw o.qcow2 ref.raw
if "$DISKTOOL" o.qcow2 mirror ref.raw 7 300 4 >out 2>&1 &&
    qemu-img check -q o.qcow2 && qemu-img compare -q o.qcow2 ref.raw; then
	pass base.written
else
	fail base.written "$(cat out)"
fi

# -i: copies of an overlay, sparse, in both formats
qemu-io -c "write -P 0x43 40M 64k" o.qcow2 >/dev/null
expect convert.qcow2 0 "vmctl: qcow2 imagefile created" \
    $VMCTL create -i o.qcow2 c.qcow2
check convert.qcow2.check c.qcow2
qemu-img compare -q o.qcow2 c.qcow2 && pass convert.qcow2.same ||
    fail convert.qcow2.same "differs"
info convert.qcow2.nobacking c.qcow2 "virtual size" "64 MiB (67108864 bytes)"
grep -q "backing file" info.out && fail convert.qcow2.flat "has a backing file" ||
    pass convert.qcow2.flat
expect convert.raw 0 "vmctl: raw imagefile created" \
    $VMCTL create -i o.qcow2 c.raw
qemu-img compare -q o.qcow2 c.raw && pass convert.raw.same ||
    fail convert.raw.same "differs"
$VMCTL create -i base.qcow2 b.raw >/dev/null 2>&1
[ "$(du -k b.raw | cut -f1)" -lt 4096 ] && pass convert.raw.sparse ||
    fail convert.raw.sparse "$(du -k b.raw)"
expect convert.bigger 0 "vmctl: qcow2 imagefile created" \
    $VMCTL create -i raw:c.raw -s 100M c2.qcow2
info convert.bigger.size c2.qcow2 "virtual size" "100 MiB (104857600 bytes)"
expect convert.smaller 1 "vmctl: size cannot be smaller than input disk size" \
    $VMCTL create -i c.raw -s 10M c3.qcow2
[ -e c3.qcow2 ] && fail convert.smaller.nofile "left c3.qcow2" ||
    pass convert.smaller.nofile
head -c 1500000 /dev/urandom > odd.raw
expect convert.round 0 "vmctl: destination size rounded to 2 megabytes" \
    $VMCTL create -i odd.raw c4.qcow2
qemu-img compare -q odd.raw c4.qcow2 && pass convert.round.same ||
    fail convert.round.same "differs"
expect convert.missing 1 \
    "vmctl: failed to open source image file: nothere.raw: No such file or directory" \
    $VMCTL create -i nothere.raw c5.qcow2

# the user's rights: a directory the user may not write to
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null 2>&1; then
	mkdir locked && chmod 755 locked
	setpriv --reuid=65534 --regid=65534 --clear-groups \
	    "$VMCTL" create -s 1M locked/u.qcow2 >out 2>&1
	grep -qxF "vmctl: create imagefile operation failed: Permission denied" out &&
	    [ ! -e locked/u.qcow2 ] && pass user.rights ||
	    fail user.rights "$(cat out)"
else
	skip user.rights "needs root and setpriv"
fi
exit 0
