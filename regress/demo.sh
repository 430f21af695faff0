#!/bin/sh
# demo.sh: what `make demo` runs.  Starts vmd in the foreground on a
# private socket with a built-in config that boots the bundled test guest
# in interactive mode, attaches its console (type help, info, poweroff;
# ~. leaves), and stops vmd afterwards.  Without a terminal it types
# "info" and "poweroff" itself.  Leaves nothing running.
TOP=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" -ne 0 ]; then
	echo "make demo: must run as root (KVM, ptys, privilege separation)" >&2
	exit 1
fi
D=$(mktemp -d /tmp/vmd-demo.XXXXXX)
VMCTL="$TOP/usr.sbin/vmctl/vmctl -s $D/vmd.sock"
cat >"$D/vm.conf" <<CONF
vm "demo" {
	memory 64M
	boot "$TOP/regress/guest/guest.elf"
	cmdline "interactive"
}
CONF
"$TOP/usr.sbin/vmd/vmd" -d -f "$D/vm.conf" -s "$D/vmd.sock" 2>"$D/vmd.log" &
VMD_PID=$!
stop() {
	kill -TERM "$VMD_PID" 2>/dev/null
	wait "$VMD_PID" 2>/dev/null
	rm -rf "$D"
}
trap stop EXIT
trap 'exit 1' HUP INT TERM
i=0
while [ "$($VMCTL status 2>/dev/null | awk '$NF == "demo" { print $(NF-1) }')" != running ]; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$VMD_PID" 2>/dev/null; then
		echo "make demo: the demo VM did not start; vmd said:" >&2
		cat "$D/vmd.log" >&2
		exit 1
	fi
	sleep 0.1
done
echo "== vmd is running with config $D/vm.conf"
$VMCTL status
if [ -t 0 ]; then
	echo "== console of vm demo: try help, info, poweroff; ~. leaves"
	$VMCTL console demo
else
	echo "== console of vm demo (no terminal: typing info and poweroff)"
	(sleep 1; printf 'info\r'; sleep 1; printf 'poweroff\r') |
	    $VMCTL console demo
fi
state() {
	$VMCTL status 2>/dev/null | awk '$NF == "demo" { print $(NF-1) }'
}
i=0
# a poweroff reaches vmd moments after the console closes; ~. leaves the
# VM running, so do not wait long
while [ "$(state)" = running ] && [ $i -lt 20 ]; do
	sleep 0.1; i=$((i + 1))
done
echo
echo "== after the console:"
$VMCTL status
