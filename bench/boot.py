#!/usr/bin/env python3
"""bench/boot.py: boot time and memory overhead of vmd against QEMU.

Boots the test guest (regress/guest/guest.elf) N times (default 20) with
  - vmd + `vmctl start -c` (a private vmd on a private socket),
  - qemu-system-x86_64 -M microvm -kernel, and -M pc -kernel (KVM),
and reports the median and p90 of two times: from the start command to the
guest's first console line, and to the guest's poweroff (the console
closing / QEMU exiting).  Then it measures memory: for one running 64 MiB
VM, the resident memory of our processes (vm process alone, and with the
parent, control and vmm processes) minus the guest RAM the guest touched,
beside QEMU's resident memory minus its guest RAM.  Needs root.

Usage: sudo python3 bench/boot.py [-n 20] [--no-qemu]
"""

import argparse
import os
import re
import select
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


def timed_run(argv, timeout=60):
    """Run argv; return (t_first_line, t_end) in seconds from the spawn."""
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    first = None
    buf = b""
    fd = p.stdout.fileno()
    while True:
        left = timeout - (time.monotonic() - t0)
        if left <= 0:
            p.kill()
            p.wait()
            raise RuntimeError("timeout: %s" % " ".join(argv))
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            continue
        data = os.read(fd, 65536)
        if not data:
            break
        buf += data
        if first is None and b"\n" in buf:
            first = time.monotonic() - t0
    p.wait()
    end = time.monotonic() - t0
    if b"ALL DONE" not in buf:
        raise RuntimeError("guest did not finish: %r" % buf[-300:])
    return first, end


class Vmd:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="vmd-bench.")
        self.sock = os.path.join(self.dir, "vmd.sock")
        conf = os.path.join(self.dir, "vm.conf")
        open(conf, "w").close()
        self.log = open(os.path.join(self.dir, "vmd.log"), "w")
        self.p = subprocess.Popen([VMD, "-d", "-f", conf, "-s", self.sock],
                                  stderr=self.log)
        for _ in range(100):
            if os.path.exists(self.sock):
                return
            time.sleep(0.05)
        self.close()
        raise RuntimeError("vmd did not start")

    def vmctl(self, *args):
        return [VMCTL, "-s", self.sock] + list(args)

    def close(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def children(pid):
    out = []
    try:
        for task in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, task)) as f:
                for c in f.read().split():
                    out.append(int(c))
                    out.extend(children(int(c)))
    except OSError:
        pass
    return out


def status_kb(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def smaps_rss_of_size(pid, size_kb):
    """Rss (kB) of the mappings of exactly size_kb: a guest RAM block."""
    rss = 0
    cur = None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) ", line)
            if m:
                cur = (int(m.group(2), 16) - int(m.group(1), 16)) // 1024
            elif line.startswith("Rss:") and cur == size_kb:
                rss += int(line.split()[1])
    return rss


def median_p90(xs):
    xs = sorted(xs)
    return statistics.median(xs), xs[min(len(xs) - 1, int(len(xs) * 0.9))]


def report(name, runs):
    firsts = [r[0] for r in runs]
    ends = [r[1] for r in runs]
    f50, f90 = median_p90(firsts)
    e50, e90 = median_p90(ends)
    print("%-22s first line %7.1f ms (p90 %7.1f)   poweroff %7.1f ms "
          "(p90 %7.1f)" % (name, f50 * 1e3, f90 * 1e3, e50 * 1e3,
                           e90 * 1e3))
    return f50


def bench_vmd(n):
    v = Vmd()
    try:
        runs = []
        for i in range(n):
            runs.append(timed_run(v.vmctl("start", "-c", "-b", GUEST, "-m",
                                          "64M", "b%d" % i)))
        return runs
    finally:
        v.close()


QEMU_BASE = ["qemu-system-x86_64", "-accel", "kvm", "-m", "64M",
             "-kernel", GUEST, "-nographic", "-no-reboot", "-display",
             "none", "-serial", "stdio", "-monitor", "none", "-nodefaults"]


def bench_qemu(machine, n):
    argv = QEMU_BASE[:1] + ["-M", machine] + QEMU_BASE[1:]
    return [timed_run(argv) for _ in range(n)]


def mem_vmd():
    v = Vmd()
    try:
        subprocess.run(v.vmctl("start", "-b", GUEST, "-m", "64M", "-k",
                               "interactive", "m"), check=True,
                       stderr=subprocess.DEVNULL)
        time.sleep(1)
        procs = children(v.p.pid)
        vmpid = None
        for p in procs:
            with open("/proc/%d/cmdline" % p, "rb") as f:
                if b"-N\0m" in f.read():
                    vmpid = p
        total = status_kb(v.p.pid, "VmRSS")
        for p in procs:
            total += status_kb(p, "VmRSS")
        guest = status_kb(vmpid, "RssShmem")
        vm_only = status_kb(vmpid, "VmRSS") - guest
        return vm_only, total - guest, guest
    finally:
        v.close()


def mem_qemu(machine):
    argv = QEMU_BASE[:1] + ["-M", machine] + QEMU_BASE[1:]
    argv[argv.index("-kernel") + 1:argv.index("-kernel") + 1] = []
    argv += ["-append", "interactive"]
    p = subprocess.Popen(argv, stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(3)
        rss = status_kb(p.pid, "VmRSS")
        guest = smaps_rss_of_size(p.pid, 64 * 1024)
        return rss - guest, guest
    finally:
        p.kill()
        p.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=20)
    ap.add_argument("--no-qemu", action="store_true")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/boot.py: needs root")
    print("boot of regress/guest/guest.elf, median of %d" % a.n)
    ours = report("vmd (vmctl start -c)", bench_vmd(a.n))
    if not a.no_qemu and shutil.which("qemu-system-x86_64"):
        for m in ("microvm", "pc"):
            q = report("qemu -M %s" % m, bench_qemu(m, a.n))
            print("%-22s vmd first line is %.2fx of qemu -M %s" %
                  ("", ours / q, m))
    vm_only, total, guest = mem_vmd()
    print("memory, one 64 MiB VM: vmd vm process %d KiB, all vmd processes"
          " %d KiB (guest RAM touched %d KiB excluded)" %
          (vm_only, total, guest))
    if not a.no_qemu and shutil.which("qemu-system-x86_64"):
        for m in ("microvm", "pc"):
            over, guest = mem_qemu(m)
            print("memory, one 64 MiB VM: qemu -M %s %d KiB (guest RAM "
                  "touched %d KiB excluded)" % (m, over, guest))


if __name__ == "__main__":
    main()
