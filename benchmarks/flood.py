"""Writes N lines of 80 bytes to stdout as fast as it can, then sleeps (so that managers which
stop everything when one process exits, like honcho, do not cut the others short)."""

import sys
import time

name = sys.argv[1]
count = int(sys.argv[2])
prefix = f"{name} ".encode()
out = sys.stdout.buffer
for i in range(count):
    out.write(prefix + f"{i:09d} ".encode() + b"x" * (79 - len(prefix) - 10) + b"\n")
out.flush()
time.sleep(600)
