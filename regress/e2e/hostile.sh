# hostile.sh: a hostile local user against the control plane.  One
# unprivileged user (made for the test, removed at exit) may use the
# socket, owns one VM and may make instances of a template with their
# own kernel.  Through vmctl and through a raw imsg client (Python) it
# tries to make vmd read files it may not read, to send messages only
# vmd's own processes send, to pass descriptors, to hog connections, to
# never read its answers and to flood waits.  Each check says what vmd
# must do; vmd must survive all of it and keep serving root.
TESTNAME=hostile
. "$(dirname "$0")/lib.subr"
need_root
# the raw client runs as the user: it needs a python3 it may execute
PY=
for p in /usr/bin/python3 /usr/local/bin/python3; do
	[ -x "$p" ] && { PY=$p; break; }
done
[ -n "$PY" ] || { skip all "no system python3"; exit 0; }
MAL=$(acct mal) SOCKGRP=$(acct hsock)
need_test_accounts "$MAL" "$SOCKGRP"
add_test_group $SOCKGRP
add_test_user $MAL $SOCKGRP
share_with_users

# What only root may read: a file of its own, and a readable file in a
# directory only root may enter.  Both are good kernels.
install -m 0600 "$GUEST" "$T/secret.elf"
mkdir -m 0700 "$T/priv"
install -m 0644 "$GUEST" "$T/priv/kernel.elf"
# and one the user may read, to show the check lets that through
install -m 0644 "$GUEST" "$T/public.elf"

cat >"$CONF" <<CONF
socket owner ":$SOCKGRP"
vm "mine" {
	memory 8M
	boot "$GUEST"
	cmdline "interactive"
	owner "$MAL"
}
vm "tpl" {
	disable
	memory 8M
	boot "$GUEST"
	cmdline "interactive"
	allow instance { boot, owner "$MAL" }
}
CONF
# SANITIZE=1: ASan's quarantine would keep 256 MiB of freed memory and
# hide what the flood below measures
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1"
start_vmd || { fail start "vmd did not come up"; exit 1; }
wait_state mine running 10 || { fail boot "mine: $(vm_state mine)"; exit 1; }

as() { setpriv --reuid=$MAL --regid=$SOCKGRP --init-groups "$@"; }

# The raw client: imsg on the control socket (type u32, len u16 with
# the 16-byte header, flags u16, peerid u32, pid u32).
cat >"$T/cli.py" <<'PY'
import array, os, socket, struct, sys, threading, time

HDR = struct.Struct("<IHHII")
START, WAIT, INFO, FAIL, OK = 1, 5, 7, 10, 19
VM_STARTED, START_VM_FD = 22, 20

def conn(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s

def msg(t, data=b"", flags=0):
    return HDR.pack(t, HDR.size + len(data), flags, 0, 0) + data

def recv_msg(s, timeout=5):
    try:
        return recv_msg1(s, timeout)
    except OSError:	# timeouts too: no answer is an answer here
        return None

def recv_msg1(s, timeout):
    s.settimeout(timeout)
    buf = b""
    while len(buf) < HDR.size:
        b = s.recv(HDR.size - len(buf))
        if not b:
            return None
        buf += b
    t, ln, _, _, _ = HDR.unpack(buf)
    data = b""
    while len(data) < ln - HDR.size:
        b = s.recv(ln - HDR.size - len(data))
        if not b:
            return None
        data += b
    return t, data

def result(data):
    err = struct.unpack_from("<i", data)[0]
    reason = data[48:304].split(b"\0")[0].decode()
    return err, reason

def create(name, kernel=b"", instance=b"", ncpus=0):
    flags = (0x01 if kernel else 0) | (0x200 if ncpus else 0)
    # vmc_initrd after the kernel, the -d disks (4116 bytes) after the
    # command line; vmc_fds (88 bytes) is the parent's; then no boot
    # device, no interfaces (vmc_nnics, 4 vmop_nic of 108 bytes), no cdrom
    return struct.pack("<IIQIII64s64s4096s4096s2048s4116x32s88x4x4x432x1024x", 0,
        flags, 0, ncpus, 0, 0, instance, name, kernel, b"", b"", b"")

def vmid(name):
    return struct.pack("<II64s", 0, 0, name)

def closed(s):
    s.setblocking(False)
    try:
        return s.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True

path, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]
if cmd == "start":		# start NAME KERNEL [TEMPLATE [NCPUS]]
    s = conn(path)
    s.sendall(msg(START, create(args[0].encode(), args[1].encode(),
        args[2].encode() if len(args) > 2 else b"",
        int(args[3]) if len(args) > 3 else 0)))
    t, d = recv_msg(s, 30)
    print(t, *result(d))
