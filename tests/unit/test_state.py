"""The transition table: every legal edge is accepted, every other one raises."""

from __future__ import annotations

import itertools

import pytest

from launcher.runtime.states import TRANSITIONS, IllegalTransition, ServiceState, check_transition

S = ServiceState
ALL_PAIRS = list(itertools.product(S, S))


@pytest.mark.parametrize(("old", "new"), ALL_PAIRS, ids=[f"{a}->{b}" for a, b in ALL_PAIRS])
def test_every_pair_is_either_legal_or_raises(old: ServiceState, new: ServiceState) -> None:
    if new in TRANSITIONS[old]:
        check_transition("svc", old, new)
    else:
        with pytest.raises(IllegalTransition, match=f"{old} -> {new}"):
            check_transition("svc", old, new)


def test_every_state_has_a_row() -> None:
    assert set(TRANSITIONS) == set(S)


def test_no_state_transitions_to_itself() -> None:
    assert all(state not in TRANSITIONS[state] for state in S)


@pytest.mark.parametrize(
    ("path"),
    [
        [S.PENDING, S.WAITING, S.STARTING, S.READY, S.STOPPING, S.STOPPED],
        [S.PENDING, S.STARTING, S.BACKOFF, S.STARTING, S.BACKOFF, S.STARTING, S.FAILED],
        [S.PENDING, S.STARTING, S.COMPLETED],
        [S.PENDING, S.WAITING, S.SKIPPED],
        [S.PENDING, S.STARTING, S.READY, S.UNHEALTHY, S.READY, S.BACKOFF, S.STARTING, S.READY],
        [S.PENDING, S.STARTING, S.READY, S.FAILED, S.STARTING],
    ],
)
def test_lifecycles_from_the_design_are_legal(path: list[ServiceState]) -> None:
    for old, new in itertools.pairwise(path):
        check_transition("svc", old, new)


def test_terminal_states_are_left_only_by_an_explicit_start() -> None:
    for state in (S.STOPPED, S.COMPLETED, S.FAILED, S.SKIPPED):
        assert S.READY not in TRANSITIONS[state]
        assert S.STARTING in TRANSITIONS[state]
