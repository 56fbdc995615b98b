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
- the process runs in a process group of its own (`chpst -P`), as the user of `--user`
  (`chpst -u`; the oneshots run in front of it too), and `control/t` sends the stop signal to
  that whole group, as launcher stops a service (runsv would signal the process alone). runit
  has no stop timeout of its own: `sv -w SECONDS force-stop DIR` is the command that waits
  that long, then kills.
- `finish` applies the restart policy to the exits nobody asked for: runsv restarts whatever
  exits, so `finish` takes the service down (`sv down .`) when it should stay down. An exit
  that `sv down` or `sv restart` asked for is runsv's to handle (down, or up again):
  `control/t` leaves `supervise/stopping` for `finish` to see.
- `check`, for a process with a probe that has a command form, which `sv check` runs.
- a command or a check that refers to secrets (`${NAME}`) runs through `sh -c`, after chpst
  read them from the envdir.

These extra files are rendered from our templates with the exporter's own jinja environment
(honcho's `render` yields only run, log/run and env/): honcho has no hook for more files.

`env/KEY` files hold a value and nothing else (chpst reads their first line), so they carry no
header; the `run` beside them does. Secrets: the operator writes each one as `env/KEY`
(mode 0600) in the service directory; their names are in the header of `run`.
"""

from __future__ import annotations

import os
import shlex
from typing import Any

from launcher.exports.deployment import Deployment, ExportFile, Unit
from launcher.exports.honcho_glue import TEMPLATES, honcho_files, seconds
from launcher.exports.prelude import Step, inline_oneshots, oneshot_text, prelude, ready_check, wait_text
from launcher.exports.secretrefs import expanded, references, shell_line


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
    mine = [u for u in deployment.units if inlined.get(u.name, u.name) == unit.name]
    late = sorted(d.name for u in mine for d in u.depends_on if inlined.get(d.name, unit.name) != unit.name)
    if late:
        extra += (f"Not awaited: {', '.join(late)}, a oneshot run by another service's run script.",)
    # The oneshots run here read their secrets from this envdir too.
    secrets = sorted({name for u in mine for name in u.secrets})
    if secrets:
        extra += (f"Secrets ({', '.join(secrets)}): write each as env/KEY here, mode 0600.",)
    check = ready_check(deployment, unit)
    return {
        "header": deployment.header(extra=extra),
        "steps": [_step(deployment, app, unit, s) for s in prelude(deployment, unit, inlined)],
        "cwd": unit.cwd,
        "command": _command(unit),
        "check": shlex.join(check) if check else None,
        "restart": "no" if spec.oneshot else spec.restart,
        "success": "|".join(str(c) for c in spec.success_codes),
        "signal": spec.stop_signal.removeprefix("SIG"),
        "as_user": _as_user(deployment),
    }


def _command(unit: Unit) -> str:
    """The argv as the run script's last words: through `sh -c` when it refers to secrets,
    which chpst put in the environment from the envdir."""
    names = expanded(unit.argv, unit.secrets)
    if not names:
        return shlex.join(unit.argv)
    return shlex.join(("/bin/sh", "-c", "exec " + shell_line(unit.argv, names)))


def _as_user(deployment: Deployment) -> str:
    """chpst's option for --user (it reads the envdir before it changes user, so secrets may
    stay readable by root only)."""
    user = deployment.target.user
    return f"-u {shlex.quote(user)} " if user else ""


def _step(deployment: Deployment, app: str, unit: Unit, step: Step) -> str:
    from honcho.export.base import dashrepl

    where = f"../{app}-{dashrepl(step.unit.name)}"
    if step.kind == "ready":
        # A check that refers to secrets reads them from the dependency's envdir.
        argv = ready_check(deployment, step.unit) or ()
        envdir = ("chpst", "-e", f"{where}/env") if references(argv) else ()
        return wait_text(deployment, step.unit, envdir)
    if step.kind == "oneshot":
        runner = f'chpst {_as_user(deployment)}-e "$ENVDIR"'
        return oneshot_text(step.unit, unit, runner=runner, command=_command(step.unit))
    timeout = seconds(step.unit.spec.start_timeout)
    return f"sv -w {timeout} start {shlex.quote(where)} >/dev/null || exit 1"


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
