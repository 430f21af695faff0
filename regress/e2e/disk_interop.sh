# disk_interop.sh: the disk library against QEMU's own tools.  Images
# made by qemu-img (qcow2 v2 and v3, clusters from 512 B to 2 MiB, with
# and without backing files, preallocation, lazy refcounts, refcount
# widths) and written by qemu-io must read back as qemu-img convert
# reads them; after random writes, zeroings and discards through the
# library (one thread, then four on the same clusters), qemu-img check
# must find no error and qemu-img compare must match the expected raw
# content, and the base images must be unchanged.  Images with
# compressed clusters and the other unsupported features are refused
# at open, naming the feature; QEMU and the library respect each
# other's image locks.  It needs qemu-img and qemu-io, not root.
TESTNAME=disk_interop
. "$(dirname "$0")/lib.subr"
DISKTOOL=${DISKTOOL:-$TOP/regress/disk/disktool}

for c in qemu-img qemu-io; do
	command -v $c >/dev/null 2>&1 || { skip all "no $c"; exit 0; }
done
cd "$T" || exit 1

# one NAME OPTS BASEOPTS: an image made with qemu-img -o OPTS (over a
# base made with BASEOPTS, unless that is "-"), checked as above.
one() {
	name=$1 opts=$2 bopts=$3
	rm -f b.qcow2 t.qcow2 ref.raw ours.raw
	if [ "$bopts" != - ]; then
		qemu-img create -q -f qcow2 -o "$bopts" b.qcow2 24M &&
		qemu-io -c "write -P 0x11 0 3M" -c "write -P 0x22 5M 999k" \
		    -c "write -z 9M 1M" b.qcow2 >/dev/null &&
		qemu-img create -q -f qcow2 -o "$opts" -b b.qcow2 -F qcow2 \
		    t.qcow2 32M || { fail "$name" "qemu-img create"; return; }
		bsum=$(md5sum < b.qcow2)
	else
		qemu-img create -q -f qcow2 -o "$opts" t.qcow2 32M ||
		    { fail "$name" "qemu-img create"; return; }
	fi
	qemu-io -c "write -P 0x33 1M 70k" -c "write -P 0x44 31M 1M" \
	    -c "write -z 4M 128k" t.qcow2 >/dev/null &&
	qemu-img convert -O raw t.qcow2 ref.raw ||
	    { fail "$name" "qemu-io"; return; }
	"$DISKTOOL" t.qcow2 dump ours.raw 5 >out 2>&1 || {
		fail "$name" "dump: $(cat out)"; return; }
	cmp -s ours.raw ref.raw || { fail "$name" "read differs"; return; }
	"$DISKTOOL" t.qcow2 mirror ref.raw 9 300 1 >out 2>&1 &&
	"$DISKTOOL" t.qcow2 mirror ref.raw 10 300 4 >>out 2>&1 || {
		fail "$name" "mirror: $(cat out)"; return; }
	qemu-img check t.qcow2 >out 2>&1 || {
		fail "$name" "qemu-img check: $(head -c 400 out)"; return; }
	qemu-img compare -q t.qcow2 ref.raw >out 2>&1 || {
		fail "$name" "qemu-img compare: $(head -c 400 out)"; return; }
	if [ "$bopts" != - ]; then
		[ "$(md5sum < b.qcow2)" = "$bsum" ] ||
		    { fail "$name" "base changed"; return; }
	fi
	pass "$name"
}

for cs in 4k 64k 2M; do
	for v in 0.10 1.1; do
		one "v$v.$cs" "compat=$v,cluster_size=$cs" -
		one "v$v.$cs.backing" "compat=$v,cluster_size=$cs" \
		    "compat=$v,cluster_size=$cs"
		one "v$v.$cs.prealloc" \
		    "compat=$v,cluster_size=$cs,preallocation=metadata" -
	done
done
one v1.1.512 compat=1.1,cluster_size=512 -
one v1.1.512.backing compat=1.1,cluster_size=512 compat=1.1,cluster_size=64k
one v1.1.64k.over4k compat=1.1,cluster_size=64k compat=1.1,cluster_size=4k
one v1.1.lazy compat=1.1,lazy_refcounts=on -
one v1.1.refbits1 compat=1.1,refcount_bits=1 -
one v1.1.refbits8 compat=1.1,refcount_bits=8,cluster_size=4k -
one v1.1.refbits64 compat=1.1,refcount_bits=64 -
one v1.1.falloc compat=1.1,preallocation=falloc -
one v1.1.prealloc.base compat=1.1 compat=1.1,preallocation=metadata

