#!/bin/sh
# net_bench.sh: virtio-net throughput and latency, vmd beside QEMU, the
# same test guest and the same setup: a network namespace made here (and
# removed on exit), the host side an address on the guest's tap, the
# guest's netbench mode against bench/netpeer.  vmd: a local interface
# (its tap made by priv, frames moved by the vionet process); QEMU:
# -netdev tap,vhost=off -device virtio-net-pci on a tap made here.  For
# each, ROUNDS runs of netbench (tx: guest to host, rx: host to guest,
# MTU-sized UDP frames) and the host's ping of the interactive guest
# (busybox ping, 50 echoes 20 ms apart); the median of each is printed.
# Then a VM-to-VM round trip: two guests on one bridge (a vmd switch;
# two QEMU taps in a bridge), one interactive, the other in the guest's
# ping mode (20 echoes).  Then the memory of the vionet process of the
# VM that ran netbench and answered the pings.  It measures
# only.  Run as root:  sh bench/net_bench.sh [rounds]
ROUNDS=${1:-3}
TOP=$(cd "$(dirname "$0")/.." && pwd)
GUEST=$TOP/regress/guest/guest.elf
VMD=$TOP/usr.sbin/vmd/vmd
VMCTL=$TOP/usr.sbin/vmctl/vmctl
NS=vmdbench-net-$$
T=$(mktemp -d "${TMPDIR:-/tmp}/net_bench.XXXXXX")
VPID= PPID_= QPID=
cleanup() {
	for p in $QPID $PPID_; do kill "$p" 2>/dev/null; done
	if [ -n "$VPID" ]; then
		kill "$VPID" 2>/dev/null
		sleep 1
		kill -9 "$VPID" 2>/dev/null
	fi
	ip netns del "$NS" 2>/dev/null
	[ -n "$KEEP" ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
[ "$(id -u)" -eq 0 ] || { echo "run as root"; exit 1; }
cc -O2 -o "$T/netpeer" "$TOP/bench/netpeer.c" || exit 1
ip netns add "$NS" || exit 1
NSX="ip netns exec $NS"
$NSX ip link set lo up

# stopped NAME: wait until vmd says NAME is stopped
stopped() {
	i=0
	while [ $i -lt 100 ] && ! "$VMCTL" -s "$T/sock" status 2>/dev/null |
	    awk -v n="$1" '$NF == n && $(NF-1) == "stopped" { f = 1 }
	    END { exit !f }'; do
		sleep 0.1; i=$((i + 1))
	done
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# peer: one netpeer for one guest run, on any address of the namespace
# (a vmd tap and its address only appear when the VM starts)
peer() {
	$NSX "$T/netpeer" -w 60 -t 5 >>"$T/netpeer.log" 2>&1 &
	PPID_=$!
}

# --- vmd: a local interface, 100.64.1.2 on the host side
$NSX ip link add vbr0 type bridge
$NSX ip link set vbr0 up
cat >"$T/vm.conf" <<EOF
switch "sw" {
	interface vbr0
}
vm "nb" {
	disable
	memory 64M
	boot "$GUEST"
	local interface
}
vm "pa" {
	disable
	memory 64M
	boot "$GUEST"
	interface { switch "sw" }
}
vm "pb" {
	disable
	memory 64M
	boot "$GUEST"
	interface { switch "sw" }
}
EOF
$NSX "$VMD" -d -f "$T/vm.conf" -s "$T/sock" >"$T/vmd.log" 2>&1 &
VPID=$!
i=0
while [ ! -S "$T/sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
STATIC=100.64.1.3:100.64.1.2::255.255.255.254
r=0
while [ $r -lt "$ROUNDS" ]; do
	peer
	"$VMCTL" -s "$T/sock" start -c -k "netbench ip=$STATIC" nb \
	    </dev/null 2>&1 | tr -d '\r' >"$T/vmd.nb.$r"
	wait "$PPID_" 2>/dev/null
	stopped nb
	r=$((r + 1))
done
# ping of an interactive guest
stopped nb
"$VMCTL" -s "$T/sock" start -k "interactive ip=$STATIC" nb >/dev/null 2>&1
sleep 3
$NSX busybox ping -c 50 -i 0.02 100.64.1.3 >"$T/vmd.ping" 2>&1
# memory of the vionet process, after the pings
vp=
for p in /proc/[0-9]*; do
	tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -q "vm nb vionet" &&
	    vp=${p#/proc/}
done
[ -n "$vp" ] && grep -E '^(VmHWM|VmRSS|RssAnon|RssFile|RssShmem):' \
    "/proc/$vp/status" >"$T/vionet.mem"
"$VMCTL" -s "$T/sock" stop -f nb >/dev/null 2>&1
# VM to VM
"$VMCTL" -s "$T/sock" start -k "interactive ip=10.9.0.1:::255.255.255.0" pa \
    >/dev/null 2>&1
sleep 3
timeout 90 "$VMCTL" -s "$T/sock" start -c \
    -k "ping ip=10.9.0.2:10.9.0.1::255.255.255.0" pb </dev/null 2>&1 |
    tr -d '\r' >"$T/vmd.v2v"
"$VMCTL" -s "$T/sock" stop -f pa >/dev/null 2>&1
kill "$VPID"; wait "$VPID" 2>/dev/null; VPID=

# --- QEMU: a tap made here, 10.99.0.1 on the host side
$NSX ip tuntap add dev qtap0 mode tap
$NSX ip addr add 10.99.0.1/24 dev qtap0
$NSX ip link set qtap0 up
QSTATIC=10.99.0.5:10.99.0.1::255.255.255.0
NETDEV="-netdev tap,id=n0,ifname=qtap0,script=no,downscript=no,vhost=off
    -device virtio-net-pci,netdev=n0"
r=0
while [ $r -lt "$ROUNDS" ]; do
	peer
	timeout 120 $NSX qemu-system-x86_64 -M pc -accel kvm -m 64 \
	    -kernel "$GUEST" -append "netbench ip=$QSTATIC" -display none \
	    -serial stdio -monitor none -no-reboot $NETDEV </dev/null 2>&1 |
	    tr -d '\r' >"$T/qemu.nb.$r"
	wait "$PPID_" 2>/dev/null
	r=$((r + 1))
done
mkfifo "$T/in"
timeout 120 $NSX qemu-system-x86_64 -M pc -accel kvm -m 64 \
    -kernel "$GUEST" -append "interactive ip=$QSTATIC" -display none \
    -serial stdio -monitor none -no-reboot $NETDEV <"$T/in" \
    >"$T/qemu.int" 2>&1 &
QPID=$!
exec 3>"$T/in"
i=0
while [ $i -lt 60 ] && ! grep -q "guest> " "$T/qemu.int"; do
	sleep 0.5; i=$((i + 1))
done
$NSX busybox ping -c 50 -i 0.02 10.99.0.5 >"$T/qemu.ping" 2>&1
printf 'poweroff\r' >&3
exec 3>&-
wait "$QPID" 2>/dev/null; QPID=
# VM to VM: two taps in a bridge
$NSX ip link add qbr0 type bridge
$NSX ip link set qbr0 up
for t in qtap1 qtap2; do
	$NSX ip tuntap add dev $t mode tap
	$NSX ip link set $t master qbr0
	$NSX ip link set $t up
done
timeout 120 $NSX qemu-system-x86_64 -M pc -accel kvm -m 64 \
    -kernel "$GUEST" -append "interactive ip=10.9.0.1:::255.255.255.0" \
    -display none -serial null -monitor none -no-reboot \
    -netdev tap,id=n0,ifname=qtap1,script=no,downscript=no,vhost=off \
    -device virtio-net-pci,netdev=n0,mac=52:54:00:00:00:01 </dev/null \
    >/dev/null 2>&1 &
QPID=$!
sleep 3
timeout 120 $NSX qemu-system-x86_64 -M pc -accel kvm -m 64 \
    -kernel "$GUEST" -append "ping ip=10.9.0.2:10.9.0.1::255.255.255.0" \
    -display none -serial stdio -monitor none -no-reboot \
    -netdev tap,id=n0,ifname=qtap2,script=no,downscript=no,vhost=off \
    -device virtio-net-pci,netdev=n0,mac=52:54:00:00:00:02 </dev/null 2>&1 |
    tr -d '\r' >"$T/qemu.v2v"
kill "$QPID" 2>/dev/null; wait "$QPID" 2>/dev/null; QPID=

# --- results
for who in vmd qemu; do
	for dir in tx rx; do
		for k in pkt MB; do
			cat "$T"/$who.nb.* | sed -n \
			    "s|^PASS netbench.$dir: \([0-9]*\) pkt/s \([0-9]*\) MB/s|\1 \2|p" |
			    awk -v k=$k '{ print (k == "pkt") ? $1 : $2 }' |
			    median >"$T/$who.$dir.$k"
		done
		printf '%-5s netbench.%s: %s pkt/s %s MB/s (median of %s)\n' \
		    $who $dir "$(cat "$T/$who.$dir.pkt")" \
		    "$(cat "$T/$who.$dir.MB")" "$ROUNDS"
	done
	printf '%-5s ping host->guest: %s\n' $who \
	    "$(grep 'round-trip' "$T/$who.ping" || tail -1 "$T/$who.ping")"
	printf '%-5s ping VM->VM: %s\n' $who \
	    "$(grep 'ping:' "$T/$who.v2v" | tail -1)"
done
echo "vmd   vionet process (nb, after netbench and pings):"
sed 's/^/      /' "$T/vionet.mem" 2>/dev/null
