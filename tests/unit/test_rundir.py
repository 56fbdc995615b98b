"""Where the control API listens, and its token (launcher/runtime/rundir.py)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from launcher.runtime import rundir


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_socket_is_in_a_private_run_directory_beside_the_configuration(tmp_path: Path) -> None:
    path = rundir.socket_path(tmp_path, {})
    assert path == tmp_path / ".launcher" / "run" / "api.sock"
    assert mode(path.parent) == 0o700


def test_a_path_too_long_for_a_unix_socket_falls_back_to_a_short_one(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    path = rundir.socket_path(deep, {"XDG_RUNTIME_DIR": str(runtime)})
    assert path.parent == runtime / "launcher"
    assert len(os.fsencode(path)) <= rundir.MAX_SOCKET_PATH
    assert mode(path.parent) == 0o700
    # Another project gets another socket; the same project the same one.
    other = tmp_path / ("f" * 60) / ("g" * 60)
    other.mkdir(parents=True)
    assert rundir.socket_path(other, {"XDG_RUNTIME_DIR": str(runtime)}) != path
    assert rundir.socket_path(deep, {"XDG_RUNTIME_DIR": str(runtime)}) == path


def test_without_a_runtime_directory_the_short_path_is_per_user_under_tmp(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    path = rundir.socket_path(deep, {})
    assert path.parent.name == f"launcher-{os.getuid()}"
    assert mode(path.parent) == 0o700


def test_a_run_directory_opened_up_is_made_private_again(tmp_path: Path) -> None:
    run = tmp_path / ".launcher" / "run"
    run.mkdir(parents=True)
    run.chmod(0o777)
    rundir.socket_path(tmp_path, {})
    assert mode(run) == 0o700


def test_the_token_comes_from_the_environment_first(tmp_path: Path) -> None:
    assert rundir.api_token(tmp_path, {"LAUNCHER_API_TOKEN": "given"}) == "given"
    assert not rundir.token_path(tmp_path).exists()


def test_a_generated_token_is_readable_by_the_user_only_and_kept(tmp_path: Path) -> None:
    token = rundir.api_token(tmp_path, {})
    assert len(token) >= 32
    assert mode(rundir.token_path(tmp_path)) == 0o600
    assert rundir.api_token(tmp_path, {}) == token


@pytest.mark.skipif(os.getuid() == 0, reason="root owns every directory it may write to")
def test_a_run_directory_of_another_user_is_refused(tmp_path: Path) -> None:
    # /tmp itself belongs to root: a `launcher` directory there is not this user's.
    with pytest.raises(PermissionError):
        rundir._private_dir(Path("/"))
