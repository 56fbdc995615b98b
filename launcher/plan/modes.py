"""`--mode auto`: shared on an interactive developer machine, multi in CI or without a terminal.

This is the half of the choice that the machine settles; the other half, whether the final
selection has something to share (launcher/plan/shared_mode.py, `refusal`), is settled where
the selection is known, by the compiler, which records the outcome in the plan: the mode line,
`status` and the API all report the plan's mode and reason.

Pure: the environment and whether stdout is a terminal come in as arguments.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

CI_VARIABLES = (
    "CI",
    "GITHUB_ACTIONS",
    "GITLAB_CI",
    "BUILDKITE",
    "CIRCLECI",
    "JENKINS_URL",
    "TF_BUILD",
    "TEAMCITY_VERSION",
)
Mode = Literal["multi", "shared"]
Configured = Literal["auto", "multi", "shared"]


@dataclass(frozen=True)
class ModeChoice:
    mode: Mode
    reason: str
    factors: tuple[str, ...]


def decide_mode(
    configured: Configured, environ: Mapping[str, str], stdout_is_terminal: bool, *, debug: bool = False
) -> ModeChoice:
    """The mode the machine asks for; `debug`: a service runs under debugpy (`--debug`), which
    auto runs multi, so that the debugger holds that service alone."""
    factors = [f"configured mode: {configured}"]
    ci = next(
        (name for name in CI_VARIABLES if environ.get(name, "").lower() not in ("", "0", "false")), None
    )
    factors.append(f"CI: {'yes (' + ci + ' is set)' if ci else 'no CI variable set'}")
    factors.append(f"stdout is {'a terminal' if stdout_is_terminal else 'not a terminal'}")
    if debug:
        factors.append("--debug: a service runs under debugpy")
    if configured == "multi" or configured == "shared":
        return ModeChoice(
            configured, f"mode {configured}: set in the configuration or with --mode", tuple(factors)
        )
    if ci:
        return ModeChoice("multi", f"mode multi: running in CI ({ci} is set)", tuple(factors))
    if not stdout_is_terminal:
        return ModeChoice("multi", "mode multi: stdout is not a terminal", tuple(factors))
    if debug:
        return ModeChoice(
            "multi", "mode multi: --debug runs its service in a process of its own", tuple(factors)
        )
    return ModeChoice("shared", "mode shared: an interactive developer machine", tuple(factors))
