"""The shop project of the exports' unit tests (tests/unit/test_export_*.py): the head of its
launcher.toml, and the plan of a project's text built as `launcher export` builds it."""

from __future__ import annotations

import itertools
from pathlib import Path

from helpers import ProjectFactory

from launcher.config.loader import load
from launcher.exports.deployment import secret_environ
from launcher.plan.compiler import LOCALHOST, build_plan
from launcher.plan.spec import Plan

# Its [launcher] table and the start of its [env] table: a test's text may add variables
# before its services.
SHOP = """
[launcher]
name = "shop"
ports = [9000, 9010]

[env]
LOG_LEVEL = "info"
API_TOKEN = "s3cret-token"
"""

_count = itertools.count()


def compile_text(
    project: ProjectFactory,
    text: str,
    *,
    python: str = "python",
    bind: str = LOCALHOST,
    secrets: bool = False,
) -> Plan:
    """The plan of a new project of `text`, built with no environment but, with `secrets`, the
    secrets the project declares as `${NAME}` references (the values an export writes)."""
    root: Path = project(text, name=f"stack-{next(_count)}")
    loaded = load(root / "launcher.toml", environ={})
    environ = secret_environ(loaded.config) if secrets else {}
    return build_plan(loaded, environ=environ, python=python, bind=bind)
