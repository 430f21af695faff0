# manyvms.sh: the bounds on control's queues hold a client that reads,
# however many VMs there are: with 3000 VMs defined, vmctl status lists
# them all, several at once too, and vmd is not cut off or "busy".
TESTNAME=manyvms
. "$(dirname "$0")/lib.subr"
need_root
i=0
while [ $i -lt 3000 ]; do
	printf 'vm "m%d" {\n\tdisable\n\tmemory 8M\n\tboot "%s"\n}\n' $i "$GUEST"
	i=$((i + 1))
done >"$CONF"
start_vmd || { fail start "vmd did not come up"; exit 1; }
n=$(vmctl status 2>"$T/err" | wc -l)
[ "$n" -eq 3001 ] && pass status-all || fail status-all "$n lines; $(cat "$T/err")"
pids=
for k in 1 2 3 4; do
	vmctl status >"$T/s$k" 2>&1 &
	pids="$pids $!"
done
wait $pids	# not vmd
ok=1
for k in 1 2 3 4; do
	[ "$(wc -l <"$T/s$k")" -eq 3001 ] || ok=
done
[ -n "$ok" ] && pass status-parallel ||
    fail status-parallel "$(wc -l "$T"/s? | head -n 4)"
grep -q "not reading its answers" "$T/vmd.log" &&
    fail not-cut-off "a reading client was dropped"
[ -z "$FAILED" ]
