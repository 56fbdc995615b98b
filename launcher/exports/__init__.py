"""`launcher export FORMAT`: the compiled plan for the engines a team already runs.

One module per engine, each with `render(deployment) -> list[ExportFile]` (see deployment.py
for what they all share); container engines also say how one service reaches another
(`host_name(spec)`). Imported by name, so that the command line pays only for the one asked.
An engine's module imports none of the others': what two of them share has a module of its
own (honcho_glue.py and prelude.py for the system engines, containers.py for the container
ones, probecommands.py, secretrefs.py and interpreter.py for all). `launcher compile`'s
Procfile (procfile.py) is rendered from the same deployment view, for honcho.
"""

from __future__ import annotations

from typing import Literal

# `procfile` is `launcher compile`'s (procfile.py), the others `launcher export FORMAT`'s.
Format = Literal["systemd", "supervisord", "runit", "compose", "kubernetes", "procfile"]
FORMATS: tuple[Format, ...] = ("systemd", "supervisord", "runit", "compose", "kubernetes")
CONTAINERS: tuple[Format, ...] = ("compose", "kubernetes")
