# vionet.sh: VM networks end to end, inside a network namespace this test
# makes (named after its run) and removes whatever happens: vmd runs in
# it, so its priv process makes its taps there and nothing is seen or
# sent outside.  A local interface: the guest's DHCP gets vmd's lease and
# options from the vionet process, the host pings the guest, the host
# side has its "local inet6" address, the tap goes when the VM stops.
# A switch (a Linux bridge with an address of the host's): two VMs on it
# answer the host's pings and a third guest pings one of them; a "locked lladdr" switch lets the guest with
# its own MAC through and drops a guest that claims another one (and the
# vionet process counts the spoofed frames).  A switch whose bridge does
# not exist: the start is refused, saying so.  vmd killed with SIGKILL:
# its taps are gone, and a tap of vmd's naming that a dead vmd left
# behind is removed by the next vmd at start.  vmctl start -L and -n do
# the same as vm.conf's local interface and switch.
TESTNAME=vionet
. "$(dirname "$0")/lib.subr"
need_root
if [ ! -c /dev/net/tun ]; then
	skip all "needs /dev/net/tun"
	exit 0
fi
for c in ip busybox; do
	command -v $c >/dev/null 2>&1 || { skip all "no $c"; exit 0; }
done
NS=vmdt-$VMD_TEST_RUN-net
BR=vmdbr0
trap 'cleanup; ip netns del "$NS" 2>/dev/null' EXIT
ip netns add "$NS" || { fail netns "cannot make a network namespace"; exit 1; }
nsip() { ip -n "$NS" "$@"; }
nsip link set lo up
nsip link add "$BR" type bridge && nsip link set "$BR" up &&
    nsip addr add 10.9.0.254/24 dev "$BR" ||
    { fail bridge "cannot make $BR"; exit 1; }

# vmd in the namespace: the same process (ip netns exec executes it)
cat >"$T/vmd-ns" <<EOF
#!/bin/sh
exec ip netns exec "$NS" "$TOP/usr.sbin/vmd/vmd" "\$@"
EOF
chmod +x "$T/vmd-ns"
VMD=$T/vmd-ns

cat >"$CONF" <<CONF
local inet6 prefix fd00:1234::/64
switch "sw0" {
	interface $BR
}
switch "swl" {
	interface $BR
	locked lladdr
}
switch "swx" {
	interface vmdnobr0
}
vm "loc" {
	disable
	memory 32M
	boot "$GUEST"
	local interface
}
vm "s1" {
	disable
	memory 32M
	boot "$GUEST"
	interface { switch "sw0" }
}
vm "s2" {
	disable
	memory 32M
	boot "$GUEST"
	interface { switch "sw0" }
}
vm "lk" {
	disable
	memory 32M
	boot "$GUEST"
	interface { switch "swl" }
}
vm "nobr" {
	disable
	memory 32M
	boot "$GUEST"
	interface { switch "swx" }
}
CONF
start_vmd || { fail start "vmd did not come up"; exit 1; }

# priv: root with CAP_NET_ADMIN alone, seccomp, no new privileges
priv=
for p in $(descendants "$VMD_PID"); do
	tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q "priv" &&
	    priv=$p
done
if [ -n "$priv" ]; then
	st=/proc/$priv/status
	if grep -q "^Uid:[[:space:]]*0[[:space:]]" "$st" &&
	    grep -q "^CapEff:[[:space:]]*0000000000001000$" "$st" &&
	    grep -q "^CapBnd:[[:space:]]*0000000000001000$" "$st" &&
	    grep -q "^Seccomp:[[:space:]]*2$" "$st" &&
	    grep -q "^NoNewPrivs:[[:space:]]*1$" "$st"; then
		pass priv-confined
	else
		fail priv-confined "$(grep -E '^(Uid|CapEff|CapBnd|Seccomp|NoNewPrivs):' "$st")"
	fi
else
	fail priv-confined "no priv process"
fi

# vmid NAME: the id vmd gave NAME's last start
vmid() {
	sed -n "s/.*started $1 (vm \([0-9]*\)) successfully.*/\1/p" \
	    "$T/vmd.log" | tail -n 1
}
# taps ID: the taps of vm ID in the namespace
taps() { nsip -br link 2>/dev/null | awk -v p="vm$1-if" 'index($1, p) == 1 {
	sub("@.*", "", $1); print $1 }'; }
