"""A service's environment (DESIGN.md 1, launcher/plan/environment.py), later wins: the
launcher's environment < the injected variables < env files < [env] < profile <
launcher.local.toml < the service's env_file < its env. Declared values beat injected ones,
the environment beats an env file, PORT and LAUNCHER_SERVICE cannot be declared, X_URL's
scheme follows the service, and `-e` replaces `[launcher] env_file`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
from helpers import ProjectFactory

from launcher.cli.main import main
from launcher.config.loader import load
from launcher.core.codes import Code
from launcher.core.diagnostics import Origin
from launcher.core.errors import ConfigError
from launcher.plan.compiler import build_plan
from launcher.plan.environment import INJECTED, explain, shadowed
from launcher.plan.spec import Plan
from launcher.runtime.environment import child_environment

HEAD = """
[launcher]
name = "st"
ports = [8400, 8410]
"""
REDIS = """
[services.redis]
command = "redis-server --port ${PORT}"
port = "auto"
probe = { redis = "127.0.0.1:${PORT}" }
"""
WEB = """
[services.web]
command = "web"
port = "auto"
"""


def line_of(path: Path, text: str) -> int:
    """The line of `path` that holds `text` (1 for the first)."""
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def planned(
    root: Path,
    environ: Mapping[str, str] | None = None,
    profile: str | None = None,
    env_files: list[str] | None = None,
) -> Plan:
    environ = dict(environ or {})
    loaded = load(root / "launcher.toml", profile=profile, environ=environ, env_files=env_files, cwd=root)
    return build_plan(loaded, environ=environ)


def test_the_injected_variables_and_the_schemes_of_x_url(project: ProjectFactory) -> None:
    plan = planned(
        project(
            HEAD
            + REDIS
            + WEB
            + """
            [services.db]
            command = "postgres -p ${PORT}"
            port = "auto"
            probe = { postgres = "postgresql://postgres@127.0.0.1:${PORT}/postgres" }
            [services.api-gw]
            command = "api"
            port = 8409
            probe = { http = "/health" }
            """
        )
    )
    redis, db = plan.spec("redis").port, plan.spec("db").port
    injected = {
        "LAUNCHER_STACK": "st",
        "PYTHONUNBUFFERED": "1",
        "REDIS_PORT": str(redis),
        "REDIS_URL": f"redis://127.0.0.1:{redis}",
        "DB_PORT": str(db),
        "DB_URL": f"postgresql://127.0.0.1:{db}",
        "WEB_PORT": str(plan.spec("web").port),
        "WEB_URL": plan.spec("web").url,
        "API_GW_PORT": "8409",
        "API_GW_URL": "http://127.0.0.1:8409",
    }
    assert plan.env == injected  # what `run -- CMD` gets over the launcher's environment
    assert plan.spec("web").env == {**injected, "LAUNCHER_SERVICE": "web", "PORT": injected["WEB_PORT"]}
    # The same in shared mode (a mode never changes an address).
    assert build_plan(load(Path(plan.config_path), environ={}), mode="shared").env == injected


def test_a_declared_value_beats_the_injected_one(project: ProjectFactory) -> None:
    root = project(
        HEAD
        + """
        [env]
        REDIS_URL = "${REDIS_URL}/0"
        """
        + REDIS
        + WEB
        + """
        env = { WEB_URL = "http://localhost:${PORT}" }
        """,
        files={".env": "LAUNCHER_STACK=from-dotenv\n"},
    )
    plan = planned(root)
    port, web = plan.spec("redis").port, plan.spec("web").port
    assert plan.env["REDIS_URL"] == plan.spec("web").env["REDIS_URL"] == f"redis://127.0.0.1:{port}/0"
    assert plan.env["LAUNCHER_STACK"] == "from-dotenv"
    assert plan.env["WEB_URL"] == f"http://127.0.0.1:{web}"
    assert plan.spec("web").env["WEB_URL"] == f"http://localhost:{web}"
    # `check` says so, at each line that shadows an injected variable with another value.
    warnings = shadowed(load(root / "launcher.toml", environ={}, cwd=root), plan, {})
    toml = root / "launcher.toml"
    assert [(w.code, w.severity, w.origin) for w in warnings] == [
        (Code.SHADOWED_VARIABLE, "warning", Origin(".env", 1)),
        (Code.SHADOWED_VARIABLE, "warning", Origin("launcher.toml", line_of(toml, "REDIS_URL ="))),
        (Code.SHADOWED_VARIABLE, "warning", Origin("launcher.toml", line_of(toml, "WEB_URL ="))),
    ]
    assert warnings[1].render().startswith("warning[LCH-1035]: REDIS_URL declared here shadows")


def test_no_warning_for_the_same_value_or_an_entry_the_environment_overrides(project: ProjectFactory) -> None:
    root = project(HEAD + WEB, files={".env": "PYTHONUNBUFFERED=1\nWEB_PORT=1\n"})
    environ = {"WEB_PORT": "2"}
    plan = planned(root, environ)
    assert shadowed(load(root / "launcher.toml", environ=environ), plan, environ) == []
    # The environment's WEB_PORT is beaten by the injected one; the .env's never applies.
    assert plan.env["WEB_PORT"] == str(plan.spec("web").port)


LAYERS = ["dotenv", "env", "profile", "local", "service_env_file", "service_env"]


def test_each_layer_beats_the_ones_below_it(project: ProjectFactory) -> None:
    """V0 is declared by the first layer only, V1 by the first two, ... V5 by all six: each
    value names the layer that won."""

    def lines(layer: int) -> str:
        return "\n".join(f'V{n} = "{LAYERS[layer]}"' for n in range(layer, 6))

    def file_lines(layer: int) -> str:
        return "\n".join(f"V{n}={LAYERS[layer]}" for n in range(layer, 6)) + "\n"

    root = project(
        HEAD + f"[env]\n{lines(1)}\n" + WEB + f'env_file = "web.env"\n[services.web.env]\n{lines(5)}\n',
        files={
            ".env": file_lines(0),
            "profiles/p.toml": f"[env]\n{lines(2)}\n",
            "launcher.local.toml": f"[env]\n{lines(3)}\n",
            "web.env": file_lines(4),
        },
    )
    env = planned(root, profile="p").spec("web").env
    assert {f"V{n}": env[f"V{n}"] for n in range(6)} == {f"V{n}": LAYERS[n] for n in range(6)}


def test_values_are_interpolated_against_the_layers_below_and_earlier_keys(project: ProjectFactory) -> None:
    root = project(
        HEAD
        + """
        [env]
        A = "main"
        EXTENDED = "${PATH}:/opt/bin"
        FIRST = "1"
        SECOND = "${FIRST}2"
        PER_SERVICE = "${PORT:-none}/${LAUNCHER_SERVICE:-none}"
        """
        + WEB
        + """
        env = { OWN = "${PORT}-${LAUNCHER_SERVICE}-${B}-${SECOND}" }
        """,
        files={
            "profiles/p.toml": '[env]\nB = "profile"\n',
            "launcher.local.toml": '[env]\nA = "${A}+local ${B}"\n',
        },
    )
    plan = planned(root, {"PATH": "/usr/bin", "A": "environment"}, profile="p")
    web = plan.spec("web")
    # The local file builds on the main file's A, and sees the profile's B: layers below it.
    assert plan.env["A"] == "main+local profile"
    assert plan.env["EXTENDED"] == "/usr/bin:/opt/bin"
    assert plan.env["SECOND"] == "12"
    assert plan.env["PER_SERVICE"] == "none/none"  # `run -- CMD` has no PORT
    assert web.env["PER_SERVICE"] == f"{web.port}/web"  # known before anything is interpolated
    assert web.env["OWN"] == f"{web.port}-web-profile-12"


def test_an_env_file_sees_only_its_earlier_lines_and_the_environment(project: ProjectFactory) -> None:
    root = project(
        HEAD + '[env]\nDECLARED = "x"\n' + WEB,
        files={".env": "A=[${WEB_PORT}][${DECLARED}][${FROM_ENV}]\nB=${A}\n"},
    )
    plan = planned(root, {"FROM_ENV": "e"})
    assert plan.env["A"] == plan.env["B"] == "[][][e]"


def test_the_environment_beats_an_env_file_and_the_tables_beat_the_environment(
    project: ProjectFactory,
) -> None:
    root = project(
        HEAD + '[env]\nTABLE = "declared"\nDEFAULTED = "${DEFAULTED:-default}"\n' + WEB,
        files={".env": "DATABASE_URL=postgresql://localhost/dev\nOTHER=kept\n"},
    )
    environ = {"DATABASE_URL": "postgresql://ci/test", "TABLE": "environment", "DEFAULTED": "env"}
    plan = planned(root, environ)
    assert "DATABASE_URL" not in plan.env
    assert plan.env["OTHER"] == "kept"
    # What the process gets: the runtime lays the plan's over the launcher's environment.
    seen = child_environment(environ, plan.spec("web").env)
    assert seen["DATABASE_URL"] == "postgresql://ci/test"
    assert seen["TABLE"] == "declared"
    assert seen["DEFAULTED"] == "env"


def test_run_cmd_gets_no_service_env_or_env_file(project: ProjectFactory) -> None:
    root = project(HEAD + WEB + 'env_file = "web.env"\nenv = { OWN = "1" }\n', files={"web.env": "FILE=1\n"})
    plan = planned(root)
    assert {"OWN", "FILE", "PORT", "LAUNCHER_SERVICE"} & set(plan.env) == set()
    assert {"OWN", "FILE", "PORT", "LAUNCHER_SERVICE"} <= set(plan.spec("web").env)


@pytest.mark.parametrize(
    ("config", "files", "where", "text"),
    [
        ('[env]\nPORT = "8000"\n', {}, "launcher.toml", "PORT ="),
        ('env = { LAUNCHER_SERVICE = "x" }\n', {}, "launcher.toml", "LAUNCHER_SERVICE ="),
        ("", {"profiles/p.toml": '[services.web.env]\nPORT = "1"\n'}, "profiles/p.toml", "PORT ="),
        ("", {"launcher.local.toml": '[env]\nLAUNCHER_SERVICE = "1"\n'}, "launcher.local.toml", "LAUNCHER"),
    ],
)
def test_port_and_launcher_service_cannot_be_declared(
    project: ProjectFactory, config: str, files: dict[str, str], where: str, text: str
) -> None:
    root = project(HEAD + WEB + config, files=files)
    with pytest.raises(ConfigError) as caught:
        planned(root, profile="p" if "profiles/p.toml" in files else None)
    [problem] = caught.value.diagnostics
    assert problem.code == Code.RESERVED_VARIABLE
    assert problem.origin == Origin(where, line_of(root / where, text))
    assert problem.hint


def test_port_in_an_env_file_is_ignored_with_a_warning(project: ProjectFactory) -> None:
    root = project(HEAD + WEB, files={".env": "PORT=1\nLAUNCHER_SERVICE=x\n"})
    loaded = load(root / "launcher.toml", environ={}, cwd=root)
    assert [(w.code, str(w.origin)) for w in loaded.env_files.warnings] == [
        (Code.RESERVED_VARIABLE, ".env:1"),
        (Code.RESERVED_VARIABLE, ".env:2"),
    ]
    web = build_plan(loaded, environ={}).spec("web")
    assert (web.env["PORT"], web.env["LAUNCHER_SERVICE"]) == (str(web.port), "web")


def test_a_problem_in_env_is_reported_once_however_many_services(project: ProjectFactory) -> None:
    root = project(HEAD + '[env]\nNEED = "${MISSING:?set it}"\n' + WEB + WEB.replace("web", "web2"))
    with pytest.raises(ConfigError) as caught:
        planned(root)
    assert [p.code for p in caught.value.diagnostics] == [Code.VARIABLE_NOT_SET]


def test_a_replaced_value_is_not_reported(project: ProjectFactory) -> None:
    root = project(
        HEAD + '[env]\nA = "${MISSING:?set it}"\n' + WEB, files={"launcher.local.toml": '[env]\nA = "ok"\n'}
    )
    assert planned(root).env["A"] == "ok"


def test_env_files_replace_the_configured_one_in_order(project: ProjectFactory) -> None:
    root = project(
        HEAD + WEB,
        files={".env": "DOTENV=1\n", "a.env": "A=1\nSHARED=a\n", "conf/b.env": "B=${A}2\nSHARED=b\n"},
    )
    env = planned(root, env_files=["a.env", "conf/b.env"]).env
    assert "DOTENV" not in env
    assert (env["A"], env["B"], env["SHARED"]) == ("1", "12", "b")
    with pytest.raises(ConfigError) as caught:
        planned(root, env_files=["a.env", "missing.env"])
    [problem] = caught.value.diagnostics
    assert (problem.code, problem.origin) == (Code.ENV_FILE, Origin("command line"))


def test_env_file_option_before_and_after_the_command(
    project: ProjectFactory, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(HEAD + WEB, files={".env": "WHICH=dotenv\n", "a.env": "WHICH=a\n", "b.env": "WHICH=b\n"})
    monkeypatch.chdir(root)
    monkeypatch.delenv("WHICH", raising=False)
    assert main(["-e", "a.env", "config", "--show-origin", "--env-file", "b.env"]) == 0
    out = capsys.readouterr().out
    assert 'b.env:1                      web: WHICH = "b"' in out
    assert "dotenv" not in out
    assert main(["check", "-e", "missing.env"]) == 2
    assert "error[LCH-1023]: env file missing.env does not exist" in capsys.readouterr().err


def test_check_prints_warnings_and_passes(
    project: ProjectFactory, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(HEAD + '[env]\nWEB_URL = "elsewhere"\n' + WEB, files={".env": "PORT=1\n"})
    monkeypatch.chdir(root)
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "warning[LCH-1034]: PORT in .env is ignored" in out
    assert "warning[LCH-1035]: WEB_URL declared here shadows" in out
    assert out.rstrip().endswith("configuration is valid")
    assert main(["check"]) == 0  # answered from the cache: the same output
    assert capsys.readouterr().out == out


def test_explain_says_where_each_value_comes_from(project: ProjectFactory) -> None:
    root = project(
        HEAD + '[env]\nTABLE = "t"\n' + WEB,
        files={".env": "FILE=f\nOVERRIDDEN=f\n"},
    )
    environ = {"OVERRIDDEN": "environment"}
    loaded = load(root / "launcher.toml", environ=environ, cwd=root)
    web = explain(loaded, build_plan(loaded, environ=environ), environ)["web"]
    assert web["TABLE"] == ("t", Origin("launcher.toml", line_of(root / "launcher.toml", "TABLE")))
    assert web["FILE"] == ("f", Origin(".env", 1))
    assert web["OVERRIDDEN"] == ("environment", Origin("the launcher's environment"))
    assert web["PORT"][1] == web["WEB_URL"][1] == INJECTED
