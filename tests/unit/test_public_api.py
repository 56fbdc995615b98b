"""The public API is pinned: a change to `launcher.__all__` must be a deliberate one."""

from __future__ import annotations

import re

import launcher


def test_all_is_pinned() -> None:
    assert launcher.__all__ == ["__version__"]


def test_every_public_name_exists() -> None:
    for name in launcher.__all__:
        assert hasattr(launcher, name), name


def test_version_is_a_release_number() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+((a|b|rc)\d+)?(\.dev\d+)?", launcher.__version__)