# zeroed clusters over a base, last in the file: v2 links fresh
# clusters, v3 sets zero flags in a new L2 table
for v in 0.10 1.1; do
	rm -f b.qcow2 t.qcow2 ref.raw
	qemu-img create -q -f qcow2 b.qcow2 1G
	qemu-io -c "write -P 0x99 600M 2M" b.qcow2 >/dev/null
	qemu-img create -q -f qcow2 -o compat=$v -b b.qcow2 -F qcow2 t.qcow2
	if "$DISKTOOL" t.qcow2 zero 629145600 1048576 >out 2>&1 &&
	    "$DISKTOOL" t.qcow2 zero 1048576000 65536 unmap >>out 2>&1 &&
	    qemu-img check t.qcow2 >>out 2>&1 &&
	    qemu-io -c "read -P 0 600M 1M" -c "read -P 0x99 601M 1M" \
	    t.qcow2 >>out 2>&1 && ! grep -q "Pattern verification failed" out
	then
		pass "zero.v$v"
	else
		fail "zero.v$v" "$(cat out)"
	fi
done

# a raw base, named with its format
rm -f r.raw t.qcow2 ref.raw
qemu-img create -q -f raw r.raw 8M
qemu-io -f raw -c "write -P 0x55 100k 3M" r.raw >/dev/null
qemu-img create -q -f qcow2 -b r.raw -F raw t.qcow2 8M
qemu-img convert -O raw t.qcow2 ref.raw
if "$DISKTOOL" t.qcow2 mirror ref.raw 3 300 4 >out 2>&1 &&
    qemu-img check -q t.qcow2 && qemu-img compare -q t.qcow2 ref.raw; then
	pass rawbase
else
	fail rawbase "$(cat out)"
fi

# a raw image written by us, read by qemu
rm -f r.raw ref.raw
qemu-img create -q -f raw r.raw 16M
cp r.raw ref.raw
if "$DISKTOOL" r.raw mirror ref.raw 4 300 4 >out 2>&1 &&
    qemu-img compare -q -f raw -F raw r.raw ref.raw; then
	pass raw
else
	fail raw "$(cat out)"
fi

# compressed clusters are refused at open, in a base too
rm -f c.qcow2 src.raw o.qcow2
qemu-img create -q -f raw src.raw 4M
qemu-io -f raw -c "write -P 0x66 0 1M" src.raw >/dev/null
qemu-img convert -q -c -O qcow2 src.raw c.qcow2
qemu-io -c "write -P 0x77 2M 64k" c.qcow2 >/dev/null
qemu-img create -q -f qcow2 -b c.qcow2 -F qcow2 o.qcow2
for img in c.qcow2 o.qcow2; do
	if "$DISKTOOL" $img dump ours.raw >out 2>&1; then
		fail compressed.$img "read a compressed cluster"
	elif grep -q "compressed clusters are not supported (convert" out; then
		pass compressed.$img
	else
		fail compressed.$img "$(cat out)"
	fi
done

# refusals at open name the feature
rm -f x.qcow2
qemu-img create -q -f qcow2 x.qcow2 1M
qemu-img snapshot -c snap1 x.qcow2
"$DISKTOOL" x.qcow2 info >out 2>&1
grep -q "internal snapshots are not supported" out && pass snapshots ||
    fail snapshots "$(cat out)"
rm -f x.qcow2
qemu-img create -q -f qcow2 -o extended_l2=on x.qcow2 1M
"$DISKTOOL" x.qcow2 info >out 2>&1
grep -q "extended L2 entries are not supported" out && pass extl2 ||
    fail extl2 "$(cat out)"
rm -f x.qcow2
qemu-img create -q -f qcow2 -o compression_type=zstd x.qcow2 1M \
    2>/dev/null && {
	"$DISKTOOL" x.qcow2 info >out 2>&1
	grep -q "compression type" out && pass zstd || fail zstd "$(cat out)"
}
rm -f x.qcow2 x.data
qemu-img create -q -f qcow2 -o data_file=x.data x.qcow2 1M
"$DISKTOOL" x.qcow2 info >out 2>&1
grep -q "external data files are not supported" out && pass datafile ||
    fail datafile "$(cat out)"

# QEMU and we see each other's locks
rm -f l.qcow2
qemu-img create -q -f qcow2 l.qcow2 1M
"$DISKTOOL" l.qcow2 crash 1 journal >/dev/null 2>&1 &
lpid=$!
EXTRA_PIDS=$lpid
sleep 0.3
if qemu-io -c "write 0 4k" l.qcow2 >out 2>&1; then
	fail lock.qemu "qemu wrote an image in use"
else
	grep -q "lock" out && pass lock.qemu || fail lock.qemu "$(cat out)"
fi
kill -KILL $lpid 2>/dev/null
wait $lpid 2>/dev/null
qemu-io -c "sleep 1500" l.qcow2 >/dev/null 2>&1 &
qpid=$!
EXTRA_PIDS=$qpid
sleep 0.5
"$DISKTOOL" l.qcow2 info >out 2>&1 && fail lock.ours "opened an image qemu holds" ||
    { grep -q "disk image is in use" out && pass lock.ours ||
    fail lock.ours "$(cat out)"; }
kill -KILL $qpid 2>/dev/null
wait $qpid 2>/dev/null
exit 0
