#!/bin/sh
# boot.sh: boots vmd's Linux test kernel (build-kernel.sh, cached) through
# its PVH entry under a private vmd and times the milestones it reaches on
# the console.  Opt-in, not part of make test: minutes where KVM emulates
# guest kernel code.  Without -u, the plain kernel runs its initcalls up
# to the root mount, which fails (it has no root device).  With -u, the
# variant with the busybox initramfs (mkinitramfs.sh) built in goes on to
# /init, a shell prompt, a command and poweroff.  On hosts where vmd adds
# command-line options for Linux (see vmm(4)), they must be there.
# Prints "PASS linux.<milestone> (<seconds> s)" per milestone, seconds
# from vmctl start; like the end-to-end tests it leaves nothing running.
#
#   boot.sh [-u] [-t seconds]
TESTNAME=linux
. "$(dirname "$0")/../e2e/lib.subr"
need_root

user=0
timeout=900
while getopts ut: opt; do
	case $opt in
	u) user=1 ;;
	t) timeout=$OPTARG ;;
	*) echo "usage: boot.sh [-u] [-t seconds]" >&2; exit 2 ;;
	esac
done
CACHE=${VMD_LINUX_CACHE:-/var/tmp/vmd-linux-cache}
LINUX=$TOP/regress/linux

if [ $user -eq 1 ]; then
	mkdir -p "$CACHE/initramfs"
	sh "$LINUX/mkinitramfs.sh" "$CACHE/initramfs/busybox.cpio" ||
	    { fail initramfs "mkinitramfs.sh failed"; exit 1; }
	out=$(sh "$LINUX/build-kernel.sh" -i "$CACHE/initramfs/busybox.cpio") ||
	    { fail kernel "build-kernel.sh failed"; exit 1; }
else
	out=$(sh "$LINUX/build-kernel.sh") ||
	    { fail kernel "build-kernel.sh failed"; exit 1; }
fi

start_vmd || { fail start "vmd did not come up"; exit 1; }
args=$(sed -n 's/.*Linux kernels vmd boots here get on their command line: //p' \
    "$T/vmd.log")
vmctl start -b "$out/vmlinux" -m 256M -k "console=ttyS0" lx \
    >"$T/start" 2>&1 || { fail start "$(cat "$T/start")"; exit 1; }
tty=$(sed -n 's|.*tty \(/dev/[^ ]*\).*|\1|p' "$T/start")
[ -c "$tty" ] || { fail start "no console tty in: $(cat "$T/start")"; exit 1; }

if [ $user -eq 1 ]; then
	set -- \
	    expect console 'Linux version' \
	    expect initcalls-done 'Freeing unused kernel image' \
	    expect run-init 'Run /init as init process' \
	    expect userland 'vmd-init: userland up' \
	    expect shell-prompt 'vmd-linux# ' \
	    send 'echo sum=$((6*7)) $(uname -r) $(ls /proc | wc -l) done\n' \
	    expect command 'sum=42 6\.1\.[0-9]*-vmd [0-9]+ done' \
	    expect prompt-again 'vmd-linux# ' \
	    send 'poweroff -f\n' \
	    expect poweroff 'reboot: (Power down|System halted)'
else
	set -- \
	    expect console 'Linux version' \
	    expect initcalls-done 'VFS: Cannot open root device' \
	    expect root-mount-panic 'Unable to mount root fs'
fi
python3 "$LINUX/console.py" "$tty" "$T/console" "$timeout" "$@" \
    >"$T/milestones" 2>&1
rc=$?
# vmd adds the options this host needs (the host-quirk layer) itself
if [ -n "$args" ]; then
	tr -d '\r' <"$T/console" | grep -qF "Command line: console=ttyS0 $args" &&
	    pass host-options || fail host-options "not on the command line"
fi
while read -r what name secs; do
	[ "$what" = milestone ] && pass "$name ($secs s)"
done <"$T/milestones"
if [ $rc -ne 0 ]; then
	fail milestones "$(grep -v '^milestone' "$T/milestones")"
	echo "--- console (last lines) ---"
	tr -d '\r' <"$T/console" | tail -n 25
fi
[ -z "$FAILED" ]
