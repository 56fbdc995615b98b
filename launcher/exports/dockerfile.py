"""The project's image, for the container exports: a `Dockerfile` (and the
`Dockerfile.dockerignore` BuildKit reads beside it) that holds the project at the target's root
with its dependencies installed, for the services that run from `[launcher] image`.

What it installs is what the project declares: itself when it is installable (`pyproject.toml`
or `setup.py` at its root, so its dependencies come with it), each `requirements.txt` at its
root or in a service's working directory, and launcher where tasks need it (they run
`python -m launcher.child.task_runner`). The interpreter is the target's: `ROOT/.venv/bin/python`
(the default) is a virtualenv the image makes; any other is used as the base image has it.

`find_sources` reads the project's directory; `render` is pure.
"""

from __future__ import annotations

import posixpath
import re
import shlex
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from launcher.exports.deployment import Deployment, ExportFile
from launcher.exports.interpreter import VENV_PYTHON

DOCKERFILE = "Dockerfile"
DEFAULT_PYTHON = "3.12"
# What the build context never needs: environments, caches, state, and secrets.
IGNORED = (
    ".git",
    ".venv",
    "**/__pycache__",
    "**/*.pyc",
    ".launcher",
    ".tox",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".env",
    "**/secrets.env",
    "launcher.local.toml",
)
_VERSION = re.compile(r">=\s*(\d+\.\d+)")


@dataclass(frozen=True)
class Sources:
    """What the project holds that its image installs (paths relative to its directory)."""

    requirements: tuple[str, ...] = ()
    installable: bool = False
    # The project is launcher itself: installing it installs launcher.
    is_launcher: bool = False
    python_version: str = DEFAULT_PYTHON


def find_sources(root: Path, cwds: Iterable[Path]) -> Sources:
    """The project's install files: its pyproject.toml (or setup.py), the requirements.txt at
    its root and in each of `cwds` (its services' working directories)."""
    requirements = []
    for directory in (root, *cwds):
        candidate = directory / "requirements.txt"
        relative = candidate.relative_to(root).as_posix()
        if candidate.is_file() and relative not in requirements:
            requirements.append(relative)
    name, version = None, DEFAULT_PYTHON
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        project = tomllib.loads(pyproject.read_text()).get("project", {})
        name = project.get("name")
        found = _VERSION.search(str(project.get("requires-python", "")))
        version = found.group(1) if found else DEFAULT_PYTHON
    return Sources(
        requirements=tuple(requirements),
        installable=pyproject.is_file() or (root / "setup.py").is_file(),
        is_launcher=name == "launcher",
        python_version=version,
    )


def uses_project_image(deployment: Deployment) -> bool:
    image = deployment.target.image
    return image is not None and any(u.spec.image == image for u in deployment.units)


def render(deployment: Deployment, sources: Sources, *, version: str) -> list[ExportFile]:
    """The Dockerfile of the project's image and its ignore file."""
    target = deployment.target
    root, python = target.root, target.python
    venv = python == posixpath.join(root, VENV_PYTHON)
    header = deployment.header(
        extra=(
            f"The image of the services that run from {target.image}: the project at {root} with "
            "what it declares installed. Build it from the project's directory (DIR: this file's):",
            f"  docker build -t {target.image} -f DIR/{DOCKERFILE} .",
            "Add what else the project needs (system packages, build steps) below.",
        )
    )
    lines = [f"FROM python:{sources.python_version}-slim", f"WORKDIR {root}", f"COPY . {root}"]
    steps = [f"python -m venv {shlex.quote(posixpath.dirname(posixpath.dirname(python)))}"] if venv else []
    pip = f"{shlex.quote(python)} -m pip install --no-cache-dir"
    steps += [f"{pip} -r {shlex.quote(r)}" for r in sources.requirements]
    if sources.installable:
        steps.append(f"{pip} {shlex.quote(root)}")
    tasks = any(u.spec.kind == "task" for u in deployment.units if u.spec.image == target.image)
    if tasks and not sources.is_launcher:
        steps.append(f"{pip} {shlex.quote(f'launcher=={version}')}")
    if steps:
        lines.append("RUN " + " \\\n    && ".join(steps))
    if venv:
        lines.append(f"ENV PATH={posixpath.dirname(python)}:$PATH")
    ignore = deployment.header(extra=(f"What `docker build -f DIR/{DOCKERFILE}` leaves out of the image.",))
    return [
        ExportFile(DOCKERFILE, header + "\n".join(lines) + "\n"),
        ExportFile(f"{DOCKERFILE}.dockerignore", ignore + "\n".join(IGNORED) + "\n"),
    ]
