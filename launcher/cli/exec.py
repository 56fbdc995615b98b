"""`launcher exec [SERVICE] -- CMD`: CMD with the running stack's environment, its exit code
passed through, as `honcho run` and `docker compose exec` do.

    launcher exec -- pytest tests/e2e                 # sees API_GATEWAY_URL, [env], ...
    launcher exec api -- python manage.py migrate     # api's env, in api's cwd

The environment is `launcher env`'s (launcher/cli/env.py, from the API's unix socket); without
SERVICE CMD runs in the working directory, with SERVICE in that service's cwd. CMD is not a
child of the stack: stopping the stack does not end it.

CMD runs as a child of this process, which waits for it and exits with its code (128 + N when
signal N killed it, which a process that replaced itself with CMD could not report to a caller
other than a shell). As `honcho run`: CMD stays in this process group, so the terminal's
Ctrl-C and Ctrl-\\ reach it directly, and this process ignores them and waits for CMD to end;
SIGTERM, SIGHUP, SIGUSR1 and SIGUSR2 sent to this process are passed on to CMD. It forks and
executes CMD itself rather than through subprocess, whose import alone would take 10 ms of the
50 that `exec` may add to a bare interpreter's start (benchmarks/status.py).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

TYPE_CHECKING = False  # not typing's (see launcher/__init__.py)
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

# Sent to this process (by pid): passed on to CMD, which should decide what they mean.
FORWARDED = (signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)
# Sent by the terminal to its whole foreground process group, CMD included: not passed on.
FROM_TERMINAL = (signal.SIGINT, signal.SIGQUIT)
# Python ignores these from its start; a program it executes would inherit that (subprocess
# restores them too).
PYTHON_IGNORES = (signal.SIGPIPE, signal.SIGXFSZ)


USAGE_TAIL = "-- CMD [ARG ...]"
EXAMPLES = """\
examples:
  launcher exec -- pytest tests/e2e                the stack's URLs and [env] in its environment
  launcher exec api -- python manage.py migrate    with api's environment, in api's cwd
  launcher exec -- sh -c 'curl -fsS "$API_URL/health"'
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "service", nargs="?", metavar="SERVICE", help="run CMD with that service's environment and in its cwd"
    )


def main(args: argparse.Namespace) -> int:
    if not args.command_argv:
        print(
            "usage: launcher exec [SERVICE] -- CMD [ARG ...]\n"
            "launcher exec: error: no command: give it after `--`",
            file=sys.stderr,
        )
        return 2
    from launcher.cli.env import fetch

    answer = fetch(args.file, args.service)
    return run(args.command_argv, answer["env"], answer.get("cwd"))


def run(argv: Sequence[str], env: Mapping[str, str], cwd: str | None) -> int:
    """Run `argv` with `env` (in `cwd`, else here) and return its exit code."""
    before = {sig: signal.getsignal(sig) for sig in FROM_TERMINAL}
    for sig in FROM_TERMINAL:
        signal.signal(sig, signal.SIG_IGN)
    # Held until the handlers that pass them on know CMD's pid: none is lost in between.
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED)
    pid = os.fork()
    if pid == 0:  # the child: becomes CMD, or says why it cannot and exits as a shell would
        code = 126
        try:
            code = _become(argv, env, cwd, before, mask)
        finally:
            os._exit(code)

    reaped = False

    def forward(number: int, _frame: object) -> None:
        if not reaped:  # until CMD is waited for, its pid is its own (a zombie's at worst)
            os.kill(pid, number)

    for sig in FORWARDED:
        signal.signal(sig, forward)
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    _, status = os.waitpid(pid, 0)
    reaped = True
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def _become(
    argv: Sequence[str],
    env: Mapping[str, str],
    cwd: str | None,
    before: Mapping[signal.Signals, object],
    mask: set[int | signal.Signals],
) -> int:
    """Execute CMD in this (forked) process; on failure say why and return a shell's code:
    127 for a command not found, 126 for one that cannot be executed."""
    for sig, handler in before.items():
        signal.signal(sig, signal.SIG_IGN if handler == signal.SIG_IGN else signal.SIG_DFL)
    for sig in PYTHON_IGNORES:
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    try:
        if cwd is not None:
            os.chdir(cwd)
    except OSError as exc:
        return _cannot(f"cannot run {argv[0]!r} in {cwd}: {exc.strerror}", 126)
    try:
        os.execvpe(argv[0], list(argv), dict(env))  # searches the PATH of `env`, as a shell would
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        return _cannot(
            f"cannot run {argv[0]!r}: {reason}", 127 if isinstance(exc, FileNotFoundError) else 126
        )


def _cannot(message: str, code: int) -> int:
    from launcher.core.codes import Code

    # os.write: this forked copy must not flush what the parent's buffers hold.
    os.write(2, f"error[{Code.CANNOT_EXECUTE}]: {message}\n".encode(errors="replace"))
    return code
