"""`launcher up [PROFILE] [SERVICE...] [-d [--wait] [--timeout S]]`: the stack, detached.

Without -d it is `run`. With -d the configuration is checked here first (a bad one is reported
and nothing starts), then a launcher is started in a session of its own (`run --detached`: its
own events to `.launcher/logs/launcher.log`, each service's lines to its log file there) and
`up` returns once that launcher serves its control API. With --wait it returns once every
service is ready (a oneshot once it completed): 0, or 1 with the failing service's last lines.

It converges, as `docker compose up -d` does: when the same stack (configuration file, profile,
services, and mode if one is asked for) already runs, it says so and exits 0 (with --wait once
that stack is ready); when another stack of the project runs, LCH-4002.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time

from launcher.cli.options import add_run_options

TYPE_CHECKING = False  # not typing's (see launcher/__init__.py)
if TYPE_CHECKING:
    import subprocess
    from pathlib import Path

    from launcher.control import client
    from launcher.plan.spec import Plan
    from launcher.runtime import statefile

POLL = 0.05
# How long the detached launcher may take to open its API (it imports the runtime first).
API_TIMEOUT = 30.0
ROLLBACK_WAIT = 120.0  # seconds `up --wait` waits for a failed start's rollback to end
LOG_TAIL = 20


EXAMPLES = """\
examples:
  launcher up -d                    start the stack in the background
  launcher up -d --wait             ... and return once every service is ready (0), or 1
  launcher up -d --wait --timeout 120 minimal
  launcher up                       without -d: `launcher run`
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_options(parser)
    parser.add_argument("-d", "--detach", action="store_true", help="run the stack in the background")
    parser.add_argument("--wait", action="store_true", help="with -d: return once every service is ready")
    parser.add_argument(
        "--timeout", type=float, default=None, metavar="S", help="with --wait: give up after S seconds"
    )


def main(args: argparse.Namespace) -> int:
    import dataclasses

    from launcher.cli.project import load_run_args
    from launcher.control import client
    from launcher.core.errors import LauncherError

    if not args.detach:
        if args.wait or args.timeout is not None:
            raise LauncherError("error: --wait and --timeout go with -d (up -d --wait)")
        from launcher.cli import run

        return run.main(args)
    if args.command_argv:
        raise LauncherError("error: up -d runs no command; use `launcher run ... -- CMD`")
    _, plan = load_run_args(args)  # a bad configuration stops here, with nothing started
    running = _running_or_reap(plan.root)
    if running is not None:
        return _already_up(args, plan, running)
    for note in plan.notes:  # what `run` would say first (the detached one says it in its log)
        print(note)
    root = plan.root
    launcher = _spawn(args, root)
    record = _await_api(launcher, root)
    print(f"{plan.stack}: started in the background (launcher pid {launcher.pid}; logs in .launcher/logs/)")
    if not args.wait:
        return 0
    stack = client.StackClient(str(root), dataclasses.asdict(record))
    return _await_ready(launcher, stack, args.timeout, root, args.keep_going)


def _running_or_reap(root: Path) -> statefile.StackRecord | None:
    """The state of the launcher that runs this project's stack; None when none runs (what a
    dead one left is reaped, and that is said)."""
    from launcher.runtime import leftovers, statefile

    record = statefile.read(root)
    if record is None or leftovers.launcher_alive(record):
        return record
    print(leftovers.reap_dead_stack(root, record))
    return None


def _already_up(args: argparse.Namespace, plan: Plan, record: statefile.StackRecord) -> int:
    """`up` converges: the stack asked for already runs, 0 (with --wait, once it is ready);
    another stack of this project runs (another profile, selection, mode or file), LCH-4002."""
    import dataclasses

    from launcher.control import client
    from launcher.core.errors import StackAlreadyRunning
    from launcher.runtime import statefile

    differs = _difference(plan, record, mode_asked=args.mode not in (None, "auto"))
    if differs:
        raise StackAlreadyRunning(statefile.state_dir(plan.root) / statefile.STATE_FILE, record.pid, differs)
    print(f"{plan.stack}: already up (launcher pid {record.pid}; `launcher status` shows it)")
    if not args.wait:
        return 0
    stack = client.StackClient(str(plan.root), dataclasses.asdict(record))
    return _await_ready(None, stack, args.timeout, plan.root, args.keep_going)


def _difference(plan: Plan, record: statefile.StackRecord, *, mode_asked: bool) -> str | None:
    """How the running stack differs from `plan`: its configuration file, profile, services
    (the selection with its dependencies) or, when one was asked for, mode; None: the same."""
    from pathlib import Path

    def named(profile: str | None) -> str:
        return f"profile {profile!r}" if profile else "no profile"

    running = [s.name for s in record.services]
    if record.config and Path(record.config).resolve() != plan.config_path.resolve():
        return f"configuration {record.config}, not {plan.config_path}"
    if record.profile != plan.profile:
        return f"{named(record.profile)}, not {named(plan.profile)}"
    if sorted(running) != sorted(plan.names):
        return f"services {', '.join(running)}, not {', '.join(plan.names)}"
    if mode_asked and record.mode != plan.mode:
        return f"mode {record.mode}, not {plan.mode}"
    return None


def _spawn(args: argparse.Namespace, root: Path) -> subprocess.Popen[bytes]:
    import subprocess

    from launcher.runtime import statefile

    logs = statefile.state_dir(root) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "launcher", "run", "--detached", "--no-color", *_run_words(args)]
    with open(logs / "launcher.log", "ab") as log:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # no terminal: closing it must not stop the stack
            close_fds=True,
        )


