from __future__ import annotations

import pytest

from launcher.plan.modes import decide_mode


@pytest.mark.parametrize(
    ("configured", "environ", "tty", "mode", "because"),
    [
        ("auto", {}, True, "shared", "interactive developer machine"),
        ("auto", {"CI": "true"}, True, "multi", "CI is set"),
        ("auto", {"GITHUB_ACTIONS": "true"}, True, "multi", "GITHUB_ACTIONS is set"),
        ("auto", {"CI": "0"}, True, "shared", "interactive"),
        ("auto", {}, False, "multi", "not a terminal"),
        ("multi", {}, True, "multi", "set in the configuration"),
        ("shared", {"CI": "1"}, False, "shared", "set in the configuration"),
    ],
)
def test_decide_mode(configured: str, environ: dict[str, str], tty: bool, mode: str, because: str) -> None:
    choice = decide_mode(configured, environ, tty)  # type: ignore[arg-type]
    assert choice.mode == mode
    assert because in choice.reason
