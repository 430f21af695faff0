#!/usr/bin/env python3
# console.py: drives a VM's serial console (its pty) through a list of
# steps and times them.  Each step is "expect NAME REGEX" (wait for a
# line of output matching REGEX, then print "milestone NAME SECONDS"),
# "send TEXT" (type TEXT; \n and \r are turned into the keys) or "mark
# NAME REGEX" (from the start on, in any order with the rest: the first
# line matching REGEX prints "milestone NAME SECONDS"; marks not seen by
# the end print "missing NAME").  All output goes to LOG.  Exits 0 when
# every expect step was met, 1 on a timeout (printing the step it waited
# for) or when the console closed.  It only reads and writes the pty it
# is given.
#
#   console.py TTY LOG TIMEOUT STEP...     e.g. expect prompt 'vmd-linux# '

import os
import re
import select
import sys
import termios
import time
import tty


def main():
    if len(sys.argv) < 4:
        sys.stderr.write("usage: console.py TTY LOG TIMEOUT STEP...\n")
        return 2
    path, logpath, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
    words = sys.argv[4:]
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
        else:
            sys.stderr.write("console.py: bad step %r\n" % words[0])
            return 2
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    tty.setraw(fd, termios.TCSANOW)
    log = open(logpath, "ab")
    start = time.monotonic()
    buf = ""
    line = ""

    def see(text):
        # whole lines against the marks not met yet
        nonlocal line
        line += text
        *done, line = line.split("\n")
        for ln in done:
            for m in list(marks):
                if m[1].search(ln):
                    print("milestone %s %.1f" %
                          (m[0], time.monotonic() - start), flush=True)
                    marks.remove(m)

    rc = run(fd, log, steps, timeout, start, see)
    see("\n")
    for name, _ in marks:
        print("missing %s" % name, flush=True)
    return rc


def run(fd, log, steps, timeout, start, see):
    buf = ""
    for kind, arg, rx in steps:
        if kind == "send":
            # a slow typist: the guest's line discipline runs emulated
            for ch in arg:
                os.write(fd, ch.encode())
                time.sleep(0.02)
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
            r, _, _ = select.select([fd], [], [], min(left, 1.0))
            if not r:
                continue
            try:
                data = os.read(fd, 4096)
            except OSError:
                data = b""
            if not data:
                print("console closed waiting for %s" % arg, flush=True)
                return 1
            log.write(data)
            log.flush()
            text = data.decode("utf-8", "replace").replace("\r", "")
            see(text)
            buf += text
            # keep what a pattern spanning lines may need, not more
            if len(buf) > 65536:
                buf = buf[-32768:]
    return 0


if __name__ == "__main__":
    sys.exit(main())