elif cmd == "type":		# type N: send a message of type N, size LEN
    s = conn(path)
    s.sendall(msg(int(args[0]), b"\0" * int(args[1])))
    r = recv_msg(s)
    print("closed" if r is None else "%d %d %s" % ((r[0],) + result(r[1])))
elif cmd == "fd":		# a request with a descriptor attached
    s = conn(path)
    fd = os.open(args[0], os.O_RDONLY)
    s.sendmsg([msg(INFO, flags=1)], [(socket.SOL_SOCKET,
        socket.SCM_RIGHTS, array.array("i", [fd]))])
    r = recv_msg(s)
    print("closed" if r is None else "answered %d" % r[0])
elif cmd == "hog":		# hog N: hold N connections, say how many stay
    ss = [conn(path) for _ in range(int(args[0]))]
    time.sleep(1)
    print(sum(1 for s in ss if not closed(s)), flush=True)
    time.sleep(60)	# hold them until killed
elif cmd == "noread":		# noread N: N bad requests, never read
    s = conn(path)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        for i in range(int(args[0])):
            s.sendall(msg(99))
    except OSError:
        pass
    time.sleep(1)
    # once dropped, whatever was queued is gone: EOF comes soon
    s.settimeout(10)
    try:
        while s.recv(65536):
            pass
        print("closed")
    except socket.timeout:
        print("still open")
    except OSError:
        print("closed")
elif cmd == "waitflood":	# waitflood NAME N: N waits on one connection
    s = conn(path)
    for i in range(int(args[1])):
        s.sendall(msg(WAIT, vmid(args[0].encode())))
    n = 0
    for i in range(int(args[1]) - 1):
        r = recv_msg(s)
        if r is None:
            break
        if r[0] == WAIT + 1 and result(r[1])[0] == 114:	# EALREADY
            n += 1
    print(n)
elif cmd == "infoflood":	# infoflood SECONDS read|noread: pipelined status
    end = time.time() + float(args[0])
    batch = msg(INFO) * 4096
    if args[1] == "read":	# one connection, answers read as they come
        s = conn(path)
        got = [0]
        def reader():
            try:
                while s.recv(1 << 16):
                    got[0] += 1
            except OSError:
                pass
        t = threading.Thread(target=reader, daemon=True)
        t.start()
        try:
            while time.time() < end:
                s.sendall(batch)
        except OSError:
            pass
        print("read", got[0] > 0)
    else:			# never reads: dropped, comes back, again
        n = 0
        while time.time() < end:
            s = conn(path)
            s.settimeout(max(0.1, end - time.time()))
            n += 1
            try:
                while time.time() < end:
                    s.sendall(batch)
            except OSError:
                pass
            s.close()
        print("connections", n)
elif cmd == "staleflood":	# staleflood NAME N: N waits, each left behind
    for i in range(int(args[1])):
        s = conn(path)
        s.sendall(msg(WAIT, vmid(args[0].encode())))
        time.sleep(0.01)
        s.close()
    print("done")
PY
cli() { as "$PY" "$T/cli.py" "$SOCK" "$@"; }
vmctl_as() { as "$UVMCTL" -s "$SOCK" "$@"; }
gone() { [ -z "$(vm_state "$1")" ]; }

# 1. a kernel the user may not read is not read for them
vmctl_as start -t tpl -b "$T/secret.elf" i1 >"$T/o" 2>&1
if grep -q "Permission denied" "$T/o" && gone i1; then
	pass kernel-mode
else
	fail kernel-mode "$(cat "$T/o"); i1 $(vm_state i1)"