def _run_words(args: argparse.Namespace) -> list[str]:
    """`run`'s own options, as `up` was given them."""
    from pathlib import Path

    words: list[str] = []
    if args.file:
        words += ["-f", str(Path(args.file).absolute())]
    for env_file in args.env_file or ():
        words += ["-e", str(Path(env_file).absolute())]
    if args.log_format:
        words += ["--log-format", args.log_format]
    if args.profile:
        words += ["--profile", args.profile]
    if args.mode:
        words += ["--mode", args.mode]
    if args.no_deps:
        words.append("--no-deps")
    if args.keep_going:
        words.append("--keep-going")
    if args.watch:
        words.append("--watch")
    if args.debug:
        words += ["--debug", args.debug, "--debug-port", str(args.debug_port)]
        words += ["--debug-wait"] if args.debug_wait else []
    return [*words, *args.words]


def _await_api(launcher: subprocess.Popen[bytes], root: Path) -> statefile.StackRecord:
    """The detached launcher's state, once it records its API socket; its error if it exits."""
    from launcher.core.errors import LauncherError
    from launcher.runtime import statefile

    deadline = time.monotonic() + API_TIMEOUT
    while time.monotonic() < deadline:
        record = statefile.read(root)
        if record is not None and record.pid == launcher.pid and record.api:
            return record
        if launcher.poll() is not None:
            raise LauncherError(_ended(launcher, root))
        time.sleep(POLL)
    raise LauncherError(
        f"error: the detached launcher (pid {launcher.pid}) did not open its API within {API_TIMEOUT:g}s; "
        "see .launcher/logs/launcher.log"
    )


def _await_ready(
    launcher: subprocess.Popen[bytes] | None,  # None: a stack that was already up
    stack: client.StackClient,
    timeout: float | None,
    root: Path,
    keep_going: bool,
) -> int:
    import subprocess

    from launcher.core.errors import LauncherError
    from launcher.runtime.states import GAVE_UP, HEALTHY

    deadline = None if timeout is None else time.monotonic() + timeout
    while deadline is None or time.monotonic() < deadline:
        try:
            status = stack.get("/v1/status")
        except LauncherError:
            if launcher is None:
                raise
            # The start failed: the launcher rolled back and is leaving (its state file, which
            # the request needs, is the last thing it removes).
            with contextlib.suppress(subprocess.TimeoutExpired):
                launcher.wait(ROLLBACK_WAIT)
            if launcher.poll() is not None:
                print(_failure_report(root) or _ended(launcher, root), file=sys.stderr)
                return launcher.returncode or 1
            raise
        services = status["services"]
        failed = [s for s in services if s["state"] in GAVE_UP]
        if failed and not keep_going and launcher is not None:
            # The launcher rolls back and says what went wrong, as `run` does: its report.
            with contextlib.suppress(subprocess.TimeoutExpired):
                launcher.wait(ROLLBACK_WAIT)
            if launcher.poll() is not None:
                print(_failure_report(root) or _ended(launcher, root), file=sys.stderr)
                return launcher.returncode or 1
        if failed:
            keeps = keep_going or launcher is None
            after = "the stack keeps running (`launcher down` stops it)" if keeps else "rolling back"
            return _report(stack, failed[0], f"is {failed[0]['state']}: {failed[0].get('reason', '')}", after)
        if status["state"] == "running" and all(s["state"] in HEALTHY for s in services):
            from launcher.cli.where import where_lines

            print(f"{status['stack']}: {len(services)}/{len(services)} services ready")
            for line in where_lines(services):
                print(f"  {line}")
            return 0
        time.sleep(POLL)
    waiting = [s for s in stack.get("/v1/status")["services"] if s["state"] not in HEALTHY]
    if not waiting:
        return 0
    what = f"was not ready within {timeout:g}s (state: {waiting[0]['state']})"
    return _report(stack, waiting[0], what, "the stack keeps running (`launcher down` stops it)")


def _report(stack: client.StackClient, service: dict[str, object], what: str, after: str) -> int:
    from launcher.core.errors import LauncherError

    name = str(service["name"])
    print(f"error: service '{name}' {what}; {after}", file=sys.stderr)
    with contextlib.suppress(LauncherError):  # rolled back and gone meanwhile: no lines to show
        for line in stack.get(f"/v1/services/{name}/logs?tail={LOG_TAIL}")["lines"]:
            print(f"  {name} | {line}", file=sys.stderr)
    return 1


def _failure_report(root: Path) -> str | None:
    """The report of the detached launcher's failed start, from its log: what follows its last
    `rolling back` line, from the first error on (the text `run` prints, or its JSON record)."""
    from launcher.runtime import statefile

    try:
        lines = (statefile.state_dir(root) / "logs" / "launcher.log").read_text(errors="replace").splitlines()
    except OSError:
        return None
    marks = [i for i, line in enumerate(lines) if "failed to start: rolling back" in line]
    if not marks:
        return None
    after = lines[marks[-1] + 1 :]
    start = next((i for i, line in enumerate(after) if _is_error(line)), None)
    return "\n".join(after[start:]) if start is not None else None


def _is_error(line: str) -> bool:
    """The first line of an error: `error[CODE]: ...`, or a JSON error record."""
    return line.startswith("error[") or (line.startswith("{") and '"level": "error"' in line)


def _ended(launcher: subprocess.Popen[bytes], root: Path) -> str:
    """What the detached launcher said before it exited: the end of its log."""
    from launcher.runtime import statefile

    log = statefile.state_dir(root) / "logs" / "launcher.log"
    try:
        tail = log.read_text(errors="replace").splitlines()[-LOG_TAIL:]
    except OSError:
        tail = []
    text = "\n".join(tail)
    code = launcher.wait()
    return f"the detached launcher exited with code {code}:\n{text}" if text else f"exited with code {code}"
