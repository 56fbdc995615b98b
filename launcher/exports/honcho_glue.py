"""What the system exports (systemd, supervisord, runit) share: honcho's exporters, run on our
templates and units.

honcho does the layout and the naming of each engine's files; our templates (templates/ENGINE/)
add what it lacks. An exporter takes honcho's process parameters (`params`) and a context whose
values the templates write as they are, durations included (`seconds`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from launcher.exports.deployment import ExportFile, Unit

TEMPLATES = Path(__file__).parent / "templates"


def honcho_files(exporter: Any, units: Iterable[Unit], context: Mapping[str, Any]) -> list[ExportFile]:
    """What a honcho exporter renders for `units`, as export files (ending with a newline:
    jinja drops a template's last one)."""
    files = exporter.render([params(u) for u in units], dict(context))
    return [
        ExportFile(f.name, f.content if f.content.endswith("\n") else f.content + "\n", f.executable)
        for f in files
    ]


def params(unit: Unit) -> Any:
    """The unit as honcho's exporters take a process (the command is ours, already quoted)."""
    import shlex

    from honcho.environ import ProcessParams

    return ProcessParams(unit.name, shlex.join(unit.argv), False, dict(unit.env))


def seconds(value: float) -> str:
    """A duration as systemd, supervisord and sh all read it: `1.5`, `10`."""
    return f"{value:.3f}".rstrip("0").rstrip(".")
