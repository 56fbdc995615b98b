"""`launcher export supervisord`: one `[program:NAME]` per process, in honcho's `[group:STACK]`.

honcho's supervisord exporter renders the file (`STACK.conf`, to `[include]` from a
supervisord configuration) and names the programs (dashrepl'd: `web.1` is `web-1`); our
template (templates/supervisord/) adds what honcho lacks: `priority` from the dependency
order (100 + 100 per level, so supervisord starts dependencies first and stops them last),
the restart policy (`autorestart`, `exitcodes`, `startretries`), launcher's first second as
`startsecs`, the stop signal and timeout, and the whole process group stopped or killed
(`stopasgroup`, `killasgroup`), as launcher does. The argv is run as it is, never through
`sh -c` of its text, except to wait, to mark a oneshot completed, or to expand the secrets of
a command: supervisord does not wait for anything, so a program that depends on a ready
service runs `/bin/sh -c 'WAIT; exec ARGV'`, WAIT retrying the dependency's probe as a command
until its start_timeout.

Oneshots are programs of their own (`autorestart=false`, `startsecs=0`) that leave a marker
when they complete with a success code: `${TMPDIR:-/tmp}/launcher-STACK-NAME.PID`, PID being
supervisord's (the parent of every program), so that a marker of an earlier supervisord never
counts. Their dependents wait for that marker, until the oneshot's start_timeout (and its own
dependencies'). So a oneshot runs once per supervisord start, however many depend on it, and a
restart of a dependent does not run it again.

Secrets: supervisord passes its own environment on to its programs, so the secret variables
(named in the header) are set in supervisord's environment, never in this file: the
`environment=` of the `[supervisord]` section of its own configuration (mode 0600), or the
environment it is started with. A command that refers to one (`${NAME}`) runs through `sh -c`,
which expands it from there.

Logs: supervisord's AUTO log files (`supervisorctl tail STACK:NAME`), rather than honcho's
`/var/log/...` paths that would have to exist first.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import Any

from launcher.exports.deployment import Deployment, ExportFile, Unit
from launcher.exports.honcho_glue import TEMPLATES, honcho_files, seconds
from launcher.exports.prelude import Step, marker, marker_wait, prelude, wait_text
from launcher.exports.secretrefs import expanded, shell_line

_COMMENT = re.compile(r"(\s)([;#])")
_AUTORESTART = {"no": "false", "on-failure": "unexpected", "always": "true"}


def render(deployment: Deployment) -> list[ExportFile]:
    from honcho.export.base import dashrepl
    from honcho.export.supervisord import Export

    app = dashrepl(deployment.stack)
    context = {
        "app": app,
        "header": deployment.header(extra=_header_notes(deployment)),
        "user": deployment.target.user,
        "units": {u.name: _program(deployment, u, app) for u in deployment.units},
    }
    return honcho_files(Export(template_dir=str(TEMPLATES / "supervisord")), deployment.units, context)


def _program(deployment: Deployment, unit: Unit, app: str) -> dict[str, Any]:
    spec = unit.spec
    return {
        "command": _command(deployment, unit, app),
        "cwd": unit.cwd,
        "environment": _environment(unit.env),
        "priority": 100 + 100 * unit.level,
        "autorestart": "false" if spec.oneshot else _AUTORESTART[spec.restart],
        "exitcodes": ",".join(str(c) for c in spec.success_codes),
        # launcher's first second: an exit within it is a failed start, not a crash.
        "startsecs": 0 if spec.oneshot else 1,
        "startretries": spec.start_retries,
        "stopsignal": spec.stop_signal.removeprefix("SIG"),
        "stopwaitsecs": seconds(spec.stop_timeout),
    }


def _command(deployment: Deployment, unit: Unit, app: str) -> str:
    lines = [_step(deployment, s, app) for s in prelude(deployment, unit) if s.kind != "started"]
    names = expanded(unit.argv, unit.secrets)
    argv = shell_line(unit.argv, names)
    if unit.spec.oneshot:
        # Not exec'd: the marker is written once it exited with a success code.
        codes = "|".join(str(c) for c in unit.spec.success_codes)
        mark = f"case $code in {codes}) : >{marker(app, unit)};; esac"
        run = f"{argv}; code=$?; {mark}; exit $code"
    elif not lines and not names:
        return _ini_safe(argv)
    else:
        # Through sh: to wait first, or to expand the secrets of its command from the
        # environment supervisord passes on.
        run = f"exec {argv}"
    return _ini_safe(shlex.join(("/bin/sh", "-c", "; ".join([*lines, run]))))


def _step(deployment: Deployment, step: Step, app: str) -> str:
    if step.kind == "ready":
        return wait_text(deployment, step.unit)
    return marker_wait(deployment, app, step.unit)


def _ini_safe(command: str) -> str:
    """supervisord's ini parser cuts a value at a `;` or `#` after whitespace (an inline
    comment). In shlex-quoted text those can only be inside single quotes (a word never starts
    with them unquoted), so each is taken out of the quotes for itself: `' #'` -> `' '"#"''`."""
    return _COMMENT.sub(lambda m: f"{m.group(1)}'\"{m.group(2)}\"'", command)


def _environment(env: Mapping[str, str]) -> str:
    """supervisord's `KEY="value",...` (read by a non-POSIX shlex: no escapes, so a value is
    quoted with the quote it does not hold); `%` doubled, as in every supervisord value."""
    pairs = []
    for key, value in env.items():
        if not _quotable(value):
            continue  # named in the header
        quote = '"' if '"' not in value else "'"
        pairs.append(f"{key}={quote}{value.replace('%', '%%')}{quote}")
    return ",".join(pairs)


def _quotable(value: str) -> bool:
    """supervisord strips quotes off both ends of a value, cannot escape one inside it, and
    takes a `;` or `#` after whitespace for a comment."""
    ends = {value[:1], value[-1:]} - {""}
    return not ('"' in value and "'" in value) and not ends & {'"', "'"} and not _COMMENT.search(value)


def _header_notes(deployment: Deployment) -> tuple[str, ...]:
    notes = []
    oneshots = [u.name for u in deployment.units if u.spec.oneshot]
    if oneshots:
        notes.append(
            f"Oneshots ({', '.join(oneshots)}) each leave ${{TMPDIR:-/tmp}}/launcher-STACK-NAME.PID "
            "(PID: supervisord's) once completed, which their dependents wait for."
        )
    unquotable = sorted({k for u in deployment.units for k, v in u.env.items() if not _quotable(v)})
    if unquotable:
        notes.append(
            f"{', '.join(unquotable)}: left out, supervisord cannot read a value with both quotes, "
            "one that starts or ends with a quote, or a ; or # after a space; set it in supervisord's "
            "environment."
        )
    if deployment.secrets:
        notes.append(
            f"Secrets ({', '.join(deployment.secrets)}) are not written here: supervisord passes its "
            "own environment on to its programs, so set them in supervisord's environment (the "
            "environment= of the [supervisord] section of supervisord.conf, mode 0600, or the "
            "environment it starts with)."
        )
    return tuple(notes)