fi
# vmctl cannot even name the next one; the raw client can
cli start i2 "$T/priv/kernel.elf" tpl >"$T/o" 2>&1
if grep -q "^2 13 " "$T/o" && gone i2; then
	pass kernel-dir
else
	fail kernel-dir "$(cat "$T/o"); i2 $(vm_state i2)"
fi
vmctl_as start -t tpl -b "$T/public.elf" i3 >"$T/o" 2>&1
if wait_state i3 running 10; then
	pass kernel-readable
else
	fail kernel-readable "$(cat "$T/o"); i3 $(vm_state i3)"
fi
# ids: the refused starts used none (mine 1, tpl 2, i3 the next)
id=$(vmctl status | awk '$NF == "i3" { print $1 }')
[ "$id" = 3 ] && pass ids || fail ids "i3 has id $id"
vmctl stop -f -w i3 >/dev/null 2>&1

# 1b. too many vCPUs are refused alike for a plain start and an
# instance; a user may not choose the count of a configured VM, nor of an
# instance of a template that does not allow memory
vmctl stop -f -w mine >/dev/null 2>&1
r1=$(cli start mine "" "" 65)
r2=$(cli start i4 "" tpl 65)
if [ "$r1" = "2 22 vcpu count 65: the count must be 1 to 64" ] &&
    [ "$r2" = "$r1" ] && gone i4
then
	pass many-vcpus
else
	fail many-vcpus "start: $r1; instance: $r2; i4 $(vm_state i4)"
fi
r1=$(cli start mine "" "" 2)
r2=$(cli start i4 "" tpl 2)
if [ "${r1#2 1 }" != "$r1" ] && [ "$(vm_state mine)" = stopped ] &&
    [ "$r2" = "2 1 vm \"i4\" no permission to set vcpus" ] && gone i4
then
	pass user-vcpus
else
	fail user-vcpus "start: $r1; instance: $r2; i4 $(vm_state i4)"
fi
vmctl start mine >/dev/null 2>&1
wait_state mine running 10 || fail two-vcpus-after "mine: $(vm_state mine)"

# 2. messages only vmd's own processes send are refused by control
r=$(cli type 22 304)
[ "${r%% *}" = 10 ] && pass internal-type || fail internal-type "$r"
r=$(cli type 20 8)
[ "${r%% *}" = 10 ] && pass internal-fd-type || fail internal-fd-type "$r"
r=$(cli type 1 100)
[ "${r%% *}" = 10 ] && pass short-start || fail short-start "$r"
# a descriptor from a client: the connection is dropped, the fd closed
r=$(cli fd "$T/public.elf")
[ "$r" = closed ] && pass client-fd || fail client-fd "$r"
cpid=$(pgrep -P "$VMD_PID" -f "vmd: control -P control" | head -n 1)
if [ -n "$cpid" ] && ! ls -l /proc/"$cpid"/fd 2>/dev/null |
    grep -q public.elf; then
	pass client-fd-closed
else
	fail client-fd-closed "control $cpid: $(ls -l /proc/$cpid/fd)"
fi

# 3. one user cannot take every connection; root still gets in
# setpriv execs python: $! is the process holding the connections
setpriv --reuid=$MAL --regid=$SOCKGRP --init-groups \
    "$PY" "$T/cli.py" "$SOCK" hog 64 >"$T/hog.out" 2>&1 &
HOG=$!; EXTRA_PIDS="$EXTRA_PIDS $HOG"
wait_for "$T/hog.out" '^[0-9]' 10
n=$(head -n 1 "$T/hog.out")
[ -n "$n" ] && [ "$n" -le 16 ] && pass conn-per-user ||
    fail conn-per-user "user holds $n connections"
vmctl status >"$T/o" 2>&1 && grep -q " mine$" "$T/o" &&
    pass conn-root || fail conn-root "$(cat "$T/o")"
kill $HOG 2>/dev/null
wait $HOG 2>/dev/null
sleep 0.5

# 4. a client that never reads its answers is dropped, not buffered
r=$(cli noread 20000)
if [ "$r" = closed ] && grep -q "not reading its answers" "$T/vmd.log"; then
	pass noread
else
	fail noread "$r"
fi

