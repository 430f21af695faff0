#!/bin/sh
# blkbench.sh: the test guest's blkbench (sequential 1 MiB reads and
# writes, 4 KiB random reads and writes, as deep as the queue allows)
# on the same raw and qcow2 images, under vmd (one vioblk process per
# disk) and under QEMU with -drive if=virtio,cache=none and
# cache=writeback,aio=threads, plus dd of the raw image from the page
# cache as the limit; and the peak resident memory of the vioblk
# process.  Run as root from the top of the tree after make:
#
#	sh bench/blkbench.sh [-s MiB] [-d dir]
#
# The images (default 512 MiB of random bytes) live in a directory of
# dir (default /var/tmp), removed at the end; it kills only what it
# started.  It measures; it never passes or fails.
cd "$(dirname "$0")/.." || exit 1
SIZE=512 DIR=/var/tmp
while getopts s:d: o; do
	case $o in
	s) SIZE=$OPTARG ;;
	d) DIR=$OPTARG ;;
	*) echo "usage: $0 [-s MiB] [-d dir]" >&2; exit 1 ;;
	esac
done
TOP=$PWD
GUEST=$TOP/regress/guest/guest.elf
VMD=$TOP/usr.sbin/vmd/vmd
VMCTL=$TOP/usr.sbin/vmctl/vmctl
T=$(mktemp -d "$DIR/blkbench.XXXXXX") || exit 1
SOCK=$T/vmd.sock
VMD_PID=
cleanup() {
	[ -n "$VMD_PID" ] && kill "$VMD_PID" 2>/dev/null && wait "$VMD_PID"
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

echo "# images: $SIZE MiB in $DIR ($(df -T "$DIR" | awk 'NR==2 {print $2}'))"
dd if=/dev/urandom of="$T/img.raw" bs=1M count="$SIZE" status=none
qemu-img convert -f raw -O qcow2 "$T/img.raw" "$T/img.qcow2"

cat >"$T/vm.conf" <<CONF
vm "bench" {
	disable
	memory 256M
	boot "$GUEST"
}
CONF
"$VMD" -d -f "$T/vm.conf" -s "$SOCK" >"$T/vmd.log" 2>&1 &
VMD_PID=$!
i=0
while [ ! -S "$SOCK" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done

# results NAME FILE: the guest's four numbers on one line
results() {
	tr -d '\r' <"$2" | awk -v n="$1" '
	    /^PASS blkbench\./ { sub(/^PASS blkbench\./, ""); r = r " " $0 }
	    END { printf "%-28s%s\n", n, r }'
}

# the vioblk process of VM bench
vioblk_pid() {
	for p in $(cat /proc/"$VMD_PID"/task/*/children 2>/dev/null); do
		for c in $p $(cat /proc/"$p"/task/*/children 2>/dev/null); do
			tr '\0' ' ' </proc/"$c"/cmdline 2>/dev/null |
			    grep -q "bench vioblk 0" && echo "$c"
		done
	done | head -1
}

vmd_run() {
	NAME=$1
	"$VMCTL" -s "$SOCK" start -c -k blkbench -d "$2" bench \
	    </dev/null >"$T/out" 2>&1 &
	cpid=$!
	# its own memory (RssAnon) apart from guest RAM it touched
	# (RssShmem) and the binary and libraries (RssFile), at their peak
	anon=0 file=0 shm=0 pid=
	while kill -0 $cpid 2>/dev/null; do
		[ -n "$pid" ] || pid=$(vioblk_pid)
		if [ -n "$pid" ]; then
			set -- $(awk '/^RssAnon/ {a=$2} /^RssFile/ {f=$2}
			    /^RssShmem/ {s=$2} END {print a+0, f+0, s+0}' \
			    /proc/"$pid"/status 2>/dev/null)
			[ -n "$1" ] && [ "$1" -gt $anon ] && anon=$1
			[ -n "$2" ] && [ "$2" -gt $file ] && file=$2
			[ -n "$3" ] && [ "$3" -gt $shm ] && shm=$3
		fi
		sleep 0.1
	done
	results "$NAME" "$T/out"
	echo "#   vioblk process peak RSS: anon $anon KiB, file $file KiB," \
	    "guest RAM $shm KiB"
}

qemu_run() {
	timeout 120 qemu-system-x86_64 -M pc -accel kvm -m 256 \
	    -kernel "$GUEST" -append blkbench -display none -serial stdio \
	    -monitor none -no-reboot -drive "$2" </dev/null >"$T/out" 2>&1
	results "$1" "$T/out"
}

echo "# MB/s for seqread seqwrite, IOPS for randread randwrite"
vmd_run "vmd raw" "raw:$T/img.raw"
vmd_run "vmd qcow2" "qcow2:$T/img.qcow2"
for f in raw qcow2; do
	qemu_run "qemu $f cache=none" \
	    "if=virtio,file=$T/img.$f,format=$f,cache=none"
	qemu_run "qemu $f writeback,threads" \
	    "if=virtio,file=$T/img.$f,format=$f,cache=writeback,aio=threads"
done
cat "$T/img.raw" >/dev/null
echo "dd from page cache: $(dd if="$T/img.raw" of=/dev/null bs=1M 2>&1 |
    awk '/copied/ {print $(NF-1), $NF}')"
