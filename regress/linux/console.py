#!/usr/bin/env python3
# console.py: drives a VM's serial console (its pty) through a list of
# steps and times them.  Each step is "expect NAME REGEX" (wait for a
# line of output matching REGEX, then print "milestone NAME SECONDS"),
# "send TEXT" (type TEXT; \n and \r are turned into the keys) or "mark
# NAME REGEX" (from the start on, in any order with the rest: the first
# line matching REGEX prints "milestone NAME SECONDS"; marks not seen by
# the end print "missing NAME"), or "run NAME COMMAND" (runs COMMAND
# with sh -c while the console is read on, so the guest never waits on a
# full pty; "milestone NAME SECONDS" when it exits 0, else "failed NAME
# STATUS: OUTPUT" and the steps end there).  All output goes to LOG.
# Exits 0 when every expect and run step was met, 1 on a timeout
# (printing the step it waited for), a failed command or when the
# console closed.  It reads and writes only the pty it is given and
# runs only the commands it is given.
#
#   console.py TTY LOG TIMEOUT STEP...     e.g. expect prompt 'vmd-linux# '

import os
import re
import select
import subprocess
import sys
import termios
import time
import tty


def main():
    if len(sys.argv) < 4:
        sys.stderr.write("usage: console.py TTY LOG TIMEOUT STEP...\n")
        return 2
    path, logpath, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
    try:
        steps, marks = parse(sys.argv[4:])
    except ValueError as e:
        sys.stderr.write("console.py: bad step %r\n" % e.args[0])
        return 2
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    tty.setraw(fd, termios.TCSANOW)
    log = open(logpath, "ab")
    start = time.monotonic()
    see = watch(marks, lambda name: print("milestone %s %.1f" %
                (name, time.monotonic() - start), flush=True))
    rc = run(fd, log, steps, timeout, start, see)
    see("\n")
    for name, _ in marks:
        print("missing %s" % name, flush=True)
    return rc


def parse(words):
    """The STEP... words of the command line: (steps for run(), marks
    for watch()); ValueError with the first word of a bad step."""
    steps = []
    marks = []
    while words:
        if words[0] == "mark" and len(words) >= 3:
            marks.append((words[1], re.compile(words[2])))
            words = words[3:]
        elif words[0] == "expect" and len(words) >= 3:
            steps.append(("expect", words[1], re.compile(words[2])))
            words = words[3:]
        elif words[0] == "send" and len(words) >= 2:
            text = words[1].replace("\\n", "\n").replace("\\r", "\r")
            steps.append(("send", text, None))
            words = words[2:]
        elif words[0] == "run" and len(words) >= 3:
            steps.append(("run", words[1], words[2]))
            words = words[3:]
        else:
            raise ValueError(words[0])
    return steps, marks


def watch(marks, hit):
    """A see() for run(): whole lines against the MARKS not met yet,
    HIT(name) for each one met (and taken off MARKS)."""
    line = ""

    def see(text):
        nonlocal line
        line += text
        *done, line = line.split("\n")
        for ln in done:
            for m in list(marks):
                if m[1].search(ln):
                    hit(m[0])
                    marks.remove(m)
    return see


def run(fd, log, steps, timeout, start, see):
    buf = ""

    def readsome(wait):
        # what the console has within WAIT seconds; False once it closed
        nonlocal buf
        r, _, _ = select.select([fd], [], [], wait)
        if not r:
            return True
        try:
            data = os.read(fd, 4096)
        except OSError:
            data = b""
        if not data:
            return False
        log.write(data)
        log.flush()
        text = data.decode("utf-8", "replace").replace("\r", "")
        see(text)
        buf += text
        # keep what a pattern spanning lines may need, not more
        if len(buf) > 65536:
            buf = buf[-32768:]
        return True

    for kind, arg, rx in steps:
        if kind == "send":
            # a slow typist: the guest's line discipline runs emulated
            for ch in arg:
                os.write(fd, ch.encode())
                time.sleep(0.02)
            continue
        if kind == "run":
            proc = subprocess.Popen(["sh", "-c", rx],
                                    stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT)
            while proc.poll() is None:
                if time.monotonic() - start >= timeout:
                    proc.kill()
                    proc.wait()
                    print("timeout waiting for %s after %.0f s" %
                          (arg, timeout), flush=True)
                    return 1
                if not readsome(0.2):
                    proc.kill()
                    proc.wait()
                    print("console closed waiting for %s" % arg, flush=True)
                    return 1
            out = proc.stdout.read().decode("utf-8", "replace")
            if proc.returncode != 0:
                print("failed %s %d: %s" % (arg, proc.returncode,
                      " ".join(out.split())), flush=True)
                return 1
            print("milestone %s %.1f" % (arg, time.monotonic() - start),
                  flush=True)
            continue
        while True:
            m = rx.search(buf)
            if m:
                buf = buf[m.end():]
                print("milestone %s %.1f" % (arg, time.monotonic() - start),
                      flush=True)
                break
            left = timeout - (time.monotonic() - start)
            if left <= 0:
                print("timeout waiting for %s after %.0f s" %
                      (arg, timeout), flush=True)
                return 1
            if not readsome(min(left, 1.0)):
                print("console closed waiting for %s" % arg, flush=True)
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
