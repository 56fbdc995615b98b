"""The per-user list of the stacks running on this machine, which `launcher ls` reads.

One small file a stack, `<hash of the project root>.<launcher pid>.json`, in
`$XDG_RUNTIME_DIR/launcher/stacks/` (else `${XDG_CACHE_HOME:-~/.cache}/launcher/stacks/`),
written atomically: each running stack (a foreground `run` or an `up -d`, not the library's
stacks) writes its own once it has written its state file (launcher/runtime/runstate.py), and
removes it when it stops. A launcher killed outright leaves its file behind: a reader checks the
pid and start time the file records and removes the file when that process is gone. The pid in
the name keeps that race-free: the next launcher of the same project writes a file of its own,
which the removal of the dead one's cannot take with it.

The live figures (state, services ready) are in each project's state file, which the stack
keeps current; the file here says only where the project is and which process runs it.
Standard library only, without psutil: `ls` is a quick command.
"""

from __future__ import annotations

import contextlib
import json
import os

TYPE_CHECKING = False  # not typing's: importing typing costs ~6 ms (see launcher/__init__.py)
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import TypedDict

    class Entry(TypedDict):
        root: str  # the project's directory (symbolic links resolved)
        stack: str
        pid: int  # the launcher's
        create_time: float  # its start time, as psutil gives it


SUFFIX = ".json"
# How far a recorded start time may be from the process's: the kernel's boot time, which the
# start time is counted from, is itself derived from the wall clock, which NTP may step. A pid
# taken again by another process within that second of the first one's start is not a worry.
START_TOLERANCE = 1.0


def directory(environ: Mapping[str, str] = os.environ) -> str:
    """Where the files are: under the user's runtime directory, else their cache directory."""
    runtime = environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isabs(runtime):
        return os.path.join(runtime, "launcher", "stacks")
    cache = environ.get("XDG_CACHE_HOME")
    if not cache or not os.path.isabs(cache):
        cache = os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "launcher", "stacks")


def entry_path(root: str | os.PathLike[str], pid: int, environ: Mapping[str, str] = os.environ) -> str:
    """The file of the stack of the project at `root` run by the launcher `pid`."""
    import hashlib  # here: reading the files (`ls`) needs no hash, and its import costs 2 ms

    key = hashlib.sha256(os.fsencode(os.path.realpath(root))).hexdigest()[:24]
    return os.path.join(directory(environ), f"{key}.{pid}{SUFFIX}")


def register(
    root: str | os.PathLike[str],
    stack: str,
    pid: int,
    create_time: float,
    environ: Mapping[str, str] = os.environ,
) -> None:
    """List the stack of the project at `root`, run by the process `pid` (OSError when the
    directory cannot be written)."""
    path = entry_path(root, pid, environ)
    stacks = os.path.dirname(path)
    # `launcher/` private too: makedirs gives its mode to the last directory only.
    for private in (os.path.dirname(stacks), stacks):
        os.makedirs(private, mode=0o700, exist_ok=True)
    entry: Entry = {"root": os.path.realpath(root), "stack": stack, "pid": pid, "create_time": create_time}
    temp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(temp, "w") as file:
            json.dump(entry, file)
        os.replace(temp, path)
    except BaseException:
        _unlink(temp)
        raise


def unregister(root: str | os.PathLike[str], pid: int, environ: Mapping[str, str] = os.environ) -> None:
    """The stack of the project at `root` run by the launcher `pid` has stopped."""
    _unlink(entry_path(root, pid, environ))


def entries(environ: Mapping[str, str] = os.environ) -> list[Entry]:
    """Every stack listed whose launcher lives, by project directory; the files of the others
    are removed."""
    where = directory(environ)
    try:
        names = sorted(name for name in os.listdir(where) if name.endswith(SUFFIX))
    except OSError:
        return []
    found = []
    for name in names:
        path = os.path.join(where, name)
        entry = _read(path)
        if entry is None or not alive(entry["pid"], entry["create_time"]):
            _unlink(path)
        else:
            found.append(entry)
    return sorted(found, key=lambda e: e["root"])


def containing(cwd: str, environ: Mapping[str, str] = os.environ) -> Entry | None:
    """The running stack whose project directory holds `cwd` (the innermost one), or None: for
    a client command run below a project whose configuration it does not find on its own."""
    here = os.path.realpath(cwd)
    inside = [
        e for e in entries(environ) if here == e["root"] or here.startswith(e["root"].rstrip("/") + "/")
    ]
    return max(inside, key=lambda e: len(e["root"]), default=None)


def alive(pid: int, create_time: float) -> bool:
    """Whether `pid` is still the process that started at `create_time` (and not a zombie).

    From /proc where there is one, as psutil reads it there (which costs 16 ms to import, too
    much for `ls`); elsewhere through psutil (launcher/runtime/leftovers.py)."""
    if not os.path.isdir("/proc/self"):
        from launcher.runtime.leftovers import alive as psutil_alive

        return psutil_alive(pid, create_time)
    started = _proc_start_time(pid)
    return started is not None and abs(started - create_time) <= START_TOLERANCE


def _proc_start_time(pid: int) -> float | None:
    """When `pid` started (seconds since the epoch), None when it is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            stat = file.read()
        with open("/proc/stat", "rb") as file:
            boot = next(int(line.split()[1]) for line in file if line.startswith(b"btime "))
        # The command name, in parentheses, may hold spaces and parentheses: the fields after
        # it are counted from its last ")". Field 3 is the state, field 22 the start in ticks.
        fields = stat[stat.rfind(b")") + 2 :].split()
        state, ticks = fields[0], int(fields[19])
    except (OSError, StopIteration, ValueError, IndexError):
        return None
    return None if state == b"Z" else boot + ticks / os.sysconf("SC_CLK_TCK")


def _read(path: str) -> Entry | None:
    try:
        with open(path, "rb") as file:
            data = json.load(file)
    except (OSError, ValueError):
        return None
    ok = (
        isinstance(data, dict)
        and isinstance(data.get("root"), str)
        and isinstance(data.get("stack"), str)
        and isinstance(data.get("pid"), int)
        and isinstance(data.get("create_time"), int | float)
    )
    return data if ok else None


def _unlink(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
