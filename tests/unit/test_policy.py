from __future__ import annotations

from pathlib import Path

import pytest

from launcher.plan.spec import BackoffSpec, ProcessSpec
from launcher.runtime.policy import RestartBudget, after_exit


def spec(restart: str, success: tuple[int, ...] = (0,)) -> ProcessSpec:
    return ProcessSpec(
        name="s",
        service="s",
        kind="command",
        argv=("x",),
        cwd=Path("."),
        env={},
        restart=restart,
        success_codes=success,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("restart", "code", "decision"),
    [
        ("no", 0, "stop"),
        ("no", 1, "fail"),
        ("on-failure", 0, "stop"),
        ("on-failure", 1, "restart"),
        ("on-failure", -9, "restart"),
        ("always", 0, "restart"),
        ("always", 3, "restart"),
    ],
)
def test_after_exit(restart: str, code: int, decision: str) -> None:
    assert after_exit(spec(restart), code) == decision


def test_success_codes_count_as_success() -> None:
    assert after_exit(spec("on-failure", success=(0, 3)), 3) == "stop"


def test_budget_allows_max_restarts_within_the_window_then_refuses() -> None:
    budget = RestartBudget(max_restarts=5, window=60)
    assert all(budget.allow(100 + i) for i in range(5))
    assert not budget.allow(105)  # the sixth within 60 s
    assert budget.count(105) == 5


def test_budget_forgets_restarts_older_than_the_window() -> None:
    budget = RestartBudget(max_restarts=2, window=10)
    assert budget.allow(0)
    assert budget.allow(1)
    assert not budget.allow(5)
    assert budget.allow(11.5)  # both earlier ones are more than 10 s old
    assert budget.count(11.5) == 1


def test_backoff_grows_and_caps() -> None:
    backoff = BackoffSpec(initial=0.5, max=15, multiplier=2)
    assert [backoff.delay(n) for n in (1, 2, 3, 4, 5, 6, 7)] == [0.5, 1, 2, 4, 8, 15, 15]
