"""`launcher export runit`: a service directory per process, `STACK-NAME/`.

honcho's runit exporter does the layout: `run`, `log/run` (svlogd into /var/log/STACK/NAME)
and an envdir `env/KEY` per variable, read by `chpst -e`. Our templates (templates/runit/)
add what honcho lacks:

- `run` waits for the dependencies before it starts the process: a `ready` dependency with a
  probe by retrying the probe as a command until its start_timeout, any other by
  `sv -w TIMEOUT start ../STACK-DEP` (runit's own idiom); it fails otherwise, and runsv tries
  again a second later. Oneshots run before their first dependent, in its `run`, as
  `launcher compile` does (runit has no notion of a service that completes); a oneshot
  nothing depends on gets a directory of its own, which `finish` takes down after its run.
- the process runs in a process group of its own (`chpst -P`), and `control/t` sends the
  stop signal to that whole group, as launcher stops a service (runsv would signal the
  process alone). runit has no stop timeout of its own: `sv -w SECONDS force-stop DIR` is the
  command that waits that long, then kills.
- `finish` applies the restart policy: runsv restarts whatever exits, so `finish` takes the
  service down (`sv down .`) when it should stay down.
- `check`, for a process with a probe that has a command form, which `sv check` runs.

These extra files are rendered from our templates with the exporter's own jinja environment
(honcho's `render` yields only run, log/run and env/): honcho has no hook for more files.

`env/KEY` files hold a value and nothing else (chpst reads their first line), so they carry no
header; the `run` beside them does. Secrets: the operator writes each one as `env/KEY`
(mode 0600) in the service directory; their names are in the header of `run`.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterator, Mapping
from typing import Any

from launcher.exports.deployment import Deployment, ExportFile, Unit
from launcher.exports.honcho_glue import TEMPLATES, honcho_files, seconds
from launcher.exports.prelude import Step, prelude, wait_text
from launcher.exports.probecommands import check_argv


def render(deployment: Deployment) -> list[ExportFile]:
    from honcho.export.base import dashrepl
    from honcho.export.runit import Export

    app = dashrepl(deployment.stack)
    inlined = inline_oneshots(deployment)
    units = [u for u in deployment.units if u.name not in inlined]
    context = {
        "app": app,
        "header": deployment.header(),
        "user": deployment.target.user,
        "log": f"/var/log/{app}",
        "units": {u.name: _service(deployment, u, app, inlined) for u in units},
    }
    exporter = Export(template_dir=str(TEMPLATES / "runit"))
    files = honcho_files(exporter, units, context)
    for unit in units:
        files.extend(_extras(exporter, app, unit, context))
    return sorted(files, key=lambda f: f.path)


def _service(deployment: Deployment, unit: Unit, app: str, inlined: dict[str, str]) -> dict[str, Any]:
    spec = unit.spec
    stop = seconds(spec.stop_timeout)
    extra: tuple[str, ...] = (
        f"Stop it with `sv -w {stop} force-stop DIR`: the stop signal, then SIGKILL after {stop} s.",
    )
    late = sorted(
        d.name
        for u in deployment.units
        if inlined.get(u.name, u.name) == unit.name
        for d in u.depends_on
        if inlined.get(d.name, unit.name) != unit.name
    )
    if late:
        extra += (f"Not awaited: {', '.join(late)}, a oneshot run by another service's run script.",)
    if unit.secrets:
        extra += (f"Secrets ({', '.join(unit.secrets)}): write each as env/KEY here, mode 0600.",)
    check = _check(deployment, unit)
    return {
        "header": deployment.header(extra=extra),
        "steps": [_step(deployment, app, unit, s) for s in prelude(deployment, unit, inlined)],
        "cwd": unit.cwd,
        "check": shlex.join(check) if check else None,
        "restart": "no" if spec.oneshot else spec.restart,
        "success": "|".join(str(c) for c in spec.success_codes),
        "signal": spec.stop_signal.removeprefix("SIG"),
    }


def _step(deployment: Deployment, app: str, unit: Unit, step: Step) -> str:
    from honcho.export.base import dashrepl

    if step.kind == "ready":
        return wait_text(deployment, step.unit)
    if step.kind == "oneshot":
        return oneshot_text(step.unit, unit, runner='chpst -e "$ENVDIR"')
    timeout = seconds(step.unit.spec.start_timeout)
    where = shlex.quote(f"../{app}-{dashrepl(step.unit.name)}")
    return f"sv -w {timeout} start {where} >/dev/null || exit 1"


def _extras(exporter: Any, app: str, unit: Unit, context: dict[str, Any]) -> list[ExportFile]:
    from honcho.export.base import dashrepl

    u = context["units"][unit.name]
    names = ["control/t"]
    if u["check"]:
        names.append("check")
    if u["restart"] != "always":
        names.append("finish")
    directory = f"{app}-{dashrepl(unit.name)}"
    return [
        ExportFile(
            os.path.join(directory, name),
            exporter.get_template(name).render({**context, "u": u}).rstrip("\n") + "\n",
            executable=True,
        )
        for name in names
    ]


def inline_oneshots(deployment: Deployment) -> dict[str, str]:
    """Each oneshot that runs before a dependent: oneshot name -> that dependent's name (the
    first one that needs it, directly or through another oneshot, in dependency order)."""
    claimed: dict[str, str] = {}
    for unit in deployment.units:
        if not unit.spec.oneshot:
            for oneshot in _oneshots_before(deployment, unit, claimed):
                claimed[oneshot.name] = unit.name
    return claimed


def _oneshots_before(deployment: Deployment, unit: Unit, claimed: Mapping[str, str]) -> Iterator[Unit]:
    for dep in unit.depends_on:
        other = deployment.unit(dep.name)
        if other.spec.oneshot and other.name not in claimed:
            yield from _oneshots_before(deployment, other, claimed)
            yield other


def oneshot_text(oneshot: Unit, host: Unit, runner: str = "") -> str:
    """sh that runs `oneshot` in its own directory and environment from `host`'s process
    (whose environment is `host.env`, once `runner` is in front), exiting with its code if it
    fails."""
    unset = [f"-u {shlex.quote(k)}" for k in host.env if k not in oneshot.env]
    assign = [shlex.quote(f"{k}={v}") for k, v in oneshot.env.items() if host.env.get(k) != v]
    words = [runner] if runner else []
    words += ["env", *unset, *assign] if unset or assign else []
    return f"(cd {shlex.quote(oneshot.cwd)} && {' '.join([*words, shlex.join(oneshot.argv)])}) || exit $?"


def _check(deployment: Deployment, unit: Unit) -> tuple[str, ...] | None:
    probe = unit.probe
    return None if probe is None or unit.spec.oneshot else check_argv(probe, python=deployment.target.python)
