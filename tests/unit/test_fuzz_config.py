"""Property: for ANY input file, `launcher check` ends with exit 0, 1 (ports) or 2 and a
diagnostic, never a traceback. Random documents shaped like our configuration, random
mutations of real ones, and random layers on top (a profile file, launcher.local.toml,
LAUNCHER_* variables) with the profile chosen or not."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from launcher.cli.main import main

REPO = Path(__file__).parents[2]
CORPUS = sorted((Path(__file__).parents[1] / "corpus" / "bad").glob("*/launcher.toml"))
SEEDS = [REPO / "launcher.toml", *CORPUS[:20]]
KEYS = [
    "command",
    "app",
    "task",
    "external",
    "port",
    "depends_on",
    "probe",
    "env",
    "restart",
    "oneshot",
    "enabled",
    "replicas",
    "stop_signal",
    "cwd",
    "shell",
    "liveness",
    "backoff",
    "workers",
    "mount",
    "bogus",
]
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)

names = st.sampled_from(["a", "b", "c", "api", "db"])
scalars = st.one_of(
    st.booleans(),
    st.integers(-5, 70000),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["auto", "${X}", "${Y:?no}", "m:app", "SIGTERM", "/health", "$$"]),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from([*KEYS, "http", "tcp", "condition"]), inner, max_size=3)
    ),
    max_leaves=8,
)
services = st.dictionaries(names, st.dictionaries(st.sampled_from(KEYS), values, max_size=5), max_size=4)
documents = st.fixed_dictionaries(
    {"services": services},
    optional={
        "launcher": st.dictionaries(
            st.sampled_from(["name", "ports", "mode", "default_profile", "start_timeout", "zzz"]),
            values,
            max_size=3,
        ),
        "env": st.dictionaries(st.sampled_from(["A", "B_URL", "TOKEN"]), values, max_size=3),
        "profiles": st.dictionaries(
            names,
            st.dictionaries(st.sampled_from(["select", "extends", "services", "watch"]), values, max_size=2),
            max_size=2,
        ),
    },
)


def check(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["-f", str(path), "check"])
    out, err = capsys.readouterr()
    assert code in (0, 1, 2), (code, err)
    assert "Traceback" not in out + err
    if code:
        assert "error[LCH-" in err, err


@FUZZ
@given(document=documents)
def test_random_documents(
    document: dict[str, object], tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path_factory.mktemp("fuzz")
    (root / "launcher.toml").write_text(tomli_w.dumps(document))
    check(root / "launcher.toml", capsys)


@FUZZ
@given(seed=st.sampled_from(SEEDS), data=st.data())
def test_mutated_files(
    seed: Path,
    data: st.DataObject,
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lines = seed.read_text().splitlines()
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, max(0, len(lines) - 1)))
        action = data.draw(st.sampled_from(["delete", "duplicate", "insert", "truncate"]))
        if action == "delete" and lines:
            del lines[at]
        elif action == "duplicate" and lines:
            lines.insert(at, lines[at])
        elif action == "insert":
            lines.insert(at, data.draw(st.text(alphabet="abc_=[]{}\"'.,:$ 0123456789\\", max_size=30)))
        elif lines:
            lines[at] = lines[at][: data.draw(st.integers(0, len(lines[at])))]
    root = tmp_path_factory.mktemp("mutant")
    (root / "launcher.toml").write_text("\n".join(lines) + "\n")
    check(root / "launcher.toml", capsys)


layer_env = st.dictionaries(
    st.sampled_from(["LAUNCHER_MODE", "LAUNCHER_PORTS", "LAUNCHER_START_TIMEOUT", "LAUNCHER_PROFILE"]),
    st.one_of(
        st.sampled_from(["multi", "auto", "8000-8010", "10", "x", "-1", "p", "9-1", ""]),
        st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=6),
    ),
    max_size=3,
)
profile_file = st.fixed_dictionaries(
    {},
    optional={
        "extends": st.sampled_from(["p", "q", "nope"]),
        "select": st.lists(names, max_size=3),
        "watch": st.booleans(),
        "debug": names,
        "launcher": st.dictionaries(st.sampled_from(["mode", "ports", "start_timeout"]), values, max_size=2),
        "services": services,
    },
)


@FUZZ
@given(
    document=documents,
    profile=st.one_of(st.none(), profile_file),
    local=st.one_of(
        st.none(), st.fixed_dictionaries({}, optional={"services": services, "env": st.just({"A": "1"})})
    ),
    environ=layer_env,
    chosen=st.sampled_from([None, "p", "q"]),
)
def test_random_layers(
    document: dict[str, object],
    profile: dict[str, object] | None,
    local: dict[str, object] | None,
    environ: dict[str, str],
    chosen: str | None,
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = tmp_path_factory.mktemp("layers")
    document.pop("profiles", None)  # profiles come from their own file here
    (root / "launcher.toml").write_text(tomli_w.dumps(document))
    if profile is not None:
        (root / "profiles").mkdir()
        (root / "profiles" / "p.toml").write_text(tomli_w.dumps(profile))
    if local is not None:
        (root / "launcher.local.toml").write_text(tomli_w.dumps(local))
    saved = {key: os.environ.get(key) for key in environ}
    try:
        os.environ.update(environ)
        code = main(["-f", str(root / "launcher.toml"), "check", *([chosen] if chosen else [])])
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    out, err = capsys.readouterr()
    assert code in (0, 1, 2), (code, err)
    assert "Traceback" not in out + err
    if code:
        assert "error[LCH-" in err, err
    # A variable that is no range is named, with its code, beside the other problems (an unknown
    # profile stops the loading before the variables are read).
    if environ.get("LAUNCHER_PORTS") in ("x", "-1") and "LCH-1007" not in err:
        assert code == 2
        assert "error[LCH-1026]: LAUNCHER_PORTS=" in err, err


def test_environment_is_clean_of_launcher_variables() -> None:
    # The properties above assume no LAUNCHER_* variable steers the checks.
    assert not [n for n in os.environ if n.startswith("LAUNCHER_") and n != "LAUNCHER_TEST_SESSION"]
