"""The exceptions the library raises. One tree; every error reads as a sentence.

LauncherError
 ├── ConfigError            the configuration is wrong (exit code 2); carries diagnostics
 ├── PortError              the machine cannot give the ports the stack needs (exit code 1)
 │    ├── PortRangeExhausted  LCH-3001
 │    └── PortTaken           LCH-3002
 ├── NoStackRunning         LCH-4001  no launcher of this project runs (the client commands)
 ├── StackAlreadyRunning    LCH-4002  a launcher of this project already runs its stack
 ├── UnknownService         LCH-4003  the running stack has no service of that name
 ├── ApiUnavailable         LCH-4004  the control API cannot listen where it should
 ├── ApiError               the control API refused a request or did not answer; `.code`
 │                          is the code it sent (None when it did not answer)
 └── ServiceError           a service could not be started or kept running (exit code 1);
      │                     carries `.service`, `.reason` and `.output` (its last lines)
      ├── SpawnError          LCH-2001  the program could not be executed at all
      ├── StartFailed         LCH-2002  it exited or failed during start, retries used up
      │    └── ReadinessTimeout LCH-2003  it did not become ready within start_timeout
      └── DependencyFailed    LCH-2004  it was skipped because a dependency failed
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from launcher.core.codes import Code
from launcher.core.diagnostics import Diagnostic, render_all


class LauncherError(Exception):
    """Base of every error the library raises on purpose."""

    exit_code = 1
    service: str | None = None


class DiagnosticError(LauncherError):
    """An error made of one or more diagnostics (code, place, hint)."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = tuple(diagnostics)
        super().__init__(render_all(self.diagnostics))

    @property
    def codes(self) -> list[str]:
        return [d.code for d in self.diagnostics]


class ConfigError(DiagnosticError):
    """The configuration cannot be used; `diagnostics` lists every problem found."""

    exit_code = 2


class PortError(DiagnosticError):
    """The ports the stack needs cannot be had on this machine."""

    exit_code = 1

    def __init__(self, diagnostics: Sequence[Diagnostic], service: str | None = None) -> None:
        super().__init__(diagnostics)
        self.service = service


class PortRangeExhausted(PortError):
    pass


class PortTaken(PortError):
    pass


class StackAlreadyRunning(LauncherError):
    """Another launcher runs this project's stack (LCH-4002); `pid` is that launcher's,
    `differs` how that stack differs from the one asked for (`up` of the same one is no error)."""

    def __init__(self, state_file: Path, pid: int | None, differs: str | None = None) -> None:
        who = f" (launcher pid {pid})" if pid is not None else ""
        how = f", with {differs}" if differs else ""
        super().__init__(
            f"error[{Code.STACK_ALREADY_RUNNING}]: a stack of this project is already running{who}{how}\n"
            f"  --> {state_file}\n"
            "  hint: stop it with `launcher down` (or Ctrl-C in its terminal) first"
        )
        self.pid = pid


class NoStackRunning(LauncherError):
    """No launcher of this project runs (LCH-4001). `note` says what was found instead: the
    state of a launcher that died, ended before this was raised."""

    def __init__(self, state_file: Path | str, note: str | None = None) -> None:
        lines = [note] if note else []
        lines += [
            f"error[{Code.NO_STACK_RUNNING}]: no stack of this project is running",
            f"  --> {state_file}",
            "  hint: start one with `launcher up -d` (in the background) or `launcher run`",
        ]
        super().__init__("\n".join(lines))
        self.state_file = state_file
        self.note = note


class UnknownService(LauncherError):
    """The running stack has no service of that name (LCH-4003); `known` lists those it has."""

    def __init__(self, service: str, known: Sequence[str]) -> None:
        super().__init__(
            f"error[{Code.UNKNOWN_SERVICE}]: no service '{service}' in this stack "
            f"(it has: {', '.join(known)})\n"
            "  hint: `launcher status` lists the services of the running stack"
        )
        self.service = service
        self.known = tuple(known)


