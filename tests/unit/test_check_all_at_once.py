"""`launcher check` finds every problem in one run, whatever its kind, in file order; and what it
finds without importing (an app's or a task's module) keeps holding for a cached check."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from launcher.cli.main import main
from launcher.config.loader import load
from launcher.config.modules import module_path
from launcher.core.errors import ConfigError
from launcher.plan.compiler import build_plan

# Seven schema problems, a cycle, a port clash and an unclosed ${PORT (issue 18): it took four
# runs of `check` (7 -> 2 -> 1 -> 1), and the last one's hint was "balance the quotes".
FOUR_KINDS = """\
[launcher]
ports = [9000, 8000]

[services.api]
command = "serve --port ${PORT}"
port = 8001
restart = "sometimes"
depends_on = ["worker"]

[services.worker]
command = "work"
depends_on = ["api"]
replicas = "two"
stop_signal = "SIGNOPE"

[services.admin]
command = "serve --port ${PORT"
port = 8001
start_timeout = "soon"

[services.web]
comand = "serve"
port = 70000
"""
SCHEMA = ["LCH-1010", "LCH-1011", "LCH-1003", "LCH-1012", "LCH-1003", "LCH-1002", "LCH-1010"]


def check(root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    monkeypatch.chdir(root)
    code = main(["check"])
    out, err = capsys.readouterr()
    return code, out + err


def test_one_check_lists_the_four_kinds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "launcher.toml").write_text(FOUR_KINDS)
    code, output = check(tmp_path, capsys, monkeypatch)
    assert code == 2
    codes = re.findall(r"^error\[(LCH-\d+)\]", output, re.M)
    assert sorted(codes) == sorted([*SCHEMA, "LCH-1004", "LCH-1018", "LCH-1022"])
    assert output.rstrip().endswith("10 problems found")
    assert "close it with `}`" in output
    assert "balance the quotes" not in output
    lines = [int(n) for n in re.findall(r"--> launcher\.toml:(\d+)", output)]
    assert lines == sorted(lines), "in file order"


def test_run_refuses_with_the_same_list(tmp_path: Path) -> None:
    """The library's way: a partial load, then the plan, which reports the loader's problems
    with its own."""
    (tmp_path / "launcher.toml").write_text(FOUR_KINDS)
    with pytest.raises(ConfigError) as info:
        build_plan(load(tmp_path / "launcher.toml", partial=True), environ={})
    assert sorted(info.value.codes) == sorted([*SCHEMA, "LCH-1004", "LCH-1018", "LCH-1022"])
    with pytest.raises(ConfigError) as strict:
        load(tmp_path / "launcher.toml")  # without a plan: what the configuration alone shows
    assert "LCH-1004" in strict.value.codes


def test_a_cached_check_does_not_outlive_the_module_it_found(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "launcher.toml").write_text('[services.api]\napp = "shop.api:app"\n')
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "api.py").write_text("app = None\n")
    assert check(tmp_path, capsys, monkeypatch)[0] == 0
    assert check(tmp_path, capsys, monkeypatch)[0] == 0  # from the cache
    (tmp_path / "shop" / "api.py").rename(tmp_path / "shop" / "server.py")
    code, output = check(tmp_path, capsys, monkeypatch)
    assert code == 2
    assert "error[LCH-1037]: services.api.app: module 'shop.api' not found" in output


@pytest.mark.parametrize(
    ("files", "found"),
    [
        (["pkg/mod.py"], "pkg/mod.py"),
        (["pkg/__init__.py", "pkg/mod/__init__.py"], "pkg/mod"),
        (["pkg/mod/.keep"], "pkg/mod"),  # namespace packages, all the way
        (["pkg/mod.cpython-311-x86_64-linux-gnu.so"], "pkg/mod.cpython-311-x86_64-linux-gnu.so"),
        (["pkg.py"], None),  # a module, not a package: pkg.mod cannot be in it
        (["pkg/mod.txt"], None),
    ],
)
def test_a_module_is_found_as_the_import_system_would_find_it(
    tmp_path: Path, files: list[str], found: str | None
) -> None:
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    assert module_path("pkg.mod", tmp_path) == (tmp_path / found if found else None)
