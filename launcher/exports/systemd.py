"""`launcher export systemd`: one `.service` per process, with honcho's targets around them.

honcho's systemd exporter does the layout and naming: `STACK.target` wants one target per
service (`STACK-SERVICE.target`, grouping its replicas), which wants `STACK-NAME.service`
(the name dashrepl'd, so `web.1` is `STACK-web-1.service`). Its templates are replaced by
ours (templates/systemd/) for what honcho lacks: the dependency order (`After=` on every
dependency, `Requires=` for `ready`/`completed`, `Wants=` for `started`), readiness (a probe
becomes an `ExecStartPost=` that waits until it passes, so the unit is active only once ready
and `After=` on it means ready), oneshots (`Type=oneshot` + `RemainAfterExit=yes`, active once
they completed), the restart policy and its limits, the stop signal and timeout, the whole
control group stopped as launcher stops a process group, and the argv quoted for systemd
itself rather than run through `sh -lc`.

Secrets: units that need some read `/etc/STACK/secrets.env` (`KEY=value` lines, mode 0600),
which the operator writes; its absence is no error (`EnvironmentFile=-`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from launcher.exports.deployment import Deployment, ExportFile, Unit
from launcher.exports.honcho_glue import TEMPLATES, honcho_files, seconds
from launcher.exports.probecommands import check_argv, wait_script
from launcher.exports.secretrefs import REFERENCE, expanded

# Words systemd takes as they are: anything else is double-quoted, with C escapes.
_PLAIN = re.compile(r"[\w@+=:,./-]+")
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}
_RESTART = {"no": "no", "on-failure": "on-failure", "always": "always"}


def render(deployment: Deployment) -> list[ExportFile]:
    from honcho.export.base import dashrepl
    from honcho.export.systemd import Export

    app = dashrepl(deployment.stack)
    context = {
        "app": app,
        "header": deployment.header(),
        "description": f"{deployment.stack} (launcher profile {deployment.profile})".replace("%", "%%"),
        "units": {u.name: _service(deployment, u, app) for u in deployment.units},
    }
    return honcho_files(Export(template_dir=str(TEMPLATES / "systemd")), deployment.units, context)


def unit_name(app: str, name: str) -> str:
    from honcho.export.base import dashrepl

    return f"{app}-{dashrepl(name)}.service"


def exec_line(argv: Iterable[str], secrets: Iterable[str] = ()) -> str:
    """An argv as an `ExecStart=` value: each word quoted for systemd, `%` and `$` doubled
    (systemd expands specifiers and variables there), except in `${NAME}` of `secrets`, which
    systemd expands from the unit's environment (its EnvironmentFile) as one word."""
    names = set(secrets)
    return " ".join(_word(_escaped(word, names)) for word in argv)


def _escaped(word: str, names: set[str]) -> str:
    parts, last = [], 0
    for match in REFERENCE.finditer(word):
        if match.group(1) in names:
            parts += [_literal(word[last : match.start()]), match.group(0)]
            last = match.end()
    return "".join([*parts, _literal(word[last:])])


def _literal(text: str) -> str:
    return text.replace("%", "%%").replace("$", "$$")


def environment_line(key: str, value: str) -> str:
    """`Environment="KEY=value"`: systemd does not expand `$` there, but it does `%`."""
    return f"Environment={_quote(f'{key}={value}'.replace('%', '%%'))}"


def secrets_path(app: str) -> str:
    return f"/etc/{app}/secrets.env"


def _word(word: str) -> str:
    return word if _PLAIN.fullmatch(word) else _quote(word)


def _quote(text: str) -> str:
    return '"' + "".join(_ESCAPES.get(c, c) for c in text) + '"'


def _service(deployment: Deployment, unit: Unit, app: str) -> dict[str, Any]:
    spec = unit.spec
    secrets = unit.secrets
    extra = (
        (f"Secrets ({', '.join(secrets)}) come from {secrets_path(app)}, KEY=value lines.",)
        if secrets
        else ()
    )
    return {
        "header": deployment.header(extra=extra),
        "description": (spec.description or f"{deployment.stack}: {unit.name}").replace("%", "%%"),
        "unit_lines": _unit_lines(unit, app),
        "user": deployment.target.user,
        "cwd": unit.cwd.replace("%", "%%"),
        "environment": [environment_line(k, v) for k, v in unit.env.items()],
        "secrets_file": secrets_path(app) if secrets else None,
        "type": "oneshot" if spec.oneshot else "simple",
        "service_lines": _service_lines(unit),
        "exec_start": exec_line(unit.argv, expanded(unit.argv, unit.secrets)),
        "exec_start_post": _ready_wait(deployment, unit),
        "timeout_start": seconds(spec.start_timeout),
        "kill_signal": spec.stop_signal,
        "timeout_stop": seconds(spec.stop_timeout),
    }


def _unit_lines(unit: Unit, app: str) -> list[str]:
    lines = [f"After={unit_name(app, d.name)}" for d in unit.depends_on]
    for dep in unit.depends_on:
        # `started` only orders; `ready`/`completed` also fail the dependent with its dependency.
        key = "Wants" if dep.condition == "started" else "Requires"
        lines.append(f"{key}={unit_name(app, dep.name)}")
    if unit.spec.restart != "no":
        lines.append(f"StartLimitIntervalSec={seconds(unit.spec.restart_window)}")
        lines.append(f"StartLimitBurst={unit.spec.max_restarts}")
    return lines


def _service_lines(unit: Unit) -> list[str]:
    spec = unit.spec
    lines = []
    restart = _RESTART[spec.restart]
    if spec.oneshot:
        lines.append("RemainAfterExit=yes")
        # systemd refuses Restart=always for a oneshot: it would never complete.
        restart = "no" if restart == "no" else "on-failure"
    codes = [str(c) for c in spec.success_codes if c != 0]
    if codes:
        lines.append(f"SuccessExitStatus={' '.join(codes)}")
    lines.append(f"Restart={restart}")
    if restart != "no":
        lines.append(f"RestartSec={seconds(spec.backoff.initial)}")
    return lines


def _ready_wait(deployment: Deployment, unit: Unit) -> str | None:
    """`/bin/sh -c 'wait until the probe passes'`, for a probe that has a command form."""
    probe = unit.probe
    if probe is None or unit.spec.oneshot:
        return None
    check = check_argv(probe, python=deployment.target.python)
    if check is None:
        return None
    return exec_line(("/bin/sh", "-c", wait_script(check, unit.name, unit.spec.start_timeout)))
