#!/usr/bin/env python3
# linux_qemu.py: vmd's Linux test kernel (regress/linux) side by side
# with QEMU, the referee: the same kernel, the same busybox initramfs as
# initrd, the same command line (with what vmd adds on a host that needs
# its host-quirk layer) and the same devices where QEMU has them (vCPUs,
# virtio-blk disk with an MBR and an ext2 partition, virtio-net, virtio-
# rng) under qemu-system-x86_64 -M pc with -accel kvm and -accel tcg,
# and under vmd through regress/linux/boot.sh.  Each run prints the same
# milestones as boot.sh, in seconds from the start command (vmctl start;
# the exec of QEMU), then one table beside each other.  Where a run stops
# short (QEMU/KVM on a host whose KVM cannot complete an instruction at
# CPL 0: a KVM internal error), it says where: the last console line,
# QEMU's error, the guest RIP, its symbol (nm of the vmlinux, or -m
# System.map) and the instruction.  Runs go one at a time, niced.  QEMU
# runs in a network namespace made for the run (a loopback, down) and
# removed after it, with user-mode networking (or -nic none): its
# traffic never leaves that namespace.  Nothing is left running.
# Measures only; never part of make test.  As root:
#
#   python3 bench/linux_qemu.py [-dnexz] [-A vmd,kvm,tcg] [-c ncpus]
#       [-k kernel] [-m System.map] [-o dir] [-t seconds]

import argparse
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import termios
import threading
import time
import tty

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LINUX = os.path.join(TOP, "regress", "linux")
sys.path.insert(0, LINUX)
import console  # noqa: E402  regress/linux/console.py: the same steps

CACHE = os.environ.get("VMD_LINUX_CACHE", "/var/tmp/vmd-linux-cache")
VMD = os.path.join(TOP, "usr.sbin", "vmd", "vmd")

# boot.sh's names for the milestones whose line it checks further
RENAME = {"rng-read": "rng", "disk-written": "disk-mounted-rw",
          "ping-answer": "ping-host", "intx-read": "intx"}


def steps(o):
    """boot.sh's console steps for its -i run with these options."""
    s = [("mark", "rtc", r"rtc_cmos [^ ]*: setting system clock to"),
         ("mark", "nogsi", r"PCI INT [A-D]: no GSI"),
         ("expect", "console", r"Linux version"),
         ("mark", "initrd-unpacked", r"Freeing initrd memory")]
    if o.ncpus > 0:
        s.append(("mark", "cpus-up",
                  r"smp: Brought up 1 node, %d CPUs" % o.ncpus))
    if o.disk:
        s += [("mark", "disk-found", r"virtio_blk virtio[0-9]+: \[vda\]"),
              ("mark", "partition-found", r" vda: vda1")]
    if o.net:
        s.append(("mark", "ip-config", r"IP-Config: Complete"))
    s += [("expect", "run-init", r"Run /init as init process"),
          ("expect", "userland", r"vmd-init: userland up"),
          ("expect", "shell-prompt", r"vmd-linux# "),
          ("send", r"echo sum=$((6*7)) $(uname -r) $(ls /proc | wc -l)"
           r" done\n"),
          ("expect", "command", r"sum=42 [0-9][^ ]* [0-9]+ done"),
          ("expect", "prompt-again", r"vmd-linux# "),
          ("send", r"echo rng=$(cat /sys/class/misc/hw_random/rng_current)"
           r":$(head -c 64 /dev/hwrng | wc -c)\n"),
          ("expect", "rng-read", r"rng=[^ ]*:[0-9]+")]
    if o.intx:
        s += [("send", r'echo intx=$(grep -c "IO-APIC.*fasteoi.*virtio" '
               r'/proc/interrupts)\n'),
              ("expect", "intx-read", r"intx=[0-9]+")]
    if o.disk:
        s += [("send", r"mkdir -p /tmp/m && mount -t ext2 -o rw /dev/vda1 "
               r"/tmp/m && echo %s >/tmp/m/t && grep -q ' /tmp/m ext2 rw' "
               r"/proc/mounts && umount /tmp/m && echo disk=$((40+2))\n"
               % o.token),
              ("expect", "disk-written", r"disk=[0-9]+|mount: ")]
    if o.net:
        s += [("send", r'g=$(ip route | sed -n "s/^default via '
               r'\([0-9.]*\).*/\1/p"); ping -c 1 -W 10 $g >/dev/null && '
               r'echo ping=$((1+1)) || echo ping=$((2+2))\n'),
              ("expect", "ping-answer", r"ping=(2|4)")]
    s += [("send", r"poweroff -f\n"),
          ("expect", "poweroff", r"reboot: (Power down|System halted)")]
    return s


