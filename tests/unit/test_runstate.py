"""The run state: a state file only once the control API answers (`launcher run` opens it after
its first spawns)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from launcher.library.testing import RecordingSink
from launcher.runtime import statefile
from launcher.runtime.runstate import RunState
from launcher.runtime.status import StackState, StackStatus


def status(state: StackState = StackState.STARTING) -> StackStatus:
    return StackStatus(
        stack="demo", state=state, profile=None, mode="multi", pid=os.getpid(), started_at=0.0, services=()
    )


def test_nothing_is_written_until_the_api_is_open_then_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "runtime"))  # the registry of stacks
    run_state = RunState(tmp_path, RecordingSink(), "run1", tmp_path / "launcher.toml")
    run_state.claim()
    run_state.await_api()
    run_state.write(status())
    assert statefile.read(tmp_path) is None  # a client would find a stack it cannot reach
    run_state.api_opened("/run/api.sock", status(StackState.STARTING))
    record = statefile.read(tmp_path)
    assert record is not None
    assert (record.api, record.state) == ("/run/api.sock", "starting")
    run_state.write(status(StackState.RUNNING))
    assert statefile.read(tmp_path).state == "running"  # type: ignore[union-attr]
    run_state.release()
    assert statefile.read(tmp_path) is None
