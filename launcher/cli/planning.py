"""The plan of `run`, made in a child process: the long-running launcher never imports pydantic.

Validating the configuration needs pydantic and the configuration model, about 9 MiB of a
launcher that otherwise idles in twice that, and needed for nothing once the plan is made. So
`run` forks before it loads anything: the child loads and plans as `load_run_args()` always did,
sends the plan back pickled (it is frozen dataclasses, paths and strings) and exits; meanwhile
the parent imports what it runs the stack with, on the other core. A child that cannot plan says
why itself, exactly as the command would have (warnings, errors, exit code), and the parent
exits with its code.

    planning = Planning.start(args)   # the child is at work
    ...                               # the parent imports the runtime meanwhile
    outcome = planning.outcome()      # (plan, log_format), or the exit code of a failed plan

A plan made before from the same files, environment and arguments is taken from the cache
(launcher/cli/plancache.py) instead: no child at all, and the warnings its load printed are
printed again. The child stores the plan it makes.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pickle
import sys

TYPE_CHECKING = False  # not typing's (see launcher/__init__.py)
if TYPE_CHECKING:
    from typing import Literal, NoReturn

    from launcher.cli.plancache import Cached, Entry
    from launcher.plan.spec import Plan


class Planning:
    def __init__(
        self, args: argparse.Namespace, pid: int, read_fd: int, cached: Cached | None = None
    ) -> None:
        self._args = args
        self._pid = pid
        self._read_fd = read_fd
        self.cached = cached  # the plan came from the cache: there is no child

    @classmethod
    def start(cls, args: argparse.Namespace, *, cache: bool = True) -> Planning:
        from launcher.cli import plancache

        entry = plancache.entry_for(args)
        cached = plancache.lookup(entry) if entry is not None and cache else None
        if cached is not None:
            from launcher.cli.report import print_warning

            for warning in cached.warnings:  # as the load said them
                print_warning(warning, log_format=args.log_format, no_color=args.no_color)
            return cls(args, -1, -1, cached)
        read_fd, write_fd = os.pipe()
        for stream in (sys.stdout, sys.stderr):
            stream.flush()  # or the child would print what is buffered a second time
        pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            _plan(args, write_fd, entry)
        os.close(write_fd)
        return cls(args, pid, read_fd)

    def outcome(self) -> tuple[Plan, Literal["text", "json"]] | int:
        """The plan and the output's format; or, when the child could not plan (and said why),
        the exit code of the command."""
        if self.cached is not None:
            try:
                return self.cached.plan, self.cached.log_format
            except Exception:  # an entry whose plan cannot be unpickled after all: plan now
                return Planning.start(self._args, cache=False).outcome()
        try:
            with open(self._read_fd, "rb") as pipe:
                data = pipe.read()
        finally:
            _, status = os.waitpid(self._pid, 0)
        if data:
            plan, log_format = pickle.loads(data)
            return plan, log_format
        code = os.waitstatus_to_exitcode(status)
        return code if code >= 0 else 128 - code  # killed by a signal: as a shell says it


def _plan(args: argparse.Namespace, write_fd: int, entry: Entry | None) -> NoReturn:
    """The child: load and plan, send the outcome, keep it in the cache, and exit without ever
    returning into the parent's stack (os._exit: no atexit, no finally of the parent's frames)."""
    code = 0
    try:
        from launcher.cli.project import load_run_args

        taken: dict[int, bool] = {}
        loaded, plan = load_run_args(args, taken)
        log_format = args.log_format or loaded.config.launcher.log_format
        with open(write_fd, "wb") as pipe:
            pipe.write(pickle.dumps((plan, log_format)))
        if entry is not None:  # the parent has its plan (it reaps this child a few ms later)
            from launcher.cli import plancache

            plancache.store(entry, loaded, plan, log_format, taken)
    except KeyboardInterrupt:
        code = 130
    except BaseException as exc:
        code = _report(exc, args)
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(code)


def _report(exc: BaseException, args: argparse.Namespace) -> int:
    """What launcher/cli/main.py does with an error of the command: its message and code, or a
    traceback for a bug of ours."""
    from launcher.core.errors import LauncherError

    if isinstance(exc, LauncherError):
        from launcher.cli.report import print_error

        print_error(exc, log_format=args.log_format, no_color=bool(args.no_color))
        return exc.exit_code
    if isinstance(exc, SystemExit):
        return exc.code if isinstance(exc.code, int) else 1
    import traceback

    traceback.print_exception(exc)
    return 1