def verdicts(text, o):
    """What boot.sh checks in the lines behind some milestones."""
    bad = {}
    if not re.search(r"^rng=virtio_rng\.[0-9]+:64", text, re.M):
        bad["rng"] = "no 64 bytes from virtio_rng"
    if o.disk and not re.search(r"^disk=42", text, re.M):
        bad["disk-mounted-rw"] = "mount or write failed"
    if o.net and not re.search(r"^ping=2", text, re.M):
        bad["ping-host"] = "no answer from the gateway"
    if o.intx and not re.search(r"^intx=[1-9]", text, re.M):
        bad["intx"] = "no virtio interrupt on the IO-APIC"
    if re.search(r"PCI INT [A-D]: no GSI", text):
        bad["intx-routing"] = "no GSI"
    return bad


def run_steps(fd, logpath, words, timeout, start):
    """console.py's main() on an open pty, timed from START; returns
    ([(name, seconds)], missing marks, rc, the last lines waited on)."""
    plan, marks = console.parse([x for w in words for x in w])
    got = []
    out = []

    class Out:
        # console.run prints "milestone NAME SECONDS" and its failures
        def write(self, s):
            out.append(s)

        def flush(self):
            pass

    see = console.watch(marks, lambda name:
                        got.append((name, time.monotonic() - start)))

    saved = sys.stdout
    sys.stdout = Out()
    try:
        with open(logpath, "ab") as log:
            rc = console.run(fd, log, plan, timeout, start, see)
        see("\n")
    finally:
        sys.stdout = saved
    for s in "".join(out).splitlines():
        f = s.split()
        if len(f) == 3 and f[0] == "milestone":
            got.append((f[1], float(f[2])))
    why = [s for s in "".join(out).splitlines()
           if not s.startswith("milestone")]
    return got, [m[0] for m in marks], rc, why


def end(proc, grace):
    """Ends PROC, ours: SIGTERM, SIGKILL after GRACE seconds."""
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def host_args():
    """What vmd adds to a Linux command line on this host ('' if
    nothing): a private vmd with no VMs says it at start."""
    if not os.access(VMD, os.X_OK):
        sys.exit("linux_qemu.py: no %s (run make first)" % VMD)
    with tempfile.TemporaryDirectory(prefix="linux_qemu.") as d:
        conf, sock, log = (os.path.join(d, n)
                           for n in ("vm.conf", "sock", "log"))
        open(conf, "w").close()
        with open(log, "w") as lf:
            p = subprocess.Popen([VMD, "-d", "-v", "-f", conf, "-s", sock],
                                 stdout=lf, stderr=lf,
                                 stdin=subprocess.DEVNULL)
        try:
            for _ in range(100):
                if "vmm: ready" in open(log).read():
                    break
                time.sleep(0.05)
        finally:
            end(p, 5)
        text = open(log).read()
    m = re.search(r"Linux kernels vmd boots here get on their command "
                  r"line: (.*)", text)
    return m.group(1).strip() if m else ""


def symbolize(rip, o):
    """'symbol+0xoff' for a kernel address, from nm or System.map."""
    syms = []
    try:
        if o.map:
            lines = open(o.map).read().splitlines()
        else:
            lines = subprocess.run(["nm", "-n", o.kernel_syms],
                                   capture_output=True, text=True,
                                   timeout=60).stdout.splitlines()
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    for ln in lines:
        f = ln.split()
        if len(f) >= 3 and f[1] in "tTwW":
            syms.append((int(f[0], 16), f[2]))
    below = sorted(x for x in syms if x[0] <= rip)
    if not below:
        return "? (no symbols)"
    a, n = below[-1]
    s = "%s+0x%x" % (n, rip - a)
    # a label inside a function (int3_selftest_ip): name the function
    up = [x for x in below if x[0] < a]
    if rip == a and up:
        s += " (%s+0x%x)" % (up[-1][1], rip - up[-1][0])
    return s


