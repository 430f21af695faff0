#!/usr/bin/env python3
"""bench/status_bench.py: latency of `vmctl status` on a busy vmd.

Starts a private vmd (private socket, config and directory) whose vm.conf
defines 1000 VMs, all disabled, starts 50 of them with vmctl (the test
guest, cmdline "interactive", 8M), then runs `vmctl status` 200 times and
prints the median and the 99th percentile of its wall-clock time.  The
same against an empty vmd gives the client's own start-up cost; the
difference of the medians is vmd's share.  Then the same 200 runs while
another client pipelines status requests on one connection as fast as
vmd takes them (reading the answers): what control's back-pressure
leaves root.  It ends each vmd it started (by PID; vmd ends its VMs) and
the flooding client.  Needs root and /dev/kvm.

Usage: sudo python3 bench/status_bench.py [-n 200] [--vms 1000] [--running 50]
"""

import argparse
import os
import socket
import struct
import threading
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VMD = os.path.join(TOP, "usr.sbin/vmd/vmd")
VMCTL = os.path.join(TOP, "usr.sbin/vmctl/vmctl")
GUEST = os.path.join(TOP, "regress/guest/guest.elf")


def start_vmd(tmp, conf_text):
    conf = os.path.join(tmp, "vm.conf")
    sock = os.path.join(tmp, "vmd.sock")
    with open(conf, "w") as f:
        f.write(conf_text)
    log = open(os.path.join(tmp, "vmd.log"), "w")
    p = subprocess.Popen([VMD, "-d", "-f", conf, "-s", sock],
                         stdout=log, stderr=subprocess.STDOUT)
    for _ in range(200):
        if os.path.exists(sock) or p.poll() is not None:
            break
        time.sleep(0.05)
    if not os.path.exists(sock):
        p.kill()
        sys.exit("vmd did not come up; see " + log.name)
    return p, sock


def stop_vmd(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def vmctl(sock, *args, check=True):
    r = subprocess.run([VMCTL, "-s", sock] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if check and r.returncode != 0:
        sys.exit("vmctl %s: %s" % (" ".join(args), r.stderr.decode()))
    return r


def measure(sock, n):
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = vmctl(sock, "status", check=False)
        times.append(time.perf_counter() - t0)
        if r.returncode not in (0, 1):
            sys.exit("vmctl status failed: " + r.stderr.decode())
    return times


def flood(sock, stop, count):
    """Pipeline GET_INFO requests on one connection until stop is set."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock)
    req = struct.pack("<IHHII", 7, 16, 0, 0, 0) * 1024	# GET_INFO

    def reader():
        try:
            while True:
                b = s.recv(1 << 16)
                if not b:
                    break
                count[0] += len(b)
        except OSError:
            pass
    t = threading.Thread(target=reader, daemon=True)
    t.start()
    try:
        while not stop.is_set():
            s.sendall(req)
    except OSError:
        pass
    s.close()


def p99(xs):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(0.99 * (len(xs) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=200)
    ap.add_argument("--vms", type=int, default=1000)
    ap.add_argument("--running", type=int, default=50)
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root")
    for f in (VMD, VMCTL, GUEST):
        if not os.path.exists(f):
            sys.exit("missing %s; run make" % f)

    conf = "".join('vm "b%d" {\n\tdisable\n\tmemory 8M\n\tboot "%s"\n'
                   '\tcmdline "interactive"\n}\n' % (i, GUEST)
                   for i in range(a.vms))
    tmp = tempfile.mkdtemp(prefix="vmd-bench.")
    procs = []
    try:
        p, sock = start_vmd(os.path.join(tmp), conf)
        procs.append(p)
        for i in range(a.running):
            vmctl(sock, "start", "b%d" % i)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            out = vmctl(sock, "status").stdout.decode()
            if out.count(" running ") >= a.running:
                break
            time.sleep(0.2)
        else:
            sys.exit("the VMs did not all start")
        rows = len(vmctl(sock, "status").stdout.splitlines()) - 1
        busy = measure(sock, a.n)
        stop, count = threading.Event(), [0]
        fl = threading.Thread(target=flood, args=(sock, stop, count),
                              daemon=True)
        fl.start()
        time.sleep(0.5)
        t0, c0 = time.monotonic(), count[0]
        flooded = measure(sock, a.n)
        rate = (count[0] - c0) / (time.monotonic() - t0) / 1e6
        stop.set()
        fl.join(5)
        stop_vmd(p)

        empty_dir = os.path.join(tmp, "empty")
        os.mkdir(empty_dir)
        p2, sock2 = start_vmd(empty_dir, "")
        procs.append(p2)
        idle = measure(sock2, a.n)
        stop_vmd(p2)
    finally:
        for p in procs:
            stop_vmd(p)
        shutil.rmtree(tmp, ignore_errors=True)

    ms = 1000.0
    print("vmctl status, %d runs, %d VMs listed (%d running):"
          % (a.n, rows, a.running))
    print("  median %.2f ms   p99 %.2f ms"
          % (statistics.median(busy) * ms, p99(busy) * ms))
    print("vmctl status against an empty vmd (client start-up cost):")
    print("  median %.2f ms   p99 %.2f ms"
          % (statistics.median(idle) * ms, p99(idle) * ms))
    print("vmd's share for %d VMs: about %.2f ms (median difference)"
          % (rows, (statistics.median(busy) - statistics.median(idle)) * ms))
    print("vmctl status while another client pipelines status requests"
          " (it got %.1f MB/s of answers):" % rate)
    print("  median %.2f ms   p99 %.2f ms"
          % (statistics.median(flooded) * ms, p99(flooded) * ms))


if __name__ == "__main__":
    main()
