"""Probes as small check commands, for the engines that run checks themselves.

A compose `healthcheck`, a systemd `ExecStartPost`, a supervisord or runit run script waiting
for its dependencies, and a Kubernetes init container all need a probe as a command that exits
0 when the service is ready. `http` and `tcp` become a line of Python (the stack is a Python
stack: its images have an interpreter, not necessarily curl), the protocol probes the usual
client tools (`redis-cli ping`, `pg_isready`), `cmd` stays itself. A `log` probe has no command
form: it needs the service's output, which only the launcher sees.

Pure: probe specs in, argv and shell text out.
"""

from __future__ import annotations

import math
import shlex
from dataclasses import replace
from urllib.parse import urlsplit, urlunsplit

from launcher.plan.spec import ProbeSpec

# http.client does not raise on an error status, so `expect` is compared as the launcher does
# (0: any answer at all). Only double quotes inside: the check goes into single-quoted shell
# words, where a single quote would have to be spelled '"'"'.
HTTP_CHECK = (
    "import http.client as h,sys,urllib.parse as p;u=p.urlsplit(sys.argv[1]);"
    'c=(h.HTTPSConnection if u.scheme=="https" else h.HTTPConnection)'
    "(u.hostname,u.port,timeout=float(sys.argv[2]));"
    'c.request("GET",(u.path or "/")+("?"+u.query if u.query else ""));'
    "s=c.getresponse().status;e=int(sys.argv[3]);sys.exit(0 if e in (0,s) else 1)"
)
TCP_CHECK = (
    "import socket,sys;socket.create_connection((sys.argv[1],int(sys.argv[2])),float(sys.argv[3])).close()"
)
LOOPBACK = ("127.0.0.1", "localhost")


def check_argv(probe: ProbeSpec, *, python: str = "python") -> tuple[str, ...] | None:
    """The probe as one command that exits 0 when ready; None for a `log` probe."""
    timeout = _seconds(probe.timeout)
    if probe.kind == "http":
        return (python, "-c", HTTP_CHECK, probe.target, timeout, str(probe.expect))
    if probe.kind == "tcp":
        host, _, port = probe.target.rpartition(":")
        return (python, "-c", TCP_CHECK, host or "127.0.0.1", port, timeout)
    if probe.kind == "cmd":
        return probe.argv
    if probe.kind == "redis":
        url = probe.target if "://" in probe.target else f"redis://{probe.target}"
        # redis-cli exits 0 on an error answer too (LOADING): only PONG is ready.
        return ("sh", "-c", f"redis-cli -u {shlex.quote(url)} ping | grep -q PONG")
    if probe.kind == "postgres":
        return ("pg_isready", "-q", "-d", probe.target, "-t", str(max(1, math.ceil(probe.timeout))))
    return None


def rehost(probe: ProbeSpec, host: str) -> ProbeSpec:
    """The same probe aimed from another machine or container: loopback becomes `host`.
    (`cmd` probes run where they are given, and stay as they are.)"""
    if probe.kind in ("cmd", "log"):
        return probe
    if "://" in probe.target:
        url = urlsplit(probe.target)
        if url.hostname in LOOPBACK:
            netloc = url.netloc.replace(url.hostname, host, 1) if url.hostname else url.netloc
            return replace(probe, target=urlunsplit(url._replace(netloc=netloc)))
        return probe
    name, sep, port = probe.target.rpartition(":")
    if sep and name in LOOPBACK:
        return replace(probe, target=f"{host}:{port}")
    return probe


def wait_script(argv: tuple[str, ...], what: str, timeout: float, *, interval: float = 0.5) -> str:
    """POSIX sh that runs `argv` until it succeeds, giving up after `timeout` seconds."""
    check = shlex.join(argv)
    limit = max(1, math.ceil(timeout))
    give_up = shlex.quote(f"{what} is not ready after {limit} s")
    return (
        f"deadline=$(($(date +%s) + {limit})); "
        f"until {check} >/dev/null 2>&1; do "
        f'[ "$(date +%s)" -lt "$deadline" ] || {{ echo {give_up} >&2; exit 1; }}; '
        f"sleep {interval:g}; done"
    )


def _seconds(value: float) -> str:
    return f"{value:g}"