# gone ID: wait until vm ID has no tap left
gone() {
	i=0
	while [ -n "$(taps "$1")" ] && [ $i -lt 100 ]; do
		sleep 0.1; i=$((i + 1))
	done
	[ -z "$(taps "$1")" ]
}
# ping ADDR [TRIES]: the host reaches ADDR from the namespace
ping_ok() {
	n=${2:-30}
	i=0
	while [ $i -lt "$n" ]; do
		ip netns exec "$NS" busybox ping -c 1 -W 1 "$1" \
		    >>"$T/ping.log" 2>&1 && return 0
		i=$((i + 1))
	done
	return 1
}
# up NAME ARGS: start NAME in the background with guest words ARGS
up() {
	vmctl start -k "$2" "$1" >>"$T/start.log" 2>&1 &&
	    wait_state "$1" running 10
}
down() {
	vmctl stop -f "$1" >/dev/null 2>&1
	wait_state "$1" stopped 10
}

# DHCP on a local interface: the guest's dhcp check sees vmd's lease
console_run dhcp 40 vmctl start -c -k "dhcp" loc
id=$(vmid loc)
want="PASS dhcp: vio0 100.64.$id.3/31 router 100.64.$id.2 dns 100.64.$id.2"
want="$want server 100.64.$id.2 lease infinite host name loc"
grep -q "^$want" "$T/dhcp" && pass dhcp ||
    fail dhcp "$(grep 'dhcp' "$T/dhcp" | tail -n 3)"
wait_state loc stopped 10
gone "$id" && pass dhcp-tap-gone || fail dhcp-tap-gone "$(taps "$id")"

# the host pings the guest on its local interface; local inet6
if up loc interactive; then
	id=$(vmid loc)
	ping_ok "100.64.$id.3" && pass local-ping ||
	    fail local-ping "no answer from 100.64.$id.3"
	tap=$(taps "$id")
	six=$(printf 'fd00:1234::6440:%x:0:1/96' $(((id << 8) | 3)))
	nsip -6 addr show dev "$tap" | grep -q "inet6 $six" &&
	    pass local-inet6 || fail local-inet6 "$tap has no $six: \
$(nsip -6 -br addr show dev "$tap")"
	nsip -4 addr show dev "$tap" | grep -q "inet 100.64.$id.2/31" &&
	    pass local-inet4 || fail local-inet4 "$(nsip -br addr)"
	down loc
	gone "$id" && pass stop-tap-gone || fail stop-tap-gone "$(taps "$id")"
else
	fail local-start "$(tail -n 3 "$T/start.log")"
fi

# two VMs on one switch, both reached through the bridge
if up s1 "interactive ip=10.9.0.1:::255.255.255.0" &&
    up s2 "interactive ip=10.9.0.2:::255.255.255.0"; then
	t1=$(taps "$(vmid s1)")
	nsip link show dev "$t1" | grep -q "master $BR" &&
	    pass switch-member || fail switch-member "$(nsip link show dev "$t1")"
	nsip -d link show dev "$t1" | grep -q "alias vm$(vmid s1)-if0-s1" &&
	    pass tap-alias || fail tap-alias "$(nsip -d link show dev "$t1")"
	ping_ok 10.9.0.1 && ping_ok 10.9.0.2 && pass switch-ping ||
	    fail switch-ping "$(tail -n 4 "$T/ping.log")"
	# and a third guest pings the first through the switch
	timeout 90 "$VMCTL" -s "$SOCK" start -c -m 32M -n sw0 -b "$GUEST" \
	    -k "ping ip=10.9.0.3:10.9.0.1::255.255.255.0" pinger </dev/null \
	    >"$T/pinger.raw" 2>&1
	tr -d '\r' <"$T/pinger.raw" >"$T/pinger"
	grep -q "^PASS ping: 20/20 replies from 10.9.0.1" "$T/pinger" &&
	    pass vm-to-vm-ping || fail vm-to-vm-ping \
	    "$(grep ping "$T/pinger" | tail -n 2)"