def disasm(code):
    """The instruction QEMU marked <..> in its Code= dump."""
    m = re.search(r"<([0-9a-f]{2})>((?: [0-9a-f]{2})*)", code)
    if not m:
        return "?"
    b = bytes([int(m.group(1), 16)] + [int(x, 16)
                                       for x in m.group(2).split()])
    with tempfile.NamedTemporaryFile(suffix=".bin") as f:
        f.write(b)
        f.flush()
        r = subprocess.run(["objdump", "-D", "-b", "binary",
                            "-mi386:x86-64", f.name], capture_output=True,
                           text=True)
    for ln in r.stdout.splitlines():
        m = re.match(r"\s+0:\s+((?:[0-9a-f]{2} )+)\s*(.*)", ln)
        if m:
            return "%s (%s)" % (" ".join(m.group(2).split()),
                                m.group(1).strip())
    return "?"


def qemu_run(accel, o, t):
    """One boot under QEMU; returns a result dict."""
    ns = "lxq%d%s" % (os.getpid(), accel)
    qmp = os.path.join(t, "qmp." + accel)
    con = os.path.join(t, "console." + accel)
    args = ["qemu-system-x86_64", "-M", "pc", "-accel", accel,
            "-m", "256", "-smp", str(max(o.ncpus, 1)),
            "-kernel", o.kernel, "-initrd", o.initrd,
            "-append", o.cmdline, "-display", "none", "-vga", "none",
            "-serial", "pty", "-monitor", "none",
            "-qmp", "unix:%s,server=on,wait=off" % qmp,
            "-no-reboot", "-S",
            "-device", "virtio-rng-pci"]
    if o.disk:
        args += ["-drive", "file=%s,format=raw,if=virtio" % o.image]
    if o.net:
        # slirp answers DHCP (host name lx, as vmd's) and pings to its
        # gateway itself.  Not restrict=on: then its DHCP gives no
        # gateway for the guest to ping; what slirp would send out goes
        # nowhere, for the namespace it runs in has only a loopback, down
        args += ["-netdev", "user,id=n0,hostname=lx",
                 "-device", "virtio-net-pci,netdev=n0"]
    else:
        args += ["-nic", "none"]
    res = {"name": "qemu-" + accel, "cmd": " ".join(shlex.quote(a)
                                                   for a in args)}
    subprocess.run(["ip", "netns", "add", ns], check=True)
    proc = None
    err = []
    dead = threading.Event()
    ptyname = []
    gotpty = threading.Event()

    def watch():
        # QEMU's output: the pty (on stdout), then a KVM internal error and the
        # register dump that ends with the Code= line; then QEMU pauses
        # the VM (it does not exit), so the run ends it here
        for raw in proc.stdout:
            s = raw.decode("utf-8", "replace").rstrip("\n")
            err.append(s)
            m = re.search(r"char device redirected to (/dev/pts/\d+)", s)
            if m and not ptyname:
                ptyname.append(m.group(1))
                gotpty.set()
            if s.startswith("Code="):
                res["stop_t"] = time.monotonic() - start
                dead.set()
                proc.kill()
        gotpty.set()

    try:
        start = time.monotonic()
        proc = subprocess.Popen(["ip", "netns", "exec", ns, "nice", "-n",
                                 "10"] + args, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        th = threading.Thread(target=watch, daemon=True)
        th.start()
        gotpty.wait(30)
        if not ptyname:
            res["stop"] = "QEMU did not start: " + " | ".join(err[-3:])
            return res
        fd = os.open(ptyname[0], os.O_RDWR | os.O_NOCTTY)
        tty.setraw(fd, termios.TCSANOW)
        # the console is open: let the VM run (QMP cont)
        for _ in range(200):
            if os.path.exists(qmp):
                break
            time.sleep(0.05)
        q = socket.socket(socket.AF_UNIX)
        q.connect(qmp)
        qf = q.makefile("rw")
        qf.readline()
        for c in ("qmp_capabilities", "cont"):
            qf.write(json.dumps({"execute": c}) + "\n")
            qf.flush()
            while "return" not in json.loads(qf.readline()):
                pass
        got, missing, rc, why = run_steps(fd, con, steps(o), o.timeout,
                                          start)
        os.close(fd)
        q.close()
        res["wall"] = time.monotonic() - start
        res["got"], res["missing"], res["rc"] = got, missing, rc
        res["why"] = why
        text = open(con, "rb").read().decode("utf-8", "replace")
        text = text.replace("\r", "")
        res["bad"] = verdicts(text, o)
        lines = [s for s in text.splitlines() if s.strip()]
        res["last"] = lines[-1] if lines else "(no output)"
        if dead.wait(3 if rc else 0.1):
            th.join(5)
            e = "\n".join(err)
            rip = re.search(r"RIP=([0-9a-f]{16})", e)
            code = re.search(r"^Code=.*$", e, re.M)
            sub = re.search(r"KVM internal error\. Suberror: (\d+)", e)
            res["stop"] = "KVM internal error, suberror %s%s" % (
                sub.group(1) if sub else "?",
                " (emulation failure)" if "emulation failure" in e
                else "")
            if rip:
                r = int(rip.group(1), 16)
                res["rip"] = "0x%x %s" % (r, symbolize(r, o))
            if code:
                res["insn"] = disasm(code.group(0))
            cpl = re.search(r"CPL=(\d)", e)
            if cpl:
                res["cpl"] = cpl.group(1)
        elif rc:
            res["stop"] = " ".join(why) or "console closed"
            if proc.poll() is not None:
                res["stop"] += "; QEMU exited with %d: %s" % (
                    proc.returncode, " | ".join(err[-3:]))
        if o.keep:
            os.makedirs(o.keep, exist_ok=True)
            subprocess.run(["cp", con, os.path.join(o.keep, "console." +
                                                    accel)])
            with open(os.path.join(o.keep, "qemu." + accel), "w") as f:
                f.write("\n".join(err) + "\n")
        return res
    finally:
        if proc is not None and proc.poll() is None:
            end(proc, 10)
        subprocess.run(["ip", "netns", "del", ns])


def vmd_run(o):
    """boot.sh's matching run (-i and the same options), niced."""
    a = ["nice", "-n", "10", "sh", os.path.join(LINUX, "boot.sh"), "-i",
         "-t", str(int(o.timeout)), "-N", "qemu-side"]
    if o.ncpus > 0:
        a += ["-c", str(o.ncpus)]
    for flag in "dnexz":
        if getattr(o, {"d": "disk", "n": "net", "e": "early", "x": "intx",
                       "z": "bz"}[flag]):
            a.append("-" + flag)
    if o.k:
        a += ["-k", o.kernel, "-S"]
    res = {"name": "vmd", "cmd": " ".join(a), "got": [], "bad": {}}
    start = time.monotonic()
    # its own process group: a signal must reach the boot.sh that
    # lib.subr runs in a PID namespace, and its console.py
    p = subprocess.Popen(a, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL, text=True, cwd=TOP,
                         start_new_session=True)
    out = err = ""
    try:
        out, err = p.communicate(timeout=o.timeout + 120)
    finally:
        # boot.sh's exit trap stops its vmd: TERM, never KILL, first
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
            try:
                p.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
    r = subprocess.CompletedProcess(a, p.returncode, out, err)
    res["wall"] = time.monotonic() - start
    names = [w[1] for w in steps(o) if w[0] != "send"]
    names = [RENAME.get(n, n) for n in names] + ["intx-routing"]
    for ln in r.stdout.splitlines():
        m = re.match(r"(PASS|FAIL|SKIP) linux\.qemu-side\.([^ :]+)"
                     r"(?: \(([0-9.]+) s\))?:? ?(.*)", ln)
        if not m:
            continue
        if m.group(1) == "PASS" and m.group(3):
            res["got"].append((m.group(2), float(m.group(3))))
        elif m.group(1) != "PASS" and m.group(2) in names:
            res["bad"][m.group(2)] = m.group(4)
    if o.keep:
        os.makedirs(o.keep, exist_ok=True)
        with open(os.path.join(o.keep, "boot.sh.out"), "w") as f:
            f.write(r.stdout + r.stderr)
    if r.returncode != 0:
        # boot.sh shows the console's last lines, then vmd's
        out = r.stdout.split("--- console (last lines) ---\n")
        tail = out[-1].split("--- what vmd said")[0] if len(out) > 1 else ""
        tail = [s for s in tail.splitlines() if s.strip()]
        res["stop"] = "boot.sh failed: %s" % "; ".join(
            s for s in r.stdout.splitlines() if s.startswith("FAIL"))[:300]
        res["last"] = tail[-1] if tail else "?"
    return res


def table(o, runs):
    names = [RENAME.get(w[1], w[1]) for w in steps(o)
             if w[0] != "send" and w[1] not in ("nogsi", "prompt-again")]
    print()
    print("%-18s" % "seconds from start" +
          "".join("%12s" % r["name"] for r in runs))
    for n in names:
        row = "%-18s" % n
        for r in runs:
            v = dict((RENAME.get(a, a), b) for a, b in r.get("got", []))
            cell = "%.1f" % v[n] if n in v else "-"
            if n in r.get("bad", {}) and n in v:
                cell += "!"
            row += "%12s" % cell
        print(row)
    print("(-: not reached; !: reached, but its check failed)")
    for r in runs:
        print()
        print("%s: %s" % (r["name"], r["cmd"]))
        for k in ("stop", "rip", "insn", "cpl", "last"):
            if k in r:
                print("  %-5s %s" % (k, r[k]))
        if "stop_t" in r:
            print("  stopped at %.1f s" % r["stop_t"])
        v = dict((RENAME.get(a, a), b) for a, b in r.get("got", []))
        for k, why in r.get("bad", {}).items():
            if k in v or k not in names:
                print("  check %s: %s" % (k, why))


def main():
    ap = argparse.ArgumentParser(description="vmd and QEMU (KVM, TCG) "
                                 "booting the same Linux kernel")
    ap.add_argument("-A", default="vmd,kvm,tcg",
                    help="runs, in order: vmd, kvm, tcg")
    ap.add_argument("-c", type=int, default=2, dest="ncpus")
    ap.add_argument("-d", action="store_true", dest="disk")
    ap.add_argument("-n", action="store_true", dest="net")
    ap.add_argument("-e", action="store_true", dest="early")
    ap.add_argument("-x", action="store_true", dest="intx")
    ap.add_argument("-z", action="store_true", dest="bz")
    ap.add_argument("-k", help="another kernel (vmlinux or bzImage)")
    ap.add_argument("-m", dest="map", help="its System.map")
    ap.add_argument("-t", type=float, default=900, dest="timeout")
    ap.add_argument("-o", dest="keep",
                    help="keep the QEMU runs' console logs in this directory")
    o = ap.parse_args()
    if os.geteuid() != 0 or not os.path.exists("/dev/kvm"):
        sys.exit("linux_qemu.py: needs root and /dev/kvm")
    t = tempfile.mkdtemp(prefix="linux_qemu.")
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    try:
        return bench(o, t)
    finally:
        subprocess.run(["rm", "-rf", t])


def bench(o, t):
    if o.k:
        o.kernel = os.path.abspath(o.k)
        o.kernel_syms = o.kernel
    else:
        d = subprocess.run(["sh", os.path.join(LINUX, "build-kernel.sh")],
                           capture_output=True, text=True,
                           check=True).stdout.strip()
        o.kernel = os.path.join(d, "bzImage" if o.bz else "vmlinux")
        o.kernel_syms = os.path.join(d, "vmlinux")
    o.initrd = os.path.join(t, "busybox.cpio")
    subprocess.run(["sh", os.path.join(LINUX, "mkinitramfs.sh"),
                    o.initrd], check=True)
    o.token = "vmd-disk-%d-%d" % (os.getpid(), time.time())
    o.image = os.path.join(t, "disk.img")
    if o.disk:
        with open(o.image, "wb") as f:
            f.truncate(64 << 20)
        subprocess.run(["sfdisk", "-q", o.image], input=b"start=2048, "
                       b"type=83\n", check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["mke2fs", "-q", "-F", "-t", "ext2", "-E",
                        "offset=1048576", o.image, "63M"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cmd = "console=ttyS0"
    if o.intx:
        cmd += " pci=nomsi"
    if o.early:
        cmd += " earlyprintk=serial,ttyS0,115200"
    if o.net:
        cmd += " ip=dhcp"
    extra = host_args()
    o.cmdline = cmd + (" " + extra if extra else "")
    print("kernel  %s\ninitrd  %s (regress/linux/mkinitramfs.sh)\n"
          "cmdline %s" % (o.kernel, o.initrd, o.cmdline))
    print("load    %s" % open("/proc/loadavg").read().strip())
    runs = []
    for what in o.A.split(","):
        print("--- %s ..." % what, flush=True)
        if what == "vmd":
            r = vmd_run(o)
        elif what in ("kvm", "tcg"):
            r = qemu_run(what, o, t)
        else:
            sys.exit("linux_qemu.py: unknown run %s" % what)
        print("    %.0f s; load %s" % (r.get("wall", 0),
              open("/proc/loadavg").read().strip()), flush=True)
        runs.append(r)
    table(o, runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
