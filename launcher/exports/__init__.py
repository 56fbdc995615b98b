"""`launcher export FORMAT`: the compiled plan for the engines a team already runs.

One module per engine, each with `render(deployment) -> list[ExportFile]` (see deployment.py
for what they all share); container engines also say how one service reaches another
(`host_name(spec)`). Imported by name, so that the command line pays only for the one asked.
"""

from __future__ import annotations

import importlib
from typing import Literal

Format = Literal["systemd", "supervisord", "runit", "compose", "kubernetes"]
FORMATS: tuple[Format, ...] = ("systemd", "supervisord", "runit", "compose", "kubernetes")
CONTAINERS: tuple[Format, ...] = ("compose", "kubernetes")

TYPE_CHECKING = False  # not typing's (see launcher/__init__.py)
if TYPE_CHECKING:
    from launcher.exports.deployment import Deployment, ExportFile


def render(deployment: Deployment) -> list[ExportFile]:
    files: list[ExportFile] = importlib.import_module(f"launcher.exports.{deployment.format}").render(
        deployment
    )
    return files