else
	fail switch-start "$(tail -n 3 "$T/start.log")"
fi
down s1
down s2

# locked lladdr: its own MAC goes through, another one reaches nobody
if up lk "interactive ip=10.9.0.9:::255.255.255.0"; then
	ping_ok 10.9.0.9 && pass locked-own-mac ||
	    fail locked-own-mac "$(tail -n 4 "$T/ping.log")"
	down lk
	nsip neigh flush dev "$BR" 2>/dev/null
fi
if up lk "interactive ip=10.9.0.9:::255.255.255.0 mac=fe:e1:bb:00:00:99"; then
	ping_ok 10.9.0.9 5 && fail locked-spoof "the spoofer answered" ||
	    pass locked-spoof
	down lk
	n=$(sed -n 's/.*vm lk vionet 0: tx .* \([0-9]*\) spoofed.*/\1/p' \
	    "$T/vmd.log" | tail -n 1)
	[ "${n:-0}" -gt 0 ] && pass locked-counted ||
	    fail locked-counted "no spoofed frames counted"
else
	fail locked-start "$(tail -n 3 "$T/start.log")"
fi

# a switch whose bridge is missing
out=$(vmctl start nobr 2>&1)
case $out in
*"bridge vmdnobr0 does not exist"*) pass missing-bridge ;;
*) fail missing-bridge "$out" ;;
esac
[ "$(vm_state nobr)" = stopped ] && pass missing-bridge-stopped ||
    fail missing-bridge-stopped "state $(vm_state nobr)"

# vmctl -L and -n: a VM of vmctl's own
if vmctl start -L -n sw0 -k "interactive ip=10.9.0.5:::255.255.255.0" \
    -m 32M -b "$GUEST" cli >>"$T/start.log" 2>&1 &&
    wait_state cli running 10; then
	id=$(vmid cli)
	n=$(taps "$id" | wc -l)
	[ "$n" -eq 2 ] && pass vmctl-interfaces ||
	    fail vmctl-interfaces "$n taps: $(taps "$id")"
	nsip link show dev "$(taps "$id" | grep if1)" 2>/dev/null |
	    grep -q "master $BR" && pass vmctl-switch ||
	    fail vmctl-switch "interface 1 is not on $BR"
	nsip -4 addr show dev "$(taps "$id" | grep if0)" 2>/dev/null |
	    grep -q "inet 100.64.$id.2/31" && pass vmctl-local ||
	    fail vmctl-local "$(nsip -br addr)"
	down cli
else
	fail vmctl-start "$(tail -n 3 "$T/start.log")"
fi

# SIGKILL: the taps go with vmd; the next vmd removes what one left
if up s1 "interactive ip=10.9.0.1:::255.255.255.0"; then
	id=$(vmid s1)
	tap=$(taps "$id")
	tag=${tap#vm"$id"-if0}
	kill -KILL "$VMD_PID"
	gone "$id" && pass sigkill-taps-gone || fail sigkill-taps-gone \
	    "$(taps "$id")"
	wait "$VMD_PID" 2>/dev/null
	# what a vmd killed mid-way could leave: a tap of its naming
	nsip tuntap add dev "vm77-if0$tag" mode tap &&
	    nsip link set dev "vm77-if0$tag" alias "vm77-if0-ghost" &&
	    nsip tuntap add dev "vm78-if0-other" mode tap ||
	    fail leftover "cannot make a leftover tap"
	rm -f "$SOCK"
	mv "$T/vmd.log" "$T/vmd.log.1"
	if start_vmd; then
		gone 77 && pass restart-cleanup ||
		    fail restart-cleanup "$(taps 77)"
		[ -n "$(taps 78)" ] && pass restart-not-others ||
		    fail restart-not-others "another tap was removed"
		# logged through the parent, maybe after the tap went
		wait_for "$T/vmd.log" "removed tap vm77-if0$tag" 5 &&
		    pass restart-logged || fail restart-logged "no log line"
	else
		fail restart "vmd did not come up again"
	fi
	nsip link del "vm78-if0-other" 2>/dev/null
else
	fail sigkill-start "$(tail -n 3 "$T/start.log")"
fi
exit 0
