#!/bin/sh
# qemu-check.sh: drives the test guest's virtio checks and modes under
# QEMU (-M pc, KVM), the referee our vmd's devices will be held to: blk on
# raw and qcow2 images (MSI-X and INTx), cdrom on an ISO made by xorriso,
# rng and the DEVICE_NEEDS_RESET path (rngreset), smp with 2 and 4 vCPUs, blkcopy, blkbench, and, as root, dhcp
# against busybox udhcpd, ping of an interactive guest and netbench with
# bench/netpeer.c, on a tap inside a network namespace made here and
# removed on exit.  It prints PASS/FAIL/SKIP lines and a closing
# "N passed, N failed, N skipped".  make test runs it with -a tcg
# through regress/e2e/guest_qemu.sh (about 30 s; KVM on a host that
# emulates guest CPL 0 code takes over a minute).
#
# usage: sh regress/guest/qemu-check.sh [-a kvm|tcg] [name ...]
#   names: blk qcow2 intx cdrom rng smp blkcopy blkbench dhcp ping netbench
#
# It kills only the processes it started, and sends traffic only inside
# its own namespace.
cd "$(dirname "$0")/../.." || exit 1
GUEST=$PWD/regress/guest/guest.elf
ACCEL=kvm
if [ "$1" = "-a" ]; then
	ACCEL=$2
	shift 2
fi
WANT=" ${*:-blk qcow2 intx cdrom rng smp blkcopy blkbench dhcp ping netbench} "
T=$(mktemp -d /tmp/qemu-check.XXXXXX) || exit 1
NS=qck$$
PIDS=""
pass=0 fail=0 skip=0

cleanup() {
	for p in $PIDS; do
		kill "$p" 2>/dev/null
	done
	for p in $PIDS; do
		wait "$p" 2>/dev/null
	done
	ip netns del "$NS" 2>/dev/null
	[ -n "$KEEP" ] || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
skp() { echo "SKIP $1: $2"; skip=$((skip + 1)); }
want() { case $WANT in *" $1 "*) return 0;; esac; return 1; }

# qemu NAME APPEND [qemu args]: boots the guest, output in $T/NAME.out
qemu() {
	name=$1 append=$2
	shift 2
	timeout 180 ${NSEXEC:-} qemu-system-x86_64 -M pc -accel "$ACCEL" \
	    -m 256 -kernel "$GUEST" -append "$append" -display none \
	    -serial stdio -monitor none -no-reboot "$@" \
	    </dev/null >"$T/$name.con" 2>"$T/$name.err"
	# Guest lines end in CR LF.
	tr -d '\r' <"$T/$name.con" >"$T/$name.out"
}

# expect NAME REGEX: the guest printed a line matching REGEX
expect() {
	if grep -q "$2" "$T/$1.out"; then
		ok "$1"
	else
		bad "$1" "no line matching '$2'; guest said: $(grep -E \
		    '^(FAIL|SKIP)' "$T/$1.out" | head -3 | tr '\n' ' ')"
	fi
}

# The host's half of the blk contract (README): sectors 0-7 hold
# "vmdblk: sector NNNNNNNN pattern\n" 16 times each.
pattern() {
	s=0
	while [ $s -lt 8 ]; do
		j=0
		while [ $j -lt 16 ]; do
			printf 'vmdblk: sector %08d pattern\n' $s
			j=$((j + 1))
		done
		s=$((s + 1))
	done
}

written() {
	s=8
	while [ $s -lt 16 ]; do
		j=0
		while [ $j -lt 16 ]; do
			printf 'vmdblk: sector %08d written\n' $s
			j=$((j + 1))
		done
		s=$((s + 1))
	done
}

# check_written NAME RAWFILE: sectors 8-15 hold what the guest wrote
check_written() {
	written >"$T/want"
	dd if="$2" bs=512 skip=8 count=8 status=none >"$T/got"
	if cmp -s "$T/want" "$T/got"; then
		ok "$1.host"
	else
		bad "$1.host" "sectors 8-15 do not hold the guest's pattern"
	fi
}

