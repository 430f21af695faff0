# dhcp_client.sh: a real DHCP client against dhcp.c.  busybox udhcpc
# runs on the host side of a tap whose other side is regress/net/dhcp_tap
# (dhcp.c behind a virtio-net header, as in a vionet process), inside a
# network namespace made for this and removed on exit.  It checks the
# lease and every option udhcpc hands its script, the broadcast flag,
# the auto_install file name, and a unicast renewal.
TESTNAME=dhcp_client
. "$(dirname "$0")/lib.subr"
if [ "$(id -u)" -ne 0 ] || [ ! -c /dev/net/tun ]; then
	skip all "needs root and /dev/net/tun"
	exit 0
fi
for c in ip busybox; do
	command -v $c >/dev/null 2>&1 || { skip all "no $c"; exit 0; }
done
NS=vmdtest-dhcp-$$
HPID= CPID=
trap '[ -n "$CPID" ] && kill "$CPID" 2>/dev/null
    [ -n "$HPID" ] && kill "$HPID" 2>/dev/null
    ip netns del "$NS" 2>/dev/null; cleanup' EXIT
ip netns add "$NS" || { fail netns "cannot make a network namespace"; exit 1; }
EVENTS=$T/events
export EVENTS
cat >"$T/hook" <<'HOOK'
#!/bin/sh
echo "$1 ip=$ip mask=$mask subnet=$subnet router=$router dns=$dns" \
    "hostname=$hostname serverid=$serverid lease=$lease" \
    "boot_file=$boot_file siaddr=$siaddr" >>"$EVENTS"
case $1 in
bound|renew) ip addr replace "$ip/$mask" dev "$interface" ;;
esac
HOOK
chmod +x "$T/hook"

# harness PXEBOOT: start dhcp_tap on vm1-if0 and wait for the tap
harness() {
	ip netns exec "$NS" "$TOP/regress/net/dhcp_tap" vm1-if0 web1 "$1" 60 \
	    >"$T/harness.out" 2>>"$T/harness.log" &
	HPID=$!
	i=0
	while ! grep -q ready "$T/harness.out" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 50 ] && return 1
		kill -0 "$HPID" 2>/dev/null || return 1
		sleep 0.1
	done
}
harness_stop() {
	kill "$HPID" 2>/dev/null; wait "$HPID" 2>/dev/null; HPID=
}
udhcpc() {
	ip netns exec "$NS" busybox udhcpc -i vm1-if0 -f -n -t 5 -T 1 \
	    -s "$T/hook" "$@" >>"$T/udhcpc.log" 2>&1
}
want="ip=100.64.1.3 mask=31 subnet=255.255.255.254 router=100.64.1.2"
want="$want dns=100.64.1.2 hostname=web1 serverid=100.64.1.2"
want="$want lease=4294967295"
show() {
	echo "--- events"; cat "$EVENTS"
	echo "--- harness"; tail -n 20 "$T/harness.log"
	echo "--- udhcpc"; tail -n 20 "$T/udhcpc.log"
}

# a plain lease: DISCOVER, OFFER, REQUEST, ACK, all unicast replies
: >"$EVENTS"
if harness 0 && udhcpc -q; then
	grep -q "^bound $want boot_file= siaddr=100.64.1.2\$" "$EVENTS" &&
	    pass lease || { fail lease "wrong lease"; show; }
else
	fail lease "no lease"; show
fi
harness_stop

# boot device net, and a client that asks for broadcast replies
: >"$EVENTS"
if harness 1 && udhcpc -q -B; then
	grep -q "^bound $want boot_file=auto_install " "$EVENTS" &&
	    pass auto_install || { fail auto_install "wrong lease"; show; }
else
	fail auto_install "no lease"; show
fi
harness_stop

# a renewal: unicast REQUEST to the server, which answers ARP too
: >"$EVENTS"
harness 0
ip netns exec "$NS" busybox udhcpc -i vm1-if0 -f -t 5 -T 1 \
    -s "$T/hook" >>"$T/udhcpc.log" 2>&1 &
CPID=$!
i=0
while ! grep -q "^bound" "$EVENTS" && [ $i -lt 100 ]; do
	sleep 0.1; i=$((i + 1))
done
kill -USR1 "$CPID"
i=0
while ! grep -q "^renew" "$EVENTS" && [ $i -lt 100 ]; do
	sleep 0.1; i=$((i + 1))
done
grep -q "^renew $want " "$EVENTS" && pass renew ||
    { fail renew "no renewal"; show; }
kill "$CPID"; wait "$CPID" 2>/dev/null; CPID=
harness_stop
grep -q "answered" "$T/harness.log" && pass harness ||
    fail harness "the harness answered nothing"
