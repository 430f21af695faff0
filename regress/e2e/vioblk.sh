# vioblk.sh: disks end to end.  The test guest's `blk` check runs on a
# disk of each kind vmd takes: raw (vmctl start -d, and vm.conf's disk
# with format raw), qcow2 images made by qemu-img (v2 and v3, clusters
# of 4 KiB, 64 KiB and 2 MiB, preallocation=metadata, over a backing
# file); after the guest powered off the host finds what the guest
# wrote, qemu-img check is clean and qemu-img compare matches the
# expected content, and a base stays unchanged.  Pause and unpause
# while the guest's requests are in flight lose none.  A second VM on a disk
# in use is refused with "disk image is in use"; a disk's process
# killed ends its VM and the log says which process and why.  The
# guest's blkcopy copies one disk onto another.  qemu-img is needed for
# the qcow2 parts.
TESTNAME=vioblk
. "$(dirname "$0")/lib.subr"
need_root
HAVE_QEMU_IMG=0
command -v qemu-img >/dev/null 2>&1 && HAVE_QEMU_IMG=1

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
	disk "$T/conf.raw" format raw
}
CONF

# expected FILE: the raw content a disk must have after the check
expected() {
	mkraw "$1"
	written | dd of="$1" bs=512 seek=8 conv=notrunc status=none
}

mkraw "$T/conf.raw"
start_vmd || { fail start "vmd did not come up"; exit 1; }

# boot NAME VM ARGS...: run VM with the guest command line and vmctl
# start options ARGS, its console in $T/NAME; waits until it stopped.
boot() {
	name=$1 vm=$2
	shift 2
	console_run "$name" 40 vmctl start -c "$@" "$vm" ||
	    fail "$name.console" "still running"
	wait_state "$vm" stopped 5 ||
	    fail "$name.stopped" "state '$(vm_state "$vm")'"
}

# blk NAME VM ARGS...: the blk check passes on the VM's first disk
blk() {
	name=$1
	boot "$@"
	if grep -q "^PASS blk: " "$T/$name"; then
		pass "$name.blk"
	else
		fail "$name.blk" "$(grep -E 'blk|^FAIL|failed' "$T/$name" \
		    "$T/$name.err" | head -3 | tr '\n' ' ')"
		return 1
	fi
}

# same NAME FILE FORMAT: the image holds what the check leaves
same() {
	expected "$T/want.raw"
	if [ "$3" = raw ]; then
		cmp -s "$2" "$T/want.raw" && pass "$1.content" ||
		    fail "$1.content" "$(cmp "$2" "$T/want.raw" 2>&1)"
		return
	fi
	out=$(qemu-img check -q -f qcow2 "$2" 2>&1) && pass "$1.check" ||
	    fail "$1.check" "$out"
	out=$(qemu-img compare -q -f qcow2 -F raw "$2" "$T/want.raw" 2>&1) &&
	    pass "$1.compare" || fail "$1.compare" "$out"
}

# raw with vmctl start -d, and the raw: prefix
mkraw "$T/d.raw"
blk raw g1 -k blk -d "$T/d.raw" && same raw "$T/d.raw" raw
mkraw "$T/p.img"
blk rawprefix g1 -k blk -d "raw:$T/p.img" && same rawprefix "$T/p.img" raw

# vm.conf's disk with format raw
blk conf g2 -k blk && same conf "$T/conf.raw" raw

if [ $HAVE_QEMU_IMG = 1 ]; then
	mkraw "$T/src.raw"
	for v in "0.10 4k" "1.1 4k" "1.1 64k" "1.1 2M" "1.1 64k metadata"; do
		set -- $v
		n="qcow2-v$1-$2${3:+-$3}"
		f="$T/$n.qcow2"
		qemu-img convert -q -f raw -O qcow2 -o \
		    compat=$1,cluster_size=$2${3:+,preallocation=$3} \
		    "$T/src.raw" "$f"
		blk "$n" g1 -k blk -d "$f" && same "$n" "$f" qcow2
	done

	# an overlay over a base: the base stays as it was
	qemu-img convert -q -f raw -O qcow2 "$T/src.raw" "$T/base.qcow2"
	cp "$T/base.qcow2" "$T/base.copy"
	qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 "$T/over.qcow2"
	blk overlay g1 -k blk -d "$T/over.qcow2" &&
	    same overlay "$T/over.qcow2" qcow2
	cmp -s "$T/base.qcow2" "$T/base.copy" && pass overlay.base ||
	    fail overlay.base "the base changed"

	# blkcopy: raw onto qcow2, the copy as the source
	truncate -s 16M "$T/from.raw"
	dd if=/dev/urandom of="$T/from.raw" bs=1M count=16 conv=notrunc \
	    status=none
	qemu-img create -q -f qcow2 "$T/to.qcow2" 16M
	boot blkcopy g1 -k blkcopy -d "$T/from.raw" -d "$T/to.qcow2"
	grep -q "^PASS blkcopy: 16 MiB" "$T/blkcopy" && pass blkcopy.run ||
	    fail blkcopy.run "$(grep -E 'blkcopy|^FAIL' "$T/blkcopy" | head -2)"
	out=$(qemu-img compare -q -f raw -F qcow2 "$T/from.raw" \
	    "$T/to.qcow2" 2>&1) && pass blkcopy.compare ||
	    fail blkcopy.compare "$out"
fi

# pause and unpause while the guest's requests are in flight
truncate -s 64M "$T/bench.raw"
console_start pause vmctl start -c -k blkbench -d "$T/bench.raw" g1
sleep 1.5
vmctl pause g1 >/dev/null 2>&1 && sleep 1 && vmctl unpause g1 >/dev/null 2>&1 &&
    sleep 0.5 && vmctl pause g1 >/dev/null 2>&1 && sleep 0.5 &&
    vmctl unpause g1 >/dev/null 2>&1 || fail pause.ctl "pause/unpause failed"
console_wait pause 30
[ "$(grep -c "^PASS blkbench\." "$T/pause")" -eq 4 ] && pass pause.io ||
    fail pause.io "$(grep -E 'blkbench|^FAIL' "$T/pause" | tr '\n' ' ')"
wait_state g1 stopped 5 || fail pause.stopped "state '$(vm_state g1)'"

# a disk in use by a running VM is refused to another
mkraw "$T/busy.raw"
vmctl start -k interactive -d "$T/busy.raw" g1 >"$T/busy1" 2>&1
wait_state g1 running 10 || fail busy.first "$(cat "$T/busy1")"
out=$(vmctl start -b "$GUEST" -k blk -d "$T/busy.raw" busy2 2>&1) &&
    fail busy.refused "second VM started: $out"
case $out in
*"disk image is in use"*) pass busy.refused ;;
*) fail busy.refused "$out" ;;
esac

# the disk's process killed: the VM ends, the log says why
pid=$(for p in $(descendants "$VMD_PID"); do
	tr '\0' ' ' </proc/$p/cmdline 2>/dev/null | grep -q "vioblk" &&
	    echo $p
done | head -1)
if [ -n "$pid" ]; then
	kill -9 "$pid"
	wait_state g1 stopped 10 && pass killed.vm-ends ||
	    fail killed.vm-ends "state '$(vm_state g1)'"
	sleep 0.5
	grep -q "vm g1: vioblk 0: .*\(killed\|signal\)" "$T/vmd.log" &&
	    pass killed.logged ||
	    fail killed.logged "$(grep -i 'g1' "$T/vmd.log" | tail -3)"
else
	fail killed.found "no vioblk process for g1"
	vmctl stop -f g1 >/dev/null 2>&1
fi
[ -z "$FAILED" ]
