# stagger.sh: "staggered start parallel 1 delay 2" starts three enabled
# VMs one at a time, two seconds apart; the ones not started yet show
# "waiting".  Stopping a waiting VM keeps it from starting.
TESTNAME=stagger
. "$(dirname "$0")/lib.subr"
need_root
{
	echo "staggered start parallel 1 delay 2"
	for n in s1 s2 s3 s4; do
		printf 'vm "%s" {\n\tmemory 8M\n\tboot "%s"\n\tcmdline "interactive"\n}\n' \
		    "$n" "$GUEST"
	done
} >"$CONF"
"$VMD" -n -f "$CONF" >"$T/n.out" 2>&1 ||
    { fail config "$(cat "$T/n.out")"; exit 1; }
start_vmd || { fail start "vmd did not come up"; exit 1; }
states() { echo "$(vm_state s1) $(vm_state s2) $(vm_state s3)"; }
st=$(states)
case "$st" in
"running waiting waiting"|"starting waiting waiting") pass first-group ;;
*) fail first-group "got '$st'" ;;
esac
vmctl stop -f s4 2>"$T/err" && [ "$(vm_state s4)" = stopped ] &&
    pass stop-waiting || fail stop-waiting "$(cat "$T/err") $(vm_state s4)"
wait_state s2 running 4 && [ "$(vm_state s3)" = waiting ] &&
    pass second-group || fail second-group "got '$(states)'"
wait_state s3 running 4 && pass all-running || fail all-running "got '$(states)'"
sleep 2.5
[ "$(vm_state s4)" = stopped ] && pass stopped-stays ||
    fail stopped-stays "s4 $(vm_state s4)"
[ -z "$FAILED" ]
