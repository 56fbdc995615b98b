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
from launcher.exports.secretrefs import REFERENCE, expanded, references, shell_line, shell_word
from launcher.plan.spec import ProbeSpec

LOOPBACK = ("127.0.0.1", "localhost")


def check_argv(probe: ProbeSpec, *, python: str = "python") -> tuple[str, ...] | None:
    """The probe as one command that exits 0 when ready; None for a `log` probe.

    A probe that refers to secrets (`${NAME}`, launcher/exports/secretrefs.py) runs through
    `sh -c`, which reads them from the environment of wherever the check runs: redis-cli gets
    its password as `REDISCLI_AUTH`, never on its command line."""
    if probe.kind == "redis" and references((probe.target,)):
        return _redis_with_password(probe)
    argv = PROBE_KINDS[probe.kind].command(probe, python)
    if argv is None:
        return None
    names = expanded(argv, references(argv))
    return ("sh", "-c", shell_line(argv, names)) if names else argv


def _redis_with_password(probe: ProbeSpec) -> tuple[str, ...]:
    # Only PONG is ready (an error answer such as LOADING or NOAUTH exits 0 too).
    if REFERENCE.fullmatch(probe.target):  # the whole URL is a secret: it holds the password
        return ("sh", "-c", f'redis-cli --no-auth-warning -u "{probe.target}" ping | grep -q PONG')
    url = probe.target if "://" in probe.target else f"redis://{probe.target}"
    parts = urlsplit(url)
    password = parts.password or ""
    public = urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{password}@", "@", 1)))
    public = public.replace("//@", "//", 1)
    auth = f"REDISCLI_AUTH={shell_word(password, references((password,)))} " if password else ""
    words = shell_word(public, references((public,)))
    return ("sh", "-c", f"{auth}redis-cli -u {words} ping | grep -q PONG")


def without_password(target: str) -> str:
    """A URL without its password (pg_isready checks that the server accepts connections,
    which needs none); anything else as it is."""
    if "://" not in target:
        return target
    parts = urlsplit(target)
    if parts.password is None:
        return target
    netloc = parts.netloc.replace(f":{parts.password}@", "@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


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
