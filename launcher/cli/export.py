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
    from launcher.exports.deployment import ExportFile


EXAMPLES = """\
examples:
  launcher export systemd           deploy/systemd/, units of the default profile
  launcher export compose full -o deploy/compose
  launcher export kubernetes --root /app --python /usr/local/bin/python
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
    parser.add_argument("--python", metavar="PATH", default="python", help="its interpreter there")
    parser.add_argument(
        "--user", metavar="NAME", default=None, help="the user it runs as (systemd, supervisord, runit)"
    )


def main(args: argparse.Namespace) -> int:
    from pathlib import Path

    from launcher.cli.project import load_args
    from launcher.core.errors import ConfigError
    from launcher.exports.deployment import CONTAINER_BIND, CONTAINER_ROOT, Target, deployment, image_problems
    from launcher.plan import shared_mode as hosting
    from launcher.plan.compiler import LOCALHOST, build_plan
    from launcher.version import __version__

    loaded = load_args(args, args.profile)
    container = args.format in CONTAINERS
    # As `compile`: no machine environment, so that the output is the same on every machine.
    # Always the multi-process plan: an engine runs processes, not launcher's shared host.
    # In a container, apps listen on every interface, for the other containers to reach them.
    bind = CONTAINER_BIND if container else LOCALHOST
    plan = build_plan(loaded, environ={}, python=args.python, mode="multi", bind=bind)
    if container:
        problems = image_problems(plan, loaded.layered.origin)
        if problems:
            raise ConfigError(problems)
    module = importlib.import_module(f"launcher.exports.{args.format}")
    root = args.root or (CONTAINER_ROOT if container else str(loaded.root.resolve()))
    shared = loaded.config.launcher.mode != "multi" and any(
        hosting.hostable(loaded.config.services[s.service]) for s in plan.specs
    )
    view = deployment(
        plan,
        args.format,
        version=__version__,
        target=Target(root=root, python=args.python, user=args.user),
        hosts=module.host_name if container else None,
        shared_note=shared,
    )
    files: list[ExportFile] = module.render(view)
    directory = Path(args.output) if args.output else loaded.root / "deploy" / args.format
    for file in files:
        path = directory / file.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(file.content)
        os.chmod(path, 0o755 if file.executable else 0o644)
    print(f"wrote {len(files)} file(s) to {directory}")
    return 0