# 4b. a client pipelining status requests, reading its answers or not,
# costs vmd little memory and root's status stays fast meanwhile
rss() {	# kB resident in every process of vmd
	_t=0
	for _p in $VMD_PID $(descendants "$VMD_PID"); do
		_r=$(awk '/^VmRSS:/ { print $2 }' /proc/"$_p"/status 2>/dev/null)
		_t=$((_t + ${_r:-0}))
	done
	echo $_t
}
for how in read noread; do
	base=$(rss) peak=$base slow=0 worst=0
	setpriv --reuid=$MAL --regid=$SOCKGRP --init-groups \
	    "$PY" "$T/cli.py" "$SOCK" infoflood 4 $how >"$T/flood.out" 2>&1 &
	FL=$!; EXTRA_PIDS="$EXTRA_PIDS $FL"
	sleep 0.5
	i=0
	while kill -0 $FL 2>/dev/null && [ $i -lt 12 ]; do
		t0=$(date +%s%N)
		vmctl status >"$T/st.out" 2>&1 || slow=-1
		t1=$(date +%s%N)
		ms=$(( (t1 - t0) / 1000000 ))
		[ $ms -gt $worst ] && worst=$ms
		grep -q " mine$" "$T/st.out" || slow=-1
		r=$(rss); [ "$r" -gt "$peak" ] && peak=$r
		# far past the bound: stop before the host runs out of memory
		[ $((peak - base)) -gt 262144 ] && kill $FL 2>/dev/null
		sleep 0.2; i=$((i + 1))
	done
	wait $FL
	grow=$(( (peak - base) / 1024 ))
	echo "flood-$how: vmd grew by $grow MiB at most, root's status took" \
	    "$worst ms at most ($(cat "$T/flood.out"))"
	[ $((peak - base)) -lt 16384 ] && pass flood-$how-memory ||
	    fail flood-$how-memory "vmd grew by $grow MiB"
	[ $slow -eq 0 ] && [ $worst -lt 100 ] && pass flood-$how-status ||
	    fail flood-$how-status "root's status took $worst ms (or failed)"
done
kill -0 "$VMD_PID" 2>/dev/null && pass flood-alive || fail flood-alive "vmd gone"

# 5. waits are bounded: once per connection, and per user per VM
r=$(cli waitflood mine 50)
[ "$r" = 49 ] && pass wait-dup || fail wait-dup "$r of 49 refused"
cli staleflood mine 40 >/dev/null
# the waits of closed connections are forgotten, not kept to the VM's end
wait_for "$T/vmd.log" "gone, 1 wait(s) dropped" 5 &&
    [ "$(grep -c "gone, 1 wait(s) dropped" "$T/vmd.log")" -ge 40 ] &&
    pass wait-stale || fail wait-stale "stale waits kept: $(grep -c 'wait(s) dropped' "$T/vmd.log") dropped"
vmctl wait mine >"$T/w.out" 2>&1 &
W=$!; EXTRA_PIDS="$EXTRA_PIDS $W"
sleep 0.5
vmctl stop -f mine >/dev/null 2>&1
i=0
while kill -0 $W 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
if ! kill -0 $W 2>/dev/null && wait $W; then
	pass wait-root
else
	fail wait-root "root's wait did not end: $(cat "$T/w.out")"
fi

# 6. daemonized: syslog goes away and comes back while control and vmm
# have lines to log; they send them to the parent, never to syslog
if [ -n "$E2E_DAEMON" ]; then
	syslogd_stop
	cli type 99 0 >/dev/null
	vmctl start mine >/dev/null 2>&1
	vmctl stop -f -w mine >/dev/null 2>&1
	syslogd_start
	cli type 98 0 >/dev/null
	if wait_for "$T/vmd.log" "request type 98" 5 &&
	    kill -0 "$VMD_PID" 2>/dev/null; then
		pass syslog-restart
	else
		fail syslog-restart "vmd: $(kill -0 "$VMD_PID" 2>&1 || echo gone)"
	fi
fi

# vmd and its children survived all of it
kill -0 "$VMD_PID" 2>/dev/null && vmctl status >/dev/null 2>&1 &&
    pass alive || fail alive "vmd is gone"
[ -z "$FAILED" ]
