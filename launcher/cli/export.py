"""`launcher export FORMAT [PROFILE] [-o DIR]`: the stack for systemd, supervisord, runit,
docker compose or Kubernetes, rendered from the compiled plan."""

from __future__ import annotations

import argparse
import importlib
import os

from launcher.cli.options import add_profile
from launcher.exports import CONTAINERS, FORMATS

TYPE_CHECKING = False  # not typing's (see launcher/__init__.py)
if TYPE_CHECKING:
    from pathlib import Path

    from launcher.exports.deployment import Deployment, ExportFile
    from launcher.plan.spec import Plan


EXAMPLES = """\
examples:
  launcher export systemd           deploy/systemd/, units of the default profile
  launcher export compose full -o deploy/compose
  launcher export kubernetes --root /app --python /usr/local/bin/python
  launcher export systemd full --user app    the project's directory and .venv here, run as `app`
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("format", choices=FORMATS, metavar="FORMAT", help=", ".join(FORMATS))
    add_profile(parser)
    parser.add_argument(
        "-o", "--output", metavar="DIR", default=None, help="directory (default: deploy/FORMAT)"
    )
    parser.add_argument(
        "--root",
        metavar="DIR",
        default=None,
        help="where the project is where it runs (default: its directory here; /app in an image)",
    )
    parser.add_argument(
        "--python",
        metavar="PATH",
        default=None,
        help="its interpreter there, relative to --root unless absolute "
        "(default: [launcher] python, else the project's .venv/bin/python)",
    )
    parser.add_argument(
        "--user", metavar="NAME", default=None, help="the user it runs as (systemd, supervisord, runit)"
    )


def main(args: argparse.Namespace) -> int:
    from dataclasses import replace
    from pathlib import Path

    from launcher.cli.project import load_args
    from launcher.core.errors import ConfigError
    from launcher.exports import interpreter
    from launcher.exports.deployment import (
        CONTAINER_BIND,
        CONTAINER_ROOT,
        Target,
        deployment,
        image_problems,
        secret_environ,
    )
    from launcher.plan import shared_mode as hosting
    from launcher.plan.compiler import LOCALHOST, build_plan
    from launcher.version import __version__

    loaded = load_args(args, args.profile)
    settings = loaded.config.launcher
    container = args.format in CONTAINERS
    root = args.root or (CONTAINER_ROOT if container else str(loaded.root.resolve()))
    # For this machine (no --root), the interpreter `run` would use here; else one under root.
    here = loaded.root if not container and args.root is None else None
    python = interpreter.resolve(args.python, settings.python, root, here, os.environ)
    # As `compile`: no machine environment, so that the output is the same on every machine.
    # Always the multi-process plan: an engine runs processes, not launcher's shared host.
    # In a container, apps listen on every interface, for the other containers to reach them.
    bind = CONTAINER_BIND if container else LOCALHOST
    environ = secret_environ(loaded.config)
    plan = build_plan(loaded, environ=environ, python=python, mode="multi", bind=bind)
    if container:
        problems = image_problems(plan, loaded.layered.origin)
        if problems:
            raise ConfigError(problems)
    module = importlib.import_module(f"launcher.exports.{args.format}")
    shared = settings.mode != "multi" and any(
        hosting.hostable(loaded.config.services[s.service]) for s in plan.specs
    )
    view = deployment(
        plan,
        args.format,
        version=__version__,
        target=Target(root=root, python=python, user=args.user, image=settings.image if container else None),
        hosts=module.host_name if container else None,
        shared_note=shared,
    )
    where = "" if args.root else " (in its image)" if container else " (its directory on this machine)"
    place = f"The project runs from {root}{where} with {python}; --root and --python set another."
    view = replace(view, notes=(*view.notes, place))
    files: list[ExportFile] = module.render(view)
    directory = Path(args.output) if args.output else loaded.root / "deploy" / args.format
    if container:
        files += _image_files(view, loaded.root, plan, __version__)
    for file in files:
        path = directory / file.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(file.content)
        os.chmod(path, 0o755 if file.executable else 0o644)
    print(f"wrote {len(files)} file(s) to {directory}")
    return 0


def _image_files(view: Deployment, root: Path, plan: Plan, version: str) -> list[ExportFile]:
    """The Dockerfile of the project's image, when services run from it."""
    from launcher.exports import dockerfile

    if not dockerfile.uses_project_image(view):
        return []
    cwds = [s.cwd for s in plan.specs if s.kind != "external" and s.image == view.target.image]
    return dockerfile.render(view, dockerfile.find_sources(root, cwds), version=version)
