# disk_crash.sh: the disk library killed with SIGKILL in the middle of
# writes, 50 times.  disktool's crash workload writes stamped sectors
# from four threads and flushes after each generation, noting it in a
# journal; after each kill qemu-img check must find no corruption (leaks
# are allowed) and every sector must hold what the noted generations
# wrote or a later generation's stamp.  The images cycle through
# cluster sizes, qcow2 v2 and v3 and backing files (a power loss, as
# opposed to a kill, is simulated by regress/unit/qcow2_powerfail_test).
# It needs qemu-img, not root.
TESTNAME=disk_crash
. "$(dirname "$0")/lib.subr"
DISKTOOL=${DISKTOOL:-$TOP/regress/disk/disktool}
ROUNDS=${ROUNDS:-50}

command -v qemu-img >/dev/null 2>&1 || { skip all "no qemu-img"; exit 0; }
cd "$T" || exit 1

# layouts: top options, base options ("-": none)
set -- "cluster_size=64k" "-" \
    "cluster_size=4k" "cluster_size=64k" \
    "compat=0.10,cluster_size=16k" "compat=0.10,cluster_size=4k" \
    "cluster_size=512" "-" \
    "cluster_size=2M" "cluster_size=64k"
nlayouts=$(($# / 2))
layout() {
	i=$(($1 % nlayouts))
	shift
	shift $((i * 2))
	TOPOPTS=$1 BASEOPTS=$2
}

bad=0
r=1
while [ $r -le "$ROUNDS" ]; do
	if [ $(((r - 1) % 10)) -eq 0 ]; then
		layout $(((r - 1) / 10)) "$@"
		rm -f t.qcow2 b.qcow2
		if [ "$BASEOPTS" != - ]; then
			qemu-img create -q -f qcow2 -o "$BASEOPTS" b.qcow2 16M
			qemu-io -c "write -P 0x5a 0 10M" b.qcow2 >/dev/null
			qemu-img create -q -f qcow2 -o "$TOPOPTS" -b b.qcow2 \
			    -F qcow2 t.qcow2
		else
			qemu-img create -q -f qcow2 -o "$TOPOPTS" t.qcow2 16M
		fi
	fi
	"$DISKTOOL" t.qcow2 dump ref.raw || { fail round$r "dump"; break; }
	"$DISKTOOL" t.qcow2 crash $r journal >/dev/null 2>&1 &
	pid=$!
	EXTRA_PIDS=$pid
	# 20 to 400 ms: from the first allocations to many generations
	sleep "0.$(printf %03d $((20 + $(od -An -N2 -tu2 /dev/urandom) % 380)))"
	kill -KILL $pid 2>/dev/null
	wait $pid 2>/dev/null
	qemu-img check t.qcow2 >out 2>&1
	rc=$?
	if [ $rc -ne 0 ] && [ $rc -ne 3 ]; then
		fail round$r "qemu-img check ($TOPOPTS over $BASEOPTS): $(head -c 600 out)"
		bad=1
		break
	fi
	if ! "$DISKTOOL" -r t.qcow2 verify $r journal ref.raw >out 2>&1; then
		fail round$r "verify ($TOPOPTS over $BASEOPTS): $(head -c 600 out)"
		bad=1
		break
	fi
	r=$((r + 1))
done
[ $bad -eq 0 ] && pass "kill${ROUNDS}"
exit 0
