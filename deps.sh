#!/bin/sh
# deps.sh: checks for the Debian packages the build, the tests and the
# demo need, and installs the missing ones with apt-get when run as root
# (otherwise says what is missing and fails).  Called by make test and
# make demo; also by .ci/run on a fresh machine.  "deps.sh linux" adds
# the packages of the Linux test kernel (regress/linux).
PKGS="gcc make byacc pkg-config libevent-dev libseccomp-dev qemu-system-x86
qemu-utils mandoc cu iproute2 procps clang acpica-tools libzydis-dev xorriso
busybox-static seabios"
# the e2e tests' raw clients, syslog listener and hostile guests
PKGS="$PKGS python3"
# netlink for the priv process (usr.sbin/vmd/priv_nl.c)
PKGS="$PKGS libmnl-dev"
# "deps.sh linux": also what regress/linux needs to build its kernel
[ "${1:-}" = linux ] && PKGS="$PKGS linux-source-6.1 flex bison bc libelf-dev
busybox-static fdisk e2fsprogs extlinux syslinux-common isolinux"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
	    missing="$missing $p"
done
ensure_user() {
	# control chroots into _vmd's home, an empty directory
	[ "$(id -u)" -eq 0 ] && [ ! -d /var/empty ] &&
	    install -d -m 0755 /var/empty
	getent passwd _vmd >/dev/null && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps.sh: user _vmd is missing (make install creates it)" >&2
		return 1
	fi
	useradd --system --no-create-home --home-dir /var/empty \
	    --shell /usr/sbin/nologin _vmd
}
if [ -z "$missing" ]; then
	ensure_user
	exit $?
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing Debian packages:$missing" >&2
	echo "deps.sh: run as root (make test / make demo) or: apt-get install$missing" >&2
	exit 1
fi
echo "deps.sh: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null || exit 1
apt-get install -y -qq $missing >/dev/null || {
	echo "deps.sh: apt-get install$missing failed" >&2
	exit 1
}
ensure_user
