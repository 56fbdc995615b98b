"""The public API is pinned: a change to `launcher.__all__` must be a deliberate one."""

from __future__ import annotations

import re

import pytest

import launcher


def test_all_is_pinned() -> None:
    assert launcher.__all__ == [
        "__version__",
        "AsyncRunningStack",
        "ConfigError",
        "DependencyFailed",
        "LauncherError",
        "PortError",
        "PortRangeExhausted",
        "PortTaken",
        "ReadinessTimeout",
        "RunningStack",
        "ServiceError",
        "ServiceStatus",
        "SpawnError",
        "Stack",
        "StackAlreadyRunning",
        "StartFailed",
        "load",
        "ready",
        "reports_ready",
    ]


def test_the_errors_form_one_tree() -> None:
    for name in launcher.__all__:
        value = getattr(launcher, name)
        if isinstance(value, type) and name.endswith(("Error", "Failed", "Timeout", "Running")):
            assert issubclass(value, launcher.LauncherError), name
    assert issubclass(launcher.ReadinessTimeout, launcher.StartFailed)
    assert issubclass(launcher.StartFailed, launcher.ServiceError)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'lod'"):
        launcher.lod  # noqa: B018


def test_every_public_name_exists() -> None:
    for name in launcher.__all__:
        assert hasattr(launcher, name), name


def test_version_is_a_release_number() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+((a|b|rc)\d+)?(\.dev\d+)?", launcher.__version__)
