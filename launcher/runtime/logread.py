"""Reading the per-service log files of `.launcher/logs/` (written by launcher/runtime/logfiles.py):
each line parsed into its time and text, the services merged in time order, and the files
followed as they grow and rotate. `launcher logs` reads them, whether or not a stack runs.

    log = ServiceLog(log_dir(root), "api")
    lines = log.read(final=True)           # everything the files hold: `api.log.1`, then `api.log`
    new = log.more()                       # what was written since (a rotation in between too)
    for line in merge([lines, other_lines]):
        print(line.stamp, line.service, line.text)

`logs` is a quick command: this module imports only the standard library's light modules.
"""

from __future__ import annotations

import heapq
import os
import re
from datetime import datetime

from launcher.runtime import statejson

TYPE_CHECKING = False  # not typing's: importing typing costs ~6 ms (see launcher/__init__.py)
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from typing import BinaryIO

LOG_DIR = "logs"
# `up -d`'s detached launcher writes its own output to `launcher.log` beside the services' files.
LAUNCHER_LOG = "launcher"
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def log_dir(root: str) -> str:
    """The log directory of the project at `root`."""
    return os.path.join(root, statejson.STATE_DIR, LOG_DIR)


def services_logged(directory: str) -> list[str]:
    """The services with a log file (or only a rotated one) in `directory`, sorted."""
    try:
        files = os.listdir(directory)
    except OSError:
        return []
    names = {f.removesuffix(".log") for f in files if f.endswith(".log")}
    names |= {f.removesuffix(".log.1") for f in files if f.endswith(".log.1")}
    names.discard(LAUNCHER_LOG)
    return sorted(names)


class LogLine:
    """One line of a service's log: `at` (seconds since the epoch), its `stamp` as written
    (empty for a line without one, which takes the time of the line before it) and `text`, as
    the service wrote it."""

    __slots__ = ("at", "service", "stamp", "text")

    def __init__(self, at: float, service: str, stamp: str, text: str) -> None:
        self.at = at
        self.service = service
        self.stamp = stamp
        self.text = text

    def __repr__(self) -> str:
        return f"LogLine({self.at!r}, {self.service!r}, {self.stamp!r}, {self.text!r})"


def parse_stamp(stamp: str) -> float | None:
    """Seconds since the epoch of a log file's stamp (RFC 3339; a stamp without an offset, as
    files of earlier versions have, is local time), or None when `stamp` is not one."""
    if len(stamp) < 19 or stamp[10] != "T":
        return None
    try:
        return datetime.fromisoformat(stamp).timestamp()
    except ValueError:
        return None


def parse_since(text: str, now: float) -> float:
    """`--since`: an RFC 3339 time (without an offset: local time), or a duration before `now`
    (`10m`, `2h`, `30s`, `1h30m`, `1d`); seconds since the epoch. ValueError otherwise."""
    if _DURATION.fullmatch(text):
        return now - sum(float(n) * _SECONDS[unit] for n, unit in _DURATION_PART.findall(text))
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise ValueError(
            f"not a time (RFC 3339, as 2024-05-01T12:00:00Z) nor a duration (10m, 2h, 30s): {text!r}"
        ) from None


def select(
    lines: list[LogLine], *, since: float | None = None, pattern: re.Pattern[str] | None = None
) -> list[LogLine]:
    """The lines at or after `since` whose text matches `pattern` (re.search)."""
    if since is not None:
        lines = [line for line in lines if line.at >= since]
    if pattern is not None:
        lines = [line for line in lines if pattern.search(line.text)]
    return lines


def last(lines: list[LogLine], count: int | None) -> list[LogLine]:
    """The last `count` lines (all of them for None)."""
    if count is None:
        return lines
    return lines[-count:] if count else []


def merge(services: Iterable[list[LogLine]]) -> Iterator[LogLine]:
    """The services' lines in time order. Stable: each service's lines keep their file's order,
    and lines of one time come in the order of `services`."""
    return heapq.merge(*services, key=_time)


def _time(line: LogLine) -> float:
    return line.at


