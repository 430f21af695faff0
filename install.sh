#!/bin/sh
# install.sh DESTDIR PREFIX: installs vmd, vmctl, their man pages and the
# test guest (share/vmd/guest.elf), the
# example config as $DESTDIR/etc/examples/vm.conf, the systemd unit, the
# rc script ($DESTDIR/etc/rc.d/vmd), /var/empty (the chroot of vmd's
# control process) and creates the _vmd user when installing into the
# running system.
set -e
DESTDIR=$1
PREFIX=${2:-/usr/local}
cd "$(dirname "$0")"
install -d "$DESTDIR$PREFIX/sbin" "$DESTDIR$PREFIX/share/man/man4" \
    "$DESTDIR$PREFIX/share/man/man5" "$DESTDIR$PREFIX/share/man/man8" \
    "$DESTDIR/etc/examples" "$DESTDIR/lib/systemd/system" \
    "$DESTDIR$PREFIX/share/vmd" "$DESTDIR/etc/rc.d"
[ -d "$DESTDIR/var/empty" ] || install -d -m 0755 "$DESTDIR/var/empty"
install -m 0555 usr.sbin/vmd/vmd "$DESTDIR$PREFIX/sbin/vmd"
install -m 0555 usr.sbin/vmctl/vmctl "$DESTDIR$PREFIX/sbin/vmctl"
install -m 0444 regress/guest/guest.elf "$DESTDIR$PREFIX/share/vmd/guest.elf"
install -m 0444 share/man/man4/vmm.4 "$DESTDIR$PREFIX/share/man/man4/"
install -m 0444 share/man/man5/vm.conf.5 "$DESTDIR$PREFIX/share/man/man5/"
install -m 0444 share/man/man8/vmd.8 share/man/man8/vmctl.8 \
    "$DESTDIR$PREFIX/share/man/man8/"
sed "s|\"regress/guest/guest.elf\"|\"$PREFIX/share/vmd/guest.elf\"|" \
    etc/vm.conf >"$DESTDIR/etc/examples/vm.conf"
chmod 0644 "$DESTDIR/etc/examples/vm.conf"
sed "s|@SBINDIR@|$PREFIX/sbin|g" etc/vmd.service \
    >"$DESTDIR/lib/systemd/system/vmd.service"
chmod 0644 "$DESTDIR/lib/systemd/system/vmd.service"
sed "s|@SBINDIR@|$PREFIX/sbin|g" etc/rc.d/vmd >"$DESTDIR/etc/rc.d/vmd"
chmod 0555 "$DESTDIR/etc/rc.d/vmd"
if [ -z "$DESTDIR" ] && ! getent passwd _vmd >/dev/null; then
	if [ "$(id -u)" -eq 0 ]; then
		useradd --system --no-create-home --home-dir /var/empty \
		    --shell /usr/sbin/nologin _vmd
		echo "install.sh: created user _vmd"
	else
		echo "install.sh: user _vmd is missing; run as root to create it" >&2
	fi
fi
