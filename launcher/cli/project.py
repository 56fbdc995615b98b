"""Loading the project named by the command line (shared by the commands)."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

from launcher.cli.report import print_warning
from launcher.config import discovery
from launcher.config.loader import Loaded, load
from launcher.core.diagnostics import Diagnostic, in_file_order
from launcher.core.errors import ConfigError
from launcher.plan.compiler import build_plan, shared_plan_differs
from launcher.plan.modes import Mode, decide_mode
from launcher.plan.spec import Plan


def load_args(
    args: argparse.Namespace,
    profile: str | None = None,
    overrides: dict[str, dict[str, object]] | None = None,
    *,
    partial: bool = False,
) -> Loaded:
    """The configuration for `-f FILE` (or the one found from here) with `profile` applied;
    `partial` for a plan to follow, which reports the loader's problems with its own."""
    overrides = dict(overrides or {})
    if getattr(args, "log_format", None):
        overrides.setdefault("launcher", {})["log_format"] = args.log_format
    path = getattr(args, "file", None)
    env_files = getattr(args, "env_file", None)
    return load(
        Path(path) if path else None,
        profile=profile,
        overrides=overrides,
        env_files=env_files,
        partial=partial,
    )


def load_run_args(args: argparse.Namespace, taken: dict[int, bool] | None = None) -> tuple[Loaded, Plan]:
    """`[PROFILE] [SERVICE...]`: the first word is a profile when one has that name. Refused
    before anything starts where the project's interpreter cannot run the apps and tasks.
    `taken` gets the answer of every "is this port taken" the plan asked (what a cached plan
    depends on: launcher/cli/plancache.py)."""
    from launcher.runtime.sockets import port_is_free

    asked = {} if taken is None else taken

    def is_taken(port: int) -> bool:
        asked[port] = not port_is_free(port)
        return asked[port]

    words = list(args.words)
    profile = args.profile
    if profile is None and words:
        probe = load_args(args, None, partial=True)
        if words[0] in probe.profiles:
            profile = words.pop(0)
    overrides: dict[str, dict[str, object]] = {}
    if args.mode:
        overrides["launcher"] = {"mode": args.mode}
    loaded = load_args(args, profile, overrides, partial=True)
    for warning in loaded.env_files.warnings:
        print_warning(warning, log_format=args.log_format, no_color=args.no_color)
    debug = bool(getattr(args, "debug", None) or loaded.debug)
    choice = decide_mode(loaded.config.launcher.mode, os.environ, sys.stdout.isatty(), debug=debug)
    plan = build_plan(
        loaded,
        services=words,
        no_deps=args.no_deps,
        mode=choice.mode,
        mode_reason=choice.reason,
        environ=os.environ,
        is_taken=is_taken,
    )
    require_interpreter(loaded, plan)
    if debug:
        plan = _debugged(plan, loaded, args)
    if getattr(args, "file", None) is None and discovery.is_procfile(loaded.path):
        # Found, not named: say what is run, among the run's first lines.
        plan = dataclasses.replace(plan, notes=(discovery.procfile_note("running"), *plan.notes))
    return loaded, plan


def require_interpreter(loaded: Loaded, plan: Plan) -> None:
    """LCH-1038 where the project's interpreter cannot run the plan's apps and tasks (at the
    line of `[launcher] python`, where it is set)."""
    from launcher.runtime import interpreter

    setting = loaded.config.launcher.python
    interpreter.require(plan, loaded.layered.origin(("launcher", "python")) if setting else None)


def _debugged(plan: Plan, loaded: Loaded, args: argparse.Namespace) -> Plan:
    """`--debug SERVICE` (or the profile's `debug`): refused before anything starts without
    debugpy in the project's interpreter, or on a taken port."""
    from launcher.plan.debug import COMMAND_LINE, Debug, debug_plan, debug_port_taken, missing_debugpy
    from launcher.runtime import interpreter
    from launcher.runtime.sockets import port_is_free

    chosen = getattr(args, "debug", None)
    origin = (None if chosen else loaded.debug_origin) or COMMAND_LINE
    debug = Debug(chosen or loaded.debug or "", port=args.debug_port, wait=args.debug_wait, origin=origin)
    plan = debug_plan(plan, debug, python=plan.python)
    try:
        found = interpreter.installed(plan.python, ["debugpy"], plan.root)["debugpy"] is not None
    except interpreter.Unusable:
        found = False
    if not found:
        raise missing_debugpy(debug, None if plan.python == sys.executable else plan.python)
    if not port_is_free(debug.port):
        raise debug_port_taken(debug)
    return plan


def plan_args(args: argparse.Namespace, profile: str | None = None) -> tuple[Loaded, Plan]:
    """The multi-process plan; a stack that may run shared (mode auto or shared) must also
    plan in shared mode, whose rules are stricter (LCH-1029). Not when a shared plan could host
    nothing: that one is the multi plan again, with the same problems (half the planning time)."""
    loaded = load_args(args, profile, partial=True)
    plans: list[Plan] = []
    problems: list[Diagnostic] = []
    modes: tuple[Mode, ...] = ("multi", "shared") if shared_plan_differs(loaded) else ("multi",)
    for mode in modes:
        try:
            plans.append(build_plan(loaded, environ=os.environ, mode=mode, find_modules=True))
        except ConfigError as error:  # every problem of both plans at once
            problems += error.diagnostics
    if problems:
        raise ConfigError(in_file_order(problems))
    return loaded, plans[0]
