"""`--mode auto`: shared on an interactive developer machine, multi in CI or without a terminal.

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


@dataclass(frozen=True)
class ModeChoice:
    mode: Mode
    reason: str
    factors: tuple[str, ...]


def decide_mode(
    configured: Literal["auto", "multi", "shared"], environ: Mapping[str, str], stdout_is_terminal: bool
) -> ModeChoice:
    factors = [f"configured mode: {configured}"]
    ci = next(
        (name for name in CI_VARIABLES if environ.get(name, "").lower() not in ("", "0", "false")), None
    )
    factors.append(f"CI: {'yes (' + ci + ' is set)' if ci else 'no CI variable set'}")
    factors.append(f"stdout is {'a terminal' if stdout_is_terminal else 'not a terminal'}")
    if configured == "multi" or configured == "shared":
        return ModeChoice(
            configured, f"mode {configured}: set in the configuration or with --mode", tuple(factors)
        )
    if ci:
        return ModeChoice("multi", f"mode multi: running in CI ({ci} is set)", tuple(factors))
    if not stdout_is_terminal:
        return ModeChoice("multi", "mode multi: stdout is not a terminal", tuple(factors))
    return ModeChoice("shared", "mode shared: an interactive developer machine", tuple(factors))
