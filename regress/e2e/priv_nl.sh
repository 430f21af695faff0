# priv_nl.sh: runs regress/net/priv_nl_test, the tests of priv_nl.c
# against the kernel (taps, bridge, VRF, group, addresses, removal of a
# killed vmd's taps), inside a network namespace made for it and removed
# on exit whatever happens.  Nothing it does is seen outside that
# namespace.
TESTNAME=priv_nl
. "$(dirname "$0")/lib.subr"
if [ "$(id -u)" -ne 0 ] || [ ! -c /dev/net/tun ]; then
	skip all "needs root and /dev/net/tun"
	exit 0
fi
command -v ip >/dev/null 2>&1 || { skip all "no ip(8)"; exit 0; }
NS=vmdtest-nl-$$
trap 'ip netns del "$NS" 2>/dev/null; cleanup' EXIT
ip netns add "$NS" || { fail netns "cannot make a network namespace"; exit 1; }
ip netns exec "$NS" "$TOP/regress/net/priv_nl_test"
