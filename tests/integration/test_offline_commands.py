"""The offline commands on real files: config, graph, compile (run by real honcho), schema, init."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import jsonschema
import pytest
from helpers import ProjectFactory, wait_until

from launcher.cli.main import main

REPO = Path(__file__).parents[2]
pytestmark = pytest.mark.integration


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


SECRETS = """
[launcher]
name = "s"
[env]
API_TOKEN = "t0ps3cret"
DATABASE_URL = "postgresql://app:hunter2@127.0.0.1:5432/app"
[services.web]
command = "python -m http.server ${PORT}"
port = 8123
"""


def test_config_masks_secrets_in_every_format(
    project: ProjectFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(SECRETS)
    for extra in ([], ["--json"], ["--show-origin"]):
        code, out, _ = run_cli(capsys, "-f", str(root / "launcher.toml"), "config", *extra)
        assert code == 0
        assert "t0ps3cret" not in out
        assert "hunter2" not in out
        assert "******" in out


def test_config_show_origin_names_the_file_and_line_of_each_layer(
    project: ProjectFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(
        """
        [launcher]
        name = "o"
        [services.web]
        command = "serve"
        port = 8123
        """,
        files={
            "profiles/dev.toml": "[services.web]\nport = 8124\n",
            "launcher.local.toml": "[env]\nX = '1'\n",
        },
    )
    code, out, _ = run_cli(capsys, "-f", str(root / "launcher.toml"), "config", "dev", "--show-origin")
    assert code == 0
    assert re.search(r"profiles/dev\.toml:2 +services\.web\.port = 8124", out)
    assert re.search(r"launcher\.toml:5 +services\.web\.command = \"serve\"", out)
    assert re.search(r"launcher\.local\.toml:2 +env\.X = \"1\"", out)


def test_graph_formats(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "-f", str(REPO / "launcher.toml"), "graph", "full", "--format", "mermaid")
    assert code == 0
    assert out.startswith("flowchart TD\n")
    assert "n_migrate -->|completed| n_api_gateway" in out
    code, out, _ = run_cli(capsys, "-f", str(REPO / "launcher.toml"), "graph", "full", "--format", "dot")
    assert '"api_gateway" -> "writer_agent" [label="ready"];' in out
    code, out, _ = run_cli(capsys, "-f", str(REPO / "launcher.toml"), "graph", "full")
    assert "level 0:\n  migrate (oneshot)" in out


@pytest.mark.parametrize("profile", ["minimal", "full", "debug", "infra", "ci"])
def test_procfile_d_is_fresh(profile: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Compiled in a copy of the project, as `launcher compile PROFILE` writes it at the root.
    for name in ("launcher.toml", "profiles"):
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name)
        else:
            shutil.copy(source, tmp_path / name)
    code, _, _ = run_cli(capsys, "-f", str(tmp_path / "launcher.toml"), "compile", profile)
    assert code == 0
    for suffix in ("Procfile", "env"):
        fresh = (tmp_path / "Procfile.d" / f"{profile}.{suffix}").read_text()
        kept = (REPO / "Procfile.d" / f"{profile}.{suffix}").read_text()
        assert fresh == kept, f"Procfile.d/ is stale: run `launcher compile {profile}`"
    assert (tmp_path / "Procfile.d" / f"{profile}.env").stat().st_mode & 0o777 == 0o600


def test_compile_elsewhere_names_that_directory_in_the_header(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert run_cli(capsys, "-f", str(REPO / "launcher.toml"), "compile", "full", "-o", str(out))[0] == 0
    assert f"honcho -f {out}/full.Procfile -e {out}/full.env start" in (out / "full.Procfile").read_text()


def test_compile_leaves_secrets_out_of_the_env_file(
    project: ProjectFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(SECRETS)
    assert run_cli(capsys, "-f", str(root / "launcher.toml"), "compile")[0] == 0
    env = (root / "Procfile.d" / "default.env").read_text()
    assert "t0ps3cret" not in env
    assert "# API_TOKEN is secret: supply it from the environment" in env


def test_honcho_runs_the_compiled_procfile(
    project: ProjectFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    say = (
        "import os, time; "
        "e = os.environ; "
        "print('hello', e['LAUNCHER_SERVICE'], e['PORT'], e['GREETING'], flush=True); "
        "time.sleep(60)"
    )
    root = project(
        f"""
        [launcher]
        ports = [18300, 18310]
        [env]
        GREETING = "hi there"
        [services.prep]
        command = ["python", "-c", "open('prepared', 'w').write('yes')"]
        oneshot = true
        [services.one]
        command = ["python", "-c", "{say}"]
        port = "auto"
        depends_on = ["prep"]
        [services.two]
        command = ["python", "-c", "{say}"]
        port = "auto"
        """
    )
    assert run_cli(capsys, "-f", str(root / "launcher.toml"), "compile")[0] == 0
    honcho = Path(sys.executable).parent / "honcho"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    log = root / "honcho.out"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(honcho),
                "--no-colour",
                "-f",
                "Procfile.d/default.Procfile",
                "-e",
                "Procfile.d/default.env",
                "start",
            ],
            cwd=root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until(lambda: log.read_text().count("hello") == 2, 20, message=lambda: log.read_text())
        text = log.read_text()
        # Ports go in dependency order: `two` needs nothing, so it comes before `one`.
        assert "hello two 18300 hi there" in text
        assert "hello one 18301 hi there" in text
        assert (root / "prepared").read_text() == "yes"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_schema_validates_the_repositorys_own_files(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_cli(capsys, "schema")
    config_schema = json.loads(out)
    _, out, _ = run_cli(capsys, "schema", "--profile")
    profile_schema = json.loads(out)
    jsonschema.validate(tomllib.loads((REPO / "launcher.toml").read_text()), config_schema)
    for path in (REPO / "profiles").glob("*.toml"):
        jsonschema.validate(tomllib.loads(path.read_text()), profile_schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"services": {"x": {"comand": "typo"}}}, config_schema)


def test_init_scaffold_and_from_procfile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run_cli(capsys, "init")[0] == 0
    assert run_cli(capsys, "check")[0] == 0
    code, _, err = run_cli(capsys, "init")
    assert code == 2
    assert "LCH-1030" in err
    (tmp_path / "Procfile").write_text("web: python -m http.server $PORT\nworker: python work.py\n")
    assert run_cli(capsys, "init", "--from", "Procfile", "--force")[0] == 0
    data = tomllib.loads((tmp_path / "launcher.toml").read_text())
    assert data["services"]["web"] == {
        "command": "python -m http.server $PORT",
        "shell": True,
        "port": "auto",
    }
    assert data["services"]["worker"] == {"command": "python work.py", "shell": True}


def test_init_from_a_procfile_writes_what_running_the_procfile_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Heroku's `release` becomes a oneshot that every other process depends on; `web` gets an
    automatic port, $PORT in its command or not; the merged configuration is the Procfile's."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "Procfile").write_text(
        "release: python manage.py migrate\n"
        "web: gunicorn app.wsgi --bind 127.0.0.1:8000\n"
        "worker: celery -A app worker --loglevel info\n"
    )
    code, from_procfile, _ = run_cli(capsys, "config", "--json")
    assert code == 0
    assert run_cli(capsys, "init", "--from", "Procfile")[0] == 0
    text = (tmp_path / "launcher.toml").read_text()
    assert 'depends_on = ["release"]' in text  # written to be read: arrays inline
    assert tomllib.loads(text)["services"] == {
        "release": {"command": "python manage.py migrate", "shell": True, "oneshot": True},
        "web": {
            "command": "gunicorn app.wsgi --bind 127.0.0.1:8000",
            "shell": True,
            "port": "auto",
            "depends_on": ["release"],
        },
        "worker": {
            "command": "celery -A app worker --loglevel info",
            "shell": True,
            "depends_on": ["release"],
        },
    }
    code, from_toml, _ = run_cli(capsys, "config", "--json")  # launcher.toml, found first now
    assert code == 0
    assert json.loads(from_toml)["services"] == json.loads(from_procfile)["services"]
    code, out, _ = run_cli(capsys, "graph")
    assert code == 0
    assert "release (oneshot)" in out
    assert "<- release [completed]" in out


def test_recommend_explains_the_choice(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    code, out, _ = run_cli(capsys, "-f", str(REPO / "launcher.toml"), "recommend")
    assert code == 0
    assert out.startswith("mode multi: running in CI (CI is set)")
