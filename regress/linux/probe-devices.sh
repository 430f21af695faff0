#!/bin/sh
# probe-devices.sh FILE: asks a private vmd whether it can start a VM
# with a disk and with a local interface; writes the name of each it
# can ("disk", "net") to FILE, and prints a SKIP line for the Linux
# milestones that need each one it refuses, with vmd's reason (part of
# make test-linux; see test-linux.sh).  The VMs boot the test guest and
# are stopped at once; nothing is left running.
TESTNAME=linux
avail=$1
: >"$avail" || exit 1
. "$(dirname "$0")/../e2e/lib.subr"
need_root
dd if=/dev/zero of="$T/disk.img" bs=1M count=1 2>/dev/null
cat >"$CONF" <<CONF
vm "pdisk" {
	disable
	memory 32M
	boot "$GUEST"
	cmdline "interactive"
	disk "$T/disk.img"
}
vm "pnet" {
	disable
	memory 32M
	boot "$GUEST"
	cmdline "interactive"
	local interface
}
CONF
start_vmd || { fail probe "vmd did not come up"; exit 1; }
# try NAME WHAT MILESTONES: SKIP them if vmd refuses NAME
try() {
	if vmctl start "$1" >"$T/$1.out" 2>&1; then
		vmctl stop -f "$1" >/dev/null 2>&1
		echo "$2" >>"$avail"
	else
		skip "$2" "$3: $(sed 's/^vmctl: start vm command failed: //' \
		    "$T/$1.out")"
	fi
}
try pdisk disk "the virtio-blk disk, its partition, the root mounted rw"
try pnet net "IP-Config with the address, gateway and host name of DHCP"
