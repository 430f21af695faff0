# leftovers.sh: a test run leaves nothing behind, however its tests end.
# A deliberately bad end-to-end test, written here, makes a test account,
# starts a vmd with a VM and a stray background process, then ends: by a
# failed check, by writing to a fifo nobody reads (SIGPIPE), by SIGKILL
# of the test shell, or with its whole run interrupted (INT, TERM, HUP:
# ^C, timeout(1), a closed terminal).  Each time it runs in a run of its
# own (regress/run.sh), and afterwards no process it started, no account
# and no directory of that run may remain.  A run killed outright
# (SIGKILL of its process group) is removed by the next run's sweep.
TESTNAME=leftovers
. "$(dirname "$0")/lib.subr"
need_root
need_test_accounts "" ""
# lib.subr runs a test as the first process of a PID namespace when it can
[ "$$" -eq 1 ] || { skip all "no PID namespace for tests here"; exit 0; }
command -v timeout >/dev/null || { skip all "no timeout(1)"; exit 0; }

cat >"$T/bad.sh" <<'BAD'
TESTNAME=bad
. "$VMD_TOP/regress/e2e/lib.subr"
add_test_group "$(acct bg)"
add_test_user "$(acct bu)" "$(acct bg)"
cat >"$CONF" <<CONF
vm "b1" {
	memory 8M
	boot "$GUEST"
	cmdline "interactive"
}
CONF
start_vmd || exit 1
wait_state b1 running 10
sleep 3600 &
echo "$VMD_TEST_RUN" >"$BAD_REPORT"
case $BAD_MODE in
fail)
	fail deliberate "as asked"
	exit 1
	;;
pipe)
	# the reader opens the fifo and goes: the next write is a SIGPIPE
	mkfifo "$T/p"
	sh -c 'exec 4<"$1"' sh "$T/p" &
	exec 3>"$T/p"
	wait $!
	printf x >&3
	fail deliberate "still here after the pipe"
	exit 1
	;;
esac
sleep 3600
BAD

MARK=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
# bad MODE [launcher...]: run bad.sh in a run of its own, in a session
# of its own (so its group can be signalled), with INT and the like
# back to their defaults.  Sets BPID, a setsid that waits for it, and
# BGRP, the session's process group.
bad() {
	rm -f "$T/report"
	env --default-signal=INT,TERM,HUP,PIPE \
	    VMD_TOP="$TOP" BAD_MODE="$1" BAD_REPORT="$T/report" \
	    VMD_LEFTOVER_MARK="$MARK" VMD_TEST_RUN= VMD_E2E_INNER= \
	    setsid --fork --wait $2 sh "$TOP/regress/run.sh" "$T/bad.sh" \
	    >"$T/run.out" 2>&1 9>&- &
	BPID=$!
	EXTRA_PIDS="$EXTRA_PIDS $BPID"
	BGRP=
	i=0
	while [ -z "$BGRP" ] && [ $i -lt 50 ]; do
		BGRP=$(cat /proc/"$BPID"/task/*/children 2>/dev/null)
		[ -n "$BGRP" ] || sleep 0.1
		i=$((i + 1))
	done
}
# until the bad test is up (its report written), at most 20 s
bad_up() {
	wait_for "$T/report" . 20
}
# until the run has ended, at most 30 s
bad_done() {
	i=0
	while kill -0 "$BPID" 2>/dev/null && [ $i -lt 300 ]; do
		sleep 0.1; i=$((i + 1))
	done
	! kill -0 "$BPID" 2>/dev/null
}
# what is left of the bad test's run: processes (they carry the mark in
# their environment), accounts, its directory
left() {
	id=$(cat "$T/report" 2>/dev/null)
	[ -n "$id" ] || { echo "the bad test never came up"; return; }
	for e in /proc/[0-9]*/environ; do
		{ tr '\0' '\n' <"$e"; } 2>/dev/null |
		    grep -qx "VMD_LEFTOVER_MARK=$MARK" || continue
		p=${e#/proc/}; p=${p%/environ}
		echo "process $p: $(tr '\0' ' ' </proc/"$p"/cmdline)"
	done
	cut -d: -f1 /etc/passwd /etc/group | grep "^vmd${id}_" |
	    sed 's/^/account /'
	[ -e "/tmp/vmd-test.$id" ] && echo "directory /tmp/vmd-test.$id"
}
check() {
	l=$(left)
	[ -z "$l" ] && pass "$1" || fail "$1" "$(echo "$l" | tr '\n' ';')"
}
# bad_shell: the test's shell, the child of unshare (or of run.sh)
bad_shell() {
	for p in $(descendants "$BPID"); do
		[ "$(cat /proc/"$p"/comm 2>/dev/null)" = sh ] || continue
		pp=$(awk '{ print $4 }' /proc/"$p"/stat 2>/dev/null)
		[ "$(cat /proc/"$pp"/comm 2>/dev/null)" = unshare ] &&
		    { echo "$p"; return; }
	done
}

bad fail
bad_done && grep -q "FAIL bad.deliberate" "$T/run.out" &&
    grep -q "0 passed, 1 failed" "$T/run.out" && pass fail-reported ||
    fail fail-reported "$(tail -n 3 "$T/run.out")"
check fail-clean

bad pipe
bad_done
check pipe-clean
grep -q "still here" "$T/run.out" && fail pipe-ends "$(cat "$T/run.out")" ||
    pass pipe-ends

bad hang
if bad_up; then
	s=$(bad_shell)
	[ -n "$s" ] && kill -KILL "$s"
	bad_done
	check kill-clean
else
	fail kill-clean "bad test did not come up: $(tail -n 3 "$T/run.out")"
fi

for sig in INT TERM HUP; do
	bad hang
	if bad_up; then
		kill -"$sig" -"$BGRP"
		bad_done || fail "$sig-ends" "run still there after 30 s"
		check "$sig-clean"
	else
		fail "$sig-clean" "bad test did not come up"
	fi
done

bad hang "timeout 5"
bad_done
check timeout-clean

# everything of the run gets SIGKILL at once: the kernel ends the test's
# PID namespace, and the next run sweeps what remains on disk
bad hang
if bad_up; then
	kill -KILL -"$BGRP"
	bad_done
	# the namespace's processes die with it, not at once
	i=0
	while left | grep -q "^process" && [ $i -lt 50 ]; do
		sleep 0.1; i=$((i + 1))
	done
	VMD_TEST_RUN= TMPDIR= sh "$TOP/regress/run.sh" /nonexistent 9>&- \
	    >/dev/null 2>&1
	check killall-swept
else
	fail killall-swept "bad test did not come up"
fi
[ -z "$FAILED" ]
