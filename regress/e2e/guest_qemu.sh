# guest_qemu.sh: the test guest's own drivers (virtio blk, cdrom, rng,
# net with DHCP, ping and netbench, the DEVICE_NEEDS_RESET path, smp,
# blkcopy, blkbench) against QEMU's devices under TCG, the referee our
# vmd's devices are held to: regress/guest/qemu-check.sh does the work
# (its network cases in a namespace of its own, as root).  TCG, not KVM:
# on hosts whose KVM emulates guest CPL 0 code it is many times faster,
# and it answers the same.  Lines are prefixed with "guest_qemu.".
cd "$(dirname "$0")/../.." || exit 1
out=$(mktemp) || exit 1
trap 'rm -f "$out"' EXIT
sh regress/guest/qemu-check.sh -a tcg >"$out" 2>&1
rc=$?
sed -n 's/^\(PASS\|FAIL\|SKIP\) /\1 guest_qemu./p; /^note: /p' "$out"
if [ $rc -ne 0 ] && ! grep -q '^FAIL ' "$out"; then
	echo "FAIL guest_qemu.run: $(tail -n 3 "$out" | tr '\n' ' ')"
fi
exit 0