class ServiceLog:
    """One service's log file, `<name>.log`, and its rotated part `<name>.log.1`: read to the
    end, then on as it grows.

    A rotation (the writer renames `.log` to `.log.1` and starts a new `.log`) shows as the name
    pointing to another file than the one open: the open file is read to its end, then the new
    one from its start (with the one between, when it rotated twice). Only complete lines are
    returned, but by `read(final=True)` and `rest()`, for when no writer will end the last one.
    """

    def __init__(self, directory: str, service: str) -> None:
        self.service = service
        self.path = os.path.join(directory, f"{service}.log")
        self.rotated_path = f"{self.path}.1"
        # Whether `read()` found a rotated part: older lines may have been rotated away.
        self.rotated = False
        self._file: BinaryIO | None = None
        self._inode: int | None = None
        self._pending = b""
        self._stamp: str | None = None  # the last stamp parsed, and its time
        self._at = float("-inf")

    def read(self, *, final: bool = False) -> list[LogLine]:
        """Everything the files hold (the rotated part first); `more()` goes on from there.
        `final`: a last line without its newline is returned too (no writer will end it)."""
        self._take(self.path)
        rotated = _inode(self.rotated_path)
        self.rotated = rotated is not None
        lines = []
        if rotated is not None and rotated != self._inode:  # (it is when it rotated just now)
            lines += self._whole(self.rotated_path)
        lines += self._read_on()
        return self._parse(lines + (self._rest() if final else []))

    def more(self) -> list[LogLine]:
        """The complete lines written since the last call."""
        lines = self._read_on()
        if _inode(self.path) == self._inode:
            return self._parse(lines)
        if self._inode is not None:  # rotated since it was opened
            lines += self._read_on() + self._rest()  # what was written before the rename
            # The file after it may have rotated too (a quick writer, or a look between a
            # rotation and the next write): then it is `.log.1`, to be read whole first.
            if self._take(self.rotated_path):
                lines += self._read_on() + self._rest()
        # The next file, or the first. Until one has begun, the one read stays open: so no new
        # file can take its inode number meanwhile.
        if self._take(self.path):
            lines += self._read_on()
        return self._parse(lines)

    def rest(self) -> list[LogLine]:
        """A last line without its newline, once no writer will end it (the stack stopped)."""
        return self._parse(self._rest())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = self._inode = None

    def _take(self, path: str) -> bool:
        """Go on with the file at `path` (from its start), unless it is the one read already."""
        try:
            file = open(path, "rb")  # noqa: SIM115 (kept open to follow the file)
        except FileNotFoundError:
            return False
        inode = os.fstat(file.fileno()).st_ino
        if inode == self._inode:
            file.close()
            return False
        self.close()
        self._file, self._inode = file, inode
        return True

    def _read_on(self) -> list[str]:
        file = self._file
        if file is None:
            return []
        if os.fstat(file.fileno()).st_size < file.tell():  # truncated: start again
            file.seek(0)
            self._pending = b""
        data = self._pending + file.read()
        end = data.rfind(b"\n") + 1
        self._pending = data[end:]
        return data[: end - 1].decode("utf-8", "replace").split("\n") if end else []

    def _rest(self) -> list[str]:
        pending, self._pending = self._pending, b""
        return [pending.decode("utf-8", "replace")] if pending else []

    def _whole(self, path: str) -> list[str]:
        try:
            with open(path, "rb") as file:
                data = file.read()
        except FileNotFoundError:
            return []
        # Split on "\n" only: a service's line may hold "\r" or other line breaks of its own.
        return data.removesuffix(b"\n").decode("utf-8", "replace").split("\n") if data else []

    def _parse(self, raw: list[str]) -> list[LogLine]:
        out = []
        for text in raw:
            stamp, _, rest = text.partition(" ")
            if stamp != self._stamp:  # lines of one write share their stamp: parse it once
                at = parse_stamp(stamp)
                if at is None:  # not a stamp: the whole line is text, at the time before it
                    out.append(LogLine(self._at, self.service, "", text))
                    continue
                self._stamp, self._at = stamp, at
            out.append(LogLine(self._at, self.service, stamp, rest))
        return out


def _inode(path: str) -> int | None:
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return None


class Follower:
    """Several services' logs followed together: each poll gives their new lines, merged; with
    `discover`, a service whose file appears meanwhile joins (all its lines are new)."""

    def __init__(self, directory: str, logs: dict[str, ServiceLog], *, discover: bool) -> None:
        self.directory = directory
        self.logs = logs
        self.discover = discover

    def poll(self) -> list[LogLine]:
        if self.discover:
            for name in services_logged(self.directory):
                if name not in self.logs:
                    self.logs[name] = ServiceLog(self.directory, name)
        return list(merge([log.more() for log in self.logs.values()]))

    def rest(self) -> list[LogLine]:
        """The last lines without a newline, once the writer has gone."""
        return list(merge([log.rest() for log in self.logs.values()]))

    def close(self) -> None:
        for log in self.logs.values():
            log.close()
