#!/usr/bin/env python3
"""mkelf.py OUT HEXCODE: writes a minimal ELF64 kernel with a PVH entry
note whose code (the bytes in HEXCODE) is loaded at 1 MiB and entered
there in 32-bit protected mode.  For end-to-end tests of guests that
misbehave on purpose."""
import struct
import sys

out, code = sys.argv[1], bytes.fromhex(sys.argv[2])
LOAD = 0x100000
note_desc = struct.pack("<Q", LOAD)
note = struct.pack("<III", 4, len(note_desc), 18) + b"Xen\0" + note_desc
ehsize, phsize = 64, 56
phoff = ehsize
code_off = phoff + 2 * phsize
note_off = code_off + len(code)
ehdr = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
ehdr += struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, LOAD, phoff, 0, 0,
                    ehsize, phsize, 2, 64, 0, 0)
load = struct.pack("<IIQQQQQQ", 1, 7, code_off, LOAD, LOAD, len(code),
                   len(code), 0x1000)
pnote = struct.pack("<IIQQQQQQ", 4, 4, note_off, 0, 0, len(note),
                    len(note), 4)
with open(out, "wb") as f:
    f.write(ehdr + load + pnote + code + note)