for tool in qemu-system-x86_64 qemu-img xorriso busybox; do
	command -v $tool >/dev/null || {
		echo "qemu-check.sh: $tool is missing (sh deps.sh installs it)"
		exit 1
	}
done
[ -f "$GUEST" ] || { echo "qemu-check.sh: build $GUEST first (make)"; exit 1; }

pattern >"$T/pattern"
mkraw() {
	truncate -s 16M "$1"
	dd if="$T/pattern" of="$1" conv=notrunc status=none
}

if want blk; then
	mkraw "$T/blk.raw"
	qemu blk "blk" -drive if=virtio,file="$T/blk.raw",format=raw
	expect blk "^PASS blk: .*(msix)"
	check_written blk "$T/blk.raw"
fi

if want intx; then
	mkraw "$T/intx.raw"
	qemu intx "blk rng intx" \
	    -drive if=virtio,file="$T/intx.raw",format=raw \
	    -device virtio-rng-pci
	expect intx "^PASS blk: .*(intx irq [0-9]*)"
	grep -q "^PASS rng: .*(intx irq [0-9]*)" "$T/intx.out" &&
	    ok intx.rng || bad intx.rng "rng over INTx did not pass"
	check_written intx "$T/intx.raw"
fi

if want qcow2; then
	mkraw "$T/src.raw"
	qemu-img convert -f raw -O qcow2 "$T/src.raw" "$T/blk.qcow2"
	qemu qcow2 "blk" -drive if=virtio,file="$T/blk.qcow2",format=qcow2
	expect qcow2 "^PASS blk: "
	if qemu-img check -q "$T/blk.qcow2"; then
		qemu-img convert -f qcow2 -O raw "$T/blk.qcow2" "$T/back.raw"
		check_written qcow2 "$T/back.raw"
	else
		bad qcow2.host "qemu-img check failed"
	fi
fi

if want cdrom; then
	mkdir -p "$T/iso"
	echo "vmd test cdrom" >"$T/iso/readme.txt"
	xorriso -as mkisofs -quiet -V VMDQEMUCD -o "$T/cd.iso" "$T/iso" \
	    2>/dev/null
	qemu cdrom "cdrom" -device virtio-scsi-pci,id=scsi0 \
	    -drive "if=none,id=cd,file=$T/cd.iso,format=raw,media=cdrom" \
	    -device scsi-cd,bus=scsi0.0,drive=cd
	expect cdrom "^PASS cdrom: .*sector 16 volume 'VMDQEMUCD'"
fi

if want rng; then
	qemu rng "rng rngreset" -device virtio-rng-pci
	expect rng "^PASS rng: "
	grep -q "^PASS rngreset: " "$T/rng.out" && ok rngreset ||
	    bad rngreset "$(grep "rngreset" "$T/rng.out")"
fi

if want smp; then
	qemu smp2 "smp" -smp 2
	expect smp2 "^PASS smp: 2 of 2 CPUs up"
	qemu smp4 "smp" -smp 4
	expect smp4 "^PASS smp: 4 of 4 CPUs up"
fi

if want blkcopy; then
	dd if=/dev/urandom of="$T/from.raw" bs=1M count=24 status=none
	qemu-img create -q -f qcow2 "$T/to.qcow2" 32M
	qemu blkcopy "blkcopy" \
	    -drive if=virtio,file="$T/from.raw",format=raw \
	    -drive if=virtio,file="$T/to.qcow2",format=qcow2
	expect blkcopy "^PASS blkcopy: 24 MiB in [0-9]* ms"
	qemu-img convert -f qcow2 -O raw "$T/to.qcow2" "$T/to.raw"
	if cmp -s -n $((24 << 20)) "$T/from.raw" "$T/to.raw"; then
		ok blkcopy.host
	else
		bad blkcopy.host "second disk differs from the first"
	fi
fi

if want blkbench; then
	truncate -s 64M "$T/bench.raw"
	qemu blkbench "blkbench" -drive if=virtio,file="$T/bench.raw",format=raw
	for l in seqread seqwrite; do
		grep "^PASS blkbench.$l: [0-9]* MB/s$" "$T/blkbench.out" \
		    >/dev/null || bad blkbench.$l "no result"
	done
	for l in randread randwrite; do
		grep "^PASS blkbench.$l: [0-9]* IOPS$" "$T/blkbench.out" \
		    >/dev/null || bad blkbench.$l "no result"
	done
	expect blkbench "^PASS blkbench.randwrite: "
	grep "^PASS blkbench" "$T/blkbench.out" | sed 's/^PASS /note: /'
