"""`launcher check [PROFILE]`: validate; exit 0, or 2 with every problem listed.

A successful check of unchanged inputs is answered from `.launcher/cache/` (see checkcache.py)
without importing pydantic; anything else runs the full validation.
"""

from __future__ import annotations

import argparse
import gc
import os

from launcher.cli.options import add_profile

TYPE_CHECKING = False  # not typing's (see launcher/__init__.py)
if TYPE_CHECKING:
    from pathlib import Path

    from launcher.plan.spec import Plan


PLUGINS_OFF = "PYDANTIC_DISABLE_PLUGINS"

EXAMPLES = """\
examples:
  launcher check                    the configuration with its default profile
  launcher check ci                 with the profile ci
  launcher check --all-profiles     with each profile in turn
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_profile(parser)
    parser.add_argument("--all-profiles", action="store_true", help="also check every profile")


def main(args: argparse.Namespace) -> int:
    from launcher.config import checkcache, discovery

    config = _config_path(args)
    if config is not None and not args.file and discovery.is_procfile(config):
        print(discovery.procfile_note("checking"))
    key = [str(config), args.profile or "", str(args.all_profiles), args.log_format or ""]
    key += [os.path.abspath(name) for name in args.env_file or ()]
    if config is not None:
        cached = checkcache.lookup(config.parent, key, os.environ)
        if cached is not None:
            print(cached)
            return 0
    return _check(args, key)


def _config_path(args: argparse.Namespace) -> Path | None:
    """The file `load` would read, found without importing the loader (None: let it report)."""
    from pathlib import Path

    from launcher.config import discovery

    if args.file:
        return Path(args.file).resolve()
    found = discovery.find_config(os.getcwd())
    return None if found is None else Path(found)


def _check(args: argparse.Namespace, key: list[str]) -> int:
    """The full check. It makes some 50,000 objects that live until the process exits (pydantic's
    modules and schemas, the models, the plans): the cyclic collector would walk them again and
    again while they are made, and once more as the interpreter exits (about 20 ms of a cold check,
    benchmarks/startup.py), to find next to no garbage. So it is off while they are made, and they
    are then frozen out of its sight."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _validated(args, key)
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def _validated(args: argparse.Namespace, key: list[str]) -> int:
    _import_models()
    from launcher.cli.project import plan_args, require_interpreter
    from launcher.config import checkcache
    from launcher.plan.environment import shadowed

    loaded, plan = plan_args(args, args.profile)
    require_interpreter(loaded, plan)  # it runs the apps and tasks: asked without importing
    # Warnings refuse nothing: the lines ignored in env files, the declared variables that
    # hide injected ones.
    warnings = [*loaded.env_files.warnings, *shadowed(loaded, plan, os.environ)]
    lines = [
        f"{loaded.path.name}: {len(plan.specs)} processes"
        + (f" (profile {plan.profile})" if plan.profile else "")
        + ", configuration is valid"
    ]
    plans = [plan]
    if args.all_profiles:
        for name in loaded.profiles:
            configured, other = plan_args(args, name)
            require_interpreter(configured, other)
            plans.append(other)
            warnings += [w for w in shadowed(configured, other, os.environ) if w not in warnings]
            lines.append(f"  profile {name}: {len(other.specs)} processes, valid")
    output = "\n".join([*(w.render() for w in warnings), *lines])
    print(output)
    root = loaded.root
    files = [loaded.path, root / "launcher.local.toml", *loaded.env_files.paths]
    checkcache.store(root, key, files, os.environ, output, _modules(plans))
    return 0


def _import_models() -> None:
    """Import the configuration model with pydantic's plugins off. As it builds the first
    model's validator, pydantic looks for plugins in the metadata of every installed
    distribution (3-5 ms of a cold check in a development virtualenv); the configuration's
    models have no use for them. PYDANTIC_DISABLE_PLUGINS is pydantic's own switch, and is set
    only while the models are built: the plan, which reads the environment, never sees it."""
    import sys

    if "launcher.config.model" in sys.modules or PLUGINS_OFF in os.environ:
        return  # built already; or the user's setting, which pydantic reads as it is
    os.environ[PLUGINS_OFF] = "__all__"
    try:
        import launcher.config.model  # noqa: F401 - built here, used by the loader
    finally:
        del os.environ[PLUGINS_OFF]


def _modules(plans: list[Plan]) -> list[Path]:
    """Where each app's and task's module was found: the check holds while they are there."""
    from launcher.config.modules import module_path

    found = [
        module_path(s.import_path.partition(":")[0], s.cwd) for p in plans for s in p.specs if s.import_path
    ]
    return [path for path in found if path is not None]
