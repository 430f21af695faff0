# vioblk_crash.sh: a disk's process killed with SIGKILL in the middle of
# the guest's writes, ROUNDS times (50 by default).  The test guest's
# blkcopy copies a raw disk of random bytes onto a qcow2 disk through
# vmd; at a random moment the qcow2 disk's vioblk process is killed, so
# the VM ends.  After each kill qemu-img check must find no corruption
# (leaked clusters are allowed: a kill may lose the refcount update of
# a cluster it just allocated), and when the guest got as far as its
# final flush the copy must compare equal.  Each image goes through
# several rounds before a new one (qcow2 v2 and v3, clusters of 4 KiB
# to 2 MiB, over a backing file or not) replaces it.  Needs qemu-img.
TESTNAME=vioblk_crash
. "$(dirname "$0")/lib.subr"
need_root
ROUNDS=${ROUNDS:-50}
command -v qemu-img >/dev/null 2>&1 || { skip all "no qemu-img"; exit 0; }

cat >"$CONF" <<CONF
vm "c1" {
	disable
	memory 64M
	boot "$GUEST"
}
CONF
start_vmd || { fail start "vmd did not come up"; exit 1; }

SIZE=32M
truncate -s $SIZE "$T/from.raw"
dd if=/dev/urandom of="$T/from.raw" bs=1M count=32 conv=notrunc status=none
qemu-img create -q -f qcow2 "$T/base.qcow2" $SIZE

# fresh N: a new destination image for round N
fresh() {
	n=$1
	set -- "0.10 65536" "1.1 4096" "1.1 65536" "1.1 2M" "1.1 65536 base"
	shift $(( (n / 5) % 5 ))
	set -- $1
	rm -f "$T/to.qcow2"
	if [ -n "$3" ]; then
		qemu-img create -q -f qcow2 -o compat=$1,cluster_size=$2 \
		    -b base.qcow2 -F qcow2 "$T/to.qcow2"
	else
		qemu-img create -q -f qcow2 -o compat=$1,cluster_size=$2 \
		    "$T/to.qcow2" $SIZE
	fi
	IMG="v$1 cluster $2${3:+ over a base}"
}

# the pid of VM c1's vioblk process for its second disk
disk_pid() {
	for p in $(descendants "$VMD_PID"); do
		tr '\0' ' ' </proc/$p/cmdline 2>/dev/null |
		    grep -q "vioblk 1" && echo $p
	done | head -1
}

corrupt=0 killed=0 finished=0 r=0
while [ $r -lt "$ROUNDS" ]; do
	[ $((r % 5)) -eq 0 ] && fresh $r
	vmctl start -c -k blkcopy -d "$T/from.raw" -d "$T/to.qcow2" c1 \
	    </dev/null >"$T/tty" 2>&1 &
	CPID=$!
	EXTRA_PIDS=$CPID
	# a random moment into the copy: 20 to 400 ms after the disk is up
	i=0 pid=
	while [ -z "$pid" ] && [ $i -lt 100 ]; do
		pid=$(disk_pid); [ -n "$pid" ] || sleep 0.02
		i=$((i + 1))
	done
	sleep "0.$(printf '%03d' $(( $(od -An -N2 -tu2 /dev/urandom) % 380 + 20 )))"
	if [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; then
		killed=$((killed + 1))
	fi
	wait_state c1 stopped 10 || { vmctl stop -f c1 >/dev/null 2>&1;
	    wait_state c1 stopped 5; }
	wait $CPID 2>/dev/null
	out=$(qemu-img check -q "$T/to.qcow2" 2>&1)
	rc=$?
	# 0: clean, 3: leaked clusters only; anything else is an error
	if [ $rc -ne 0 ] && [ $rc -ne 3 ]; then
		corrupt=$((corrupt + 1))
		fail "round$r.check" "$IMG: rc $rc: $out"
	fi
	if tr -d '\r' <"$T/tty" | grep -q "^PASS blkcopy"; then
		finished=$((finished + 1))
		out=$(qemu-img compare -q -f raw -F qcow2 "$T/from.raw" \
		    "$T/to.qcow2" 2>&1) ||
		    fail "round$r.compare" "$IMG: flushed copy differs: $out"
	fi
	r=$((r + 1))
done
[ $corrupt -eq 0 ] && pass "check-clean" ||
    fail check-clean "$corrupt of $ROUNDS rounds corrupt"
[ $killed -ge $((ROUNDS / 2)) ] && pass "kills" ||
    fail kills "only $killed kills in $ROUNDS rounds"
echo "# $ROUNDS rounds: $killed killed mid-copy, $finished copies done"
[ -z "$FAILED" ]
