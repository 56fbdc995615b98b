"""The words of the stack are defined once, and whatever repeats one keeps up with it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

from launcher.cli import ls, status
from launcher.config.model import Probe
from launcher.control import cells
from launcher.core.codes import Code
from launcher.core.probekinds import PROBE_KINDS, ProbeKind
from launcher.core.vocabulary import CONDITIONS
from launcher.runtime import states
from launcher.runtime.probes import PROBES

REPO = Path(__file__).parents[2]
SOURCES = {path: path.read_text() for path in (REPO / "launcher").rglob("*.py")}


def test_every_code_is_documented_with_its_meaning_and_every_documented_code_is_defined() -> None:
    headings = re.findall(r"^### (LCH-\d{4}): (.+)$", (REPO / "docs" / "errors.md").read_text(), re.M)
    assert dict(headings) == {code.value: code.meaning for code in Code}


def test_every_code_is_reported_somewhere_and_every_code_written_out_is_defined() -> None:
    others = [text for path, text in SOURCES.items() if path.name != "codes.py"]
    by_name = {name for text in others for name in re.findall(r"\bCode\.([A-Z_0-9]+)\b", text)}
    # Written out as a string or in an `error[...]` line (launcher.child may not import
    # launcher.core), as opposed to prose that mentions a code.
    by_value = {code for text in others for code in re.findall(r"[\"\[](LCH-\d{4})[\"\]]", text)}
    unused = [code for code in Code if code.name not in by_name and code.value not in by_value]
    assert unused == [], "docs/errors.md and core/codes.py list codes that nothing reports"
    written = {code for text in SOURCES.values() for code in re.findall(r"LCH-\d{4}", text)}
    assert sorted(written - set(Code)) == [], "define these in launcher/core/codes.py"


def test_the_probe_kinds_are_one_table_that_the_model_and_the_runtime_follow() -> None:
    assert tuple(PROBE_KINDS) == get_args(ProbeKind)
    assert set(PROBES) == set(PROBE_KINDS), "give each kind its check in launcher/runtime/probes.py"
    assert list(Probe.model_fields)[: len(PROBE_KINDS)] == list(PROBE_KINDS)


def test_each_condition_is_met_by_some_states() -> None:
    assert tuple(states.MEETS) == CONDITIONS
    assert states.MEETS["ready"] == states.HEALTHY


def test_the_status_command_s_copies_of_the_state_sets_are_equal_to_them() -> None:
    assert {str(s) for s in states.RUNNING} == cells.RUNNING
    assert {str(s) for s in states.EXITED} == cells.EXITED
    assert {str(s) for s in states.HEALTHY} == status.HEALTHY
    assert {str(s) for s in states.HEALTHY} == ls.HEALTHY
