"""Reports how it was started, as one JSON object, then sleeps; exits 0 on SIGTERM.

    introspect.py FILE [ARGS...]

Writes (atomically) to FILE: its argv (after FILE), cwd, pid, process group, session, what its
stdin is, and its whole environment. Then prints "introspect ready" and sleeps until a signal.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time


def main() -> None:
    path = sys.argv[1]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    report = {
        "argv": sys.argv[2:],
        "cwd": os.getcwd(),
        "pid": os.getpid(),
        "pgid": os.getpgid(0),
        "sid": os.getsid(0),
        "stdin": os.readlink("/proc/self/fd/0"),
        "env": dict(os.environ),
    }
    with open(f"{path}.tmp", "w") as file:
        json.dump(report, file)
    os.replace(f"{path}.tmp", path)
    print("introspect ready", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