fi

# The network cases: a namespace with a tap, QEMU inside it.
if want dhcp || want ping || want netbench; then
	if [ "$(id -u)" -ne 0 ]; then
		skp net "needs root for a network namespace"
		WANT=""
	elif ! ip netns add "$NS" 2>/dev/null; then
		skp net "cannot create a network namespace"
		WANT=""
	else
		NSEXEC="ip netns exec $NS"
		$NSEXEC ip link set lo up
		$NSEXEC ip tuntap add dev tap0 mode tap
		$NSEXEC ip addr add 10.99.0.1/24 dev tap0
		$NSEXEC ip link set tap0 up
	fi
fi
STATIC=10.99.0.5:10.99.0.1::255.255.255.0
NETDEV="-netdev tap,id=n0,ifname=tap0,script=no,downscript=no,vhost=off
    -device virtio-net-pci,netdev=n0"

if want dhcp; then
	cat >"$T/udhcpd.conf" <<EOF
start 10.99.0.10
end 10.99.0.20
interface tap0
lease_file $T/udhcpd.leases
pidfile $T/udhcpd.pid
option subnet 255.255.255.0
option router 10.99.0.1
option dns 10.99.0.1
option lease 3600
option hostname qemuguest
EOF
	: >"$T/udhcpd.leases"
	$NSEXEC busybox udhcpd -f "$T/udhcpd.conf" >"$T/udhcpd.log" 2>&1 &
	PIDS="$PIDS $!"
	qemu dhcp "dhcp" $NETDEV
	N='10\.99\.0'
	expect dhcp "^PASS dhcp: vio0 $N\.[0-9]*/24 router $N\.1 dns $N\.1 \
server $N\.1 lease 3600 s host name qemuguest"
fi

if want ping; then
	mkfifo "$T/in"
	# An interactive guest with a static address; the host pings it.
	timeout 120 $NSEXEC qemu-system-x86_64 -M pc -accel "$ACCEL" -m 256 \
	    -kernel "$GUEST" -append "interactive ip=$STATIC" \
	    -display none -serial stdio -monitor none -no-reboot $NETDEV \
	    <"$T/in" >"$T/ping.out" 2>"$T/ping.err" &
	QPID=$!
	PIDS="$PIDS $QPID"
	exec 3>"$T/in"
	i=0
	while [ $i -lt 60 ] && ! grep -q "guest> " "$T/ping.out"; do
		sleep 0.5
		i=$((i + 1))
	done
	if $NSEXEC busybox ping -c 3 -W 3 10.99.0.5 >"$T/ping.log" 2>&1; then
		ok ping
	else
		bad ping "no echo reply: $(tail -1 "$T/ping.log")"
	fi
	printf 'poweroff\r' >&3
	exec 3>&-
	wait $QPID
	grep -q "^ALL DONE" "$T/ping.out" && ok ping.poweroff ||
	    bad ping.poweroff "guest did not power off"
fi

if want netbench; then
	if cc -O2 -o "$T/netpeer" bench/netpeer.c 2>"$T/cc.err"; then
		$NSEXEC "$T/netpeer" -b 10.99.0.1 -w 90 -t 10 \
		    >"$T/netpeer.log" 2>&1 &
		PIDS="$PIDS $!"
		qemu netbench "netbench ip=$STATIC" $NETDEV
		grep "^PASS netbench.tx: [0-9]* pkt/s [0-9]* MB/s$" \
		    "$T/netbench.out" >/dev/null && ok netbench.tx ||
		    bad netbench.tx "no result"
		expect netbench "^PASS netbench.rx: [0-9]* pkt/s [0-9]* MB/s$"
		grep "^PASS netbench" "$T/netbench.out" | sed 's/^PASS /note: /'
	else
		bad netbench "cannot build bench/netpeer.c"
	fi
fi

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
