"""Probes as small check commands, for the engines that run checks themselves.

A compose `healthcheck`, a systemd `ExecStartPost`, a supervisord or runit run script waiting
for its dependencies, and a Kubernetes init container all need a probe as a command that exits
0 when the service is ready: each kind's command is in the table of launcher/core/probekinds.py.
Here: that command for a probe spec, the probe aimed from another machine, and a script that
waits with it.

Pure: probe specs in, argv and shell text out.
"""

from __future__ import annotations

import math
import shlex
from dataclasses import replace
from urllib.parse import urlsplit, urlunsplit

from launcher.core.probekinds import PROBE_KINDS
from launcher.plan.spec import ProbeSpec

LOOPBACK = ("127.0.0.1", "localhost")


def check_argv(probe: ProbeSpec, *, python: str = "python") -> tuple[str, ...] | None:
    """The probe as one command that exits 0 when ready; None for a `log` probe."""
    return PROBE_KINDS[probe.kind].command(probe, python)


def rehost(probe: ProbeSpec, host: str) -> ProbeSpec:
    """The same probe aimed from another machine or container: loopback becomes `host`.
    (`cmd` probes run where they are given, and stay as they are.)"""
    if not PROBE_KINDS[probe.kind].remote:
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
