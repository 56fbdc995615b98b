"""Writes N lines of 80 bytes to stdout as fast as it can, then sleeps (so that managers which
stop everything when one process exits, like honcho, do not cut the others short).

    flood.py NAME N [CHUNK]

Without CHUNK, through Python's buffered stdout (8 KiB writes, lines whole in each); with
CHUNK, in writes of CHUNK bytes, which cut lines anywhere. With FLOOD_STAMP set, appends
`NAME time.time()` to that file just before the first write: the benchmark's "first write".
"""

import os
import sys
import time

name = sys.argv[1]
count = int(sys.argv[2])
chunk = int(sys.argv[3]) if len(sys.argv) > 3 else 0
prefix = f"{name} ".encode()
filler = b"x" * (79 - len(prefix) - 10) + b"\n"
stamp = os.environ.get("FLOOD_STAMP")
if chunk:
    data = b"".join(prefix + b"%09d " % i + filler for i in range(count))
if stamp:
    with open(stamp, "a") as file:
        file.write(f"{name} {time.time()}\n")
if chunk:
    view = memoryview(data)
    while view:
        view = view[os.write(1, view[:chunk]) :]
else:
    out = sys.stdout.buffer
    for i in range(count):
        out.write(prefix + b"%09d " % i + filler)
    out.flush()
time.sleep(600)