class StackNotAccepting(LauncherError):
    """A service cannot be started, stopped or restarted now: the stack is not running (it has
    not started its services yet, or it is stopping)."""

    def __init__(self, state: str) -> None:
        super().__init__(f"the stack is {state}")
        self.state = state


class ApiError(LauncherError):
    """The control API refused a request (`code`, `status`: what it answered), or did not
    answer at all (both None)."""

    def __init__(
        self, message: str, *, code: str | None = None, status: int | None = None, hint: str | None = None
    ) -> None:
        text = f"error[{code}]: {message}" if code else f"error: {message}"
        super().__init__(f"{text}\n  hint: {hint}" if hint else text)
        self.code = code
        self.status = status


class ApiUnavailable(LauncherError):
    """The control API cannot listen where it should (LCH-4004): nothing was started."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"error[{Code.API_UNAVAILABLE}]: the control API cannot listen: {reason}\n"
            "  hint: free that address, or change `[launcher] api`"
        )


class ServiceError(LauncherError):
    """A service could not be started or kept running.

    A failed start of a stack reports everything that went wrong in one error: the service that
    failed first (this one), the others that failed (`also`), what every other service was
    doing when the rollback began (`others`: name, state, reason), and where each failed
    service's whole output is kept (`log`).
    """

    code = Code.SERVICE_FAILED
    hint = "see the service's output above, or `launcher logs SERVICE`"

    def __init__(
        self,
        service: str,
        reason: str,
        output: Sequence[str] = (),
        *,
        log: str | None = None,
        also: Sequence[ServiceError] = (),
        others: Sequence[tuple[str, str, str]] = (),
    ) -> None:
        self.service: str = service
        self.reason = reason
        self.output = tuple(output)
        self.log = log
        self.also = tuple(also)
        self.others = tuple(others)
        super().__init__(self.render())

    @property
    def failures(self) -> tuple[ServiceError, ...]:
        """Every service that failed: this one first."""
        return (self, *self.also)

    def render(self) -> str:
        lines = [line for failure in self.failures for line in failure._block()]
        if self.others:
            width = max(len(name) for name, _, _ in self.others)
            lines.append("  when the rollback began:")
            lines.extend(
                f"    {name:<{width}}  {state:<9} {reason}".rstrip() for name, state, reason in self.others
            )
        if self.log is not None:
            names = " ".join(f.service for f in self.failures)
            who = "they" if self.also else "it"
            lines.append(f"  hint: `launcher logs {names}` shows everything {who} wrote, also after this run")
        else:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)

    def _block(self) -> list[str]:
        lines = [f"error[{self.code}]: service '{self.service}' {self.reason}"]
        if self.output:
            lines.append(f"  last {len(self.output)} lines of {self.service}:")
            lines.extend(f"    | {line}" for line in self.output)
        if self.log is not None:
            lines.append(f"  its whole output: {self.log}")
        return lines

    def record(self) -> dict[str, object]:
        """The error as a JSON record (`--log-format json`)."""
        return {
            "error": str(self.code),
            "failures": [
                {
                    "service": f.service,
                    "code": str(f.code),
                    "reason": f.reason,
                    "output": list(f.output),
                    "log": f.log,
                }
                for f in self.failures
            ],
            "others": [{"service": n, "state": s, "reason": r} for n, s, r in self.others],
        }


class SpawnError(ServiceError):
    code = Code.CANNOT_EXECUTE
    hint = "check the command: is the program installed and on PATH, and is the cwd right?"


class StartFailed(ServiceError):
    code = Code.START_FAILED


class ReadinessTimeout(StartFailed):
    code = Code.READINESS_TIMEOUT
    hint = "raise start_timeout, or check that the probe targets what the service really serves"


class DependencyFailed(ServiceError):
    code = Code.DEPENDENCY_FAILED
    hint = "fix the dependency that failed; this service was not started"


# The ServiceError of each code: the client raises the one the API's answer names.
SERVICE_ERRORS: dict[str, type[ServiceError]] = {
    error.code: error for error in (ServiceError, SpawnError, StartFailed, ReadinessTimeout, DependencyFailed)
}
