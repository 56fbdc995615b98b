"""`launcher profiles`: each profile, its description and its services (launcher/cli/profiles.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import ProjectFactory

from launcher.cli.main import main
from launcher.cli.profiles import catalogue, render
from launcher.core.errors import ConfigError

CONFIG = """\
[launcher]
default_profile = "web"

[services.db]
command = "sleep 300"

[services.api]
command = "sleep 300"
depends_on = ["db"]

[services.worker]
command = "sleep 300"
depends_on = ["db"]

[services.docs]
command = "sleep 300"
enabled = false

[profiles.web]
description = "the API and what it needs"
select = ["api"]
"""

PROFILES = {
    "profiles/all.toml": 'description = "web, and the worker"\nextends = "web"\nselect = ["api", "worker"]\n',
    "profiles/bare.toml": "[services.docs]\nenabled = true\n",
}


@pytest.fixture
def root(project: ProjectFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    made = project(CONFIG, PROFILES)
    monkeypatch.chdir(made)
    monkeypatch.delenv("LAUNCHER_PROFILE", raising=False)
    return made


def test_each_profile_with_its_description_and_the_services_it_runs(root: Path) -> None:
    found = catalogue(None)
    assert found["profiles"] == [
        {
            "name": "all",
            "description": "web, and the worker",
            "default": False,
            "services": ["db", "api", "worker"],
        },
        # No select: every enabled service, the one it enables included.
        {"name": "bare", "description": None, "default": False, "services": ["db", "api", "worker", "docs"]},
        {
            "name": "web",
            "description": "the API and what it needs",
            "default": True,
            "services": ["db", "api"],
        },
    ]
    assert found["services"] == ["db", "api", "worker", "docs"]
    assert render(found).splitlines() == [
        "all            web, and the worker",
        "               services: db, api, worker",
        "bare           -",
        "               services: db, api, worker, docs",
        "web (default)  the API and what it needs",
        "               services: db, api",
    ]


def test_the_catalogue_is_cached_until_a_file_changes(root: Path) -> None:
    first = catalogue(None)
    assert list((root / ".launcher" / "cache").iterdir())
    assert catalogue(None) == first
    (root / "profiles" / "more.toml").write_text('description = "new"\n')
    assert [p["name"] for p in catalogue(None)["profiles"]] == ["all", "bare", "more", "web"]
    (root / "launcher.toml").write_text(CONFIG.replace('"the API and what it needs"', '"changed"'))
    assert catalogue(None)["profiles"][-1]["description"] == "changed"


def test_the_command_prints_the_table_the_names_or_json(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["profiles", "--names"]) == 0
    assert capsys.readouterr().out == "all\nbare\nweb\n"
    assert main(["profiles", "--json"]) == 0
    assert [p["name"] for p in json.loads(capsys.readouterr().out)] == ["all", "bare", "web"]
    assert main(["profiles"]) == 0
    assert "web (default)  the API and what it needs" in capsys.readouterr().out


def test_without_profiles_it_says_what_run_runs(
    project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project('[services.api]\ncommand = "x"\n'))
    assert render(catalogue(None)) == "no profiles: `launcher run` runs every enabled service (api)\n"


def test_an_invalid_configuration_is_its_error(
    project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project('[services.api]\ncommand = "x"\nrestart = "sometimes"\n'))
    with pytest.raises(ConfigError):
        catalogue(None)
