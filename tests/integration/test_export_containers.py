"""`launcher export compose|kubernetes`: the output, validated with the real schemas.

The compose file against the Compose Specification's JSON Schema (tests/data/compose-spec.json,
and the current one check-jsonschema vendors), by `docker compose config` where it is
installed, the manifests with kubernetes-validate (strict: an unknown field is an error) on
three Kubernetes versions, then the mappings themselves: conditions, healthchecks, init
containers and the tools their images have, secrets, the project's image, shared volumes. The
pure details (names, quoting, probe mapping): tests/unit/test_export_container_details.py.
"""

from __future__ import annotations

import functools
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from helpers import ProjectFactory, cli, copy_demo, free_port_block

DATA = Path(__file__).parents[1] / "data"
BIN = Path(sys.executable).parent
# The oldest, a middle and the newest Kubernetes whose schemas kubernetes-validate ships.
_SHIPPED = sorted(set(kubernetes_validate.utils.all_versions()), key=lambda v: tuple(map(int, v.split("."))))
K8S_VERSIONS = tuple(dict.fromkeys((_SHIPPED[0], _SHIPPED[len(_SHIPPED) // 2], _SHIPPED[-1])))
PY = "/app/.venv/bin/python"
# What each image an init container runs in has (the project's image: what its Dockerfile
# installs), and which commands of an init container's script are tools rather than shell.
IMAGE_TOOLS = {
    "busybox:1.36": {"sh", "date", "sleep", "test", "wget", "nc", "grep"},
    "redis:7": {"sh", "date", "sleep", "test", "grep", "redis-cli"},
    "postgres:16": {"sh", "date", "sleep", "test", "grep", "pg_isready"},
    "registry.k8s.io/kubectl:v1.32.9": {"kubectl"},
    "shop:1": {"sh", "date", "sleep", "test", "grep", PY},
    "infinitescribe:latest": {"sh", "date", "sleep", "test", "grep", PY},
}
SECRET_VALUES = ("s3cret-token-value", "hunter2pass")

STACK = """
[launcher]
name = "shop"
ports = [{low}, {high}]
image = "shop:1"

[env]
LOG_LEVEL = "info"
API_TOKEN = "s3cret-token-value"
FLAG = "yes"

[services.migrate]
command = "python -m shop.migrate"
oneshot = true

[services.cache]
command = "redis-server --port ${{PORT}}"
port = "auto"
probe = {{ redis = "127.0.0.1:${{PORT}}" }}
image = "redis:7"

[services.api]
app = "shop.api:app"
port = "auto"
depends_on = ["migrate", "cache", "pg"]
probe = {{ http = "/health" }}
liveness = {{ tcp = "127.0.0.1:${{PORT}}", interval = 5 }}
restart = "always"
stop_signal = "SIGINT"
stop_timeout = 5

[services.api.env]
DATABASE_URL = "postgresql://shop:hunter2pass@127.0.0.1:5432/shop"
CACHE_URL = "redis://127.0.0.1:${{CACHE_PORT}}/0"

[services.web]
command = "python -m shop.web --port ${{PORT}}"
port = "auto"
probe = {{ cmd = "python -m shop.check" }}
depends_on = {{ api = "ready" }}

[services.worker]
task = "shop.worker:run"
depends_on = {{ api = "started", web = "ready" }}
probe = {{ log = "^ready$" }}
restart = "on-failure"

[services.pg]
external = true
probe = {{ postgres = "postgresql://shop:hunter2pass@127.0.0.1:5432/shop" }}
"""


@functools.cache
def compose_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((DATA / "compose-spec.json").read_text())
    # The vendored copy predates the top-level `name` (tests/data/README.md): as the
    # specification defines it now.
    schema["properties"].setdefault("name", {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]*$"})
    jsonschema.Draft201909Validator.check_schema(schema)
    return schema


def shop(project: ProjectFactory, **overrides: str) -> Path:
    low, high = free_port_block()
    return project(STACK.format(low=low, high=high), **overrides)


def export(root: Path, fmt: str, *args: str, out: str = "out") -> dict[str, str]:
    result = cli(root, "export", fmt, *args, "-o", out)
    assert result.returncode == 0, result.stderr
    directory = root / out
    return {p.name: p.read_text() for p in sorted(directory.iterdir())}


def compose(files: dict[str, str]) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(files["compose.yaml"])
    # Its `$schema` is spelled `http://.../draft/2019-09/schema#`, which jsonschema does not
    # recognise: the draft is named here.
    jsonschema.Draft201909Validator(compose_schema()).validate(document)
    return document


def manifests(files: dict[str, str], name: str) -> dict[tuple[str, str], dict[str, Any]]:
    documents = list(yaml.safe_load_all(files[name]))
    for document in documents:
        for version in K8S_VERSIONS:
            kubernetes_validate.validate(document, version, strict=True)
    for document in documents:
        for init in _pod(document).get("initContainers", []):
            assert_tools_of_its_image(init)
    return {(d["kind"], d["metadata"]["name"]): d for d in documents}


def _pod(document: dict[str, Any]) -> dict[str, Any]:
    template = document.get("spec", {}).get("template", {})
    return template.get("spec", {}) if isinstance(template, dict) else {}


def assert_tools_of_its_image(init: dict[str, Any]) -> None:
    """The init container's command runs only what its image has (IMAGE_TOOLS): the waiting
    loop's sh, date and sleep, and the check it retries."""
    tools = IMAGE_TOOLS[init["image"]]
    command = init["command"]
    if command[:2] != ["sh", "-c"]:
        assert command[0] in tools, (init["image"], command)
        return
    assert {"sh", "date", "sleep"} <= tools, init["image"]
    (check,) = re.findall(r"until (.+?) >/dev/null 2>&1; do", command[2].replace("$$", "$"))
    for tool in _tools(shlex.split(check)):
        assert tool in tools, (init["image"], tool, check)


def _tools(argv: list[str]) -> list[str]:
    """The commands an argv runs: itself, or each command of a `sh -c` pipeline."""
    if argv[:2] != ["sh", "-c"]:
        return argv[:1]
    found = ["sh"]
    for part in argv[2].split("|"):
        found += _tools([w for w in shlex.split(part) if not re.match(r"^\w+=", w)])
    return found


def assert_no_secret(files: dict[str, str]) -> None:
    for name, text in files.items():
        for value in SECRET_VALUES:
            assert value not in text, f"{value!r} written out in {name}"


def header_text(text: str) -> str:
    """The leading comment lines as one line, unwrapped."""
    lines = [line[1:].strip() for line in text.splitlines() if line.startswith("#")]
    return " ".join(lines)


def port_of(service: dict[str, Any]) -> int:
    return int(service["ports"][0].rsplit(":", 1)[1])


def test_compose_file_is_valid_and_maps_the_stack(project: ProjectFactory) -> None:
    files = export(shop(project), "compose")
    assert sorted(files) == ["Dockerfile", "Dockerfile.dockerignore", "compose.yaml", "secrets.env.example"]
    text = files["compose.yaml"]
    assert text.startswith("# Generated by launcher ")
    assert "profile default" in text.splitlines()[0]
    assert "pg: external, not exported" in text
    assert "#   docker compose -f compose.yaml up\n" in text
    document = compose(files)
    services = document["services"]
    assert document["name"] == "shop"
    assert list(services) == ["migrate", "cache", "api", "web", "worker"]
    api, cache, worker = services["api"], services["cache"], services["worker"]

    # Conditions: completed and ready kept, ready on a service without a healthcheck (or an
    # external one) as far as compose can tell.
    assert api["depends_on"] == {
        "migrate": {"condition": "service_completed_successfully"},
        "cache": {"condition": "service_healthy"},
    }
    assert worker["depends_on"] == {
        "api": {"condition": "service_started"},
        "web": {"condition": "service_healthy"},
    }
    cache_port, api_port = port_of(cache), port_of(api)
    assert cache["healthcheck"] == {
        "test": ["CMD", "sh", "-c", f"redis-cli -u redis://127.0.0.1:{cache_port} ping | grep -q PONG"],
        "interval": "1s",
        "timeout": "1s",
        "retries": 3,
        "start_period": "60s",
    }
    assert api["healthcheck"]["test"][:3] == ["CMD", PY, "-c"]
    assert api["healthcheck"]["test"][4:] == [f"http://127.0.0.1:{api_port}/health", "1", "200"]
    assert services["web"]["healthcheck"]["test"] == ["CMD", PY, "-m", "shop.check"]
    # The project's interpreter (/app/.venv in its image), first on PATH; not in redis:7.
    assert api["command"][0] == PY
    assert services["migrate"]["command"] == [PY, "-m", "shop.migrate"]
    assert api["environment"]["PATH"].startswith("/app/.venv/bin:")
    assert cache["command"][0] == "redis-server"
    assert "PATH" not in cache["environment"]
    assert "healthcheck" not in worker  # a log probe
    assert api["ports"] == [f"127.0.0.1:{api_port}:{api_port}"]

    restarts = [services[name]["restart"] for name in ("migrate", "api", "worker")]
    assert restarts == ["no", "always", "on-failure"]
    assert "restart: 'no'" in text  # not YAML's false
    assert (api["stop_signal"], api["stop_grace_period"]) == ("SIGINT", "5s")
    assert api["image"] == "shop:1"
    assert cache["image"] == "redis:7"
    assert api["command"][api["command"].index("--host") + 1] == "0.0.0.0"
    assert api["environment"]["CACHE_URL"] == f"redis://cache:{cache_port}/0"
    assert all(isinstance(v, str) for s in services.values() for v in s["environment"].values())
    assert api["environment"]["FLAG"] == "yes"

    # Secrets: named in the example file, read through env_file, never written.
    assert api["env_file"] == ["secrets.env"]
    assert "API_TOKEN" not in api["environment"]
    assert "DATABASE_URL" not in api["environment"]
    assert re.findall(r"^(\w+)=$", files["secrets.env.example"], re.M) == ["API_TOKEN", "DATABASE_URL"]
    assert "copy secrets.env.example to secrets.env" in header_text(text)
    assert_no_secret(files)


def test_kubernetes_manifests_are_valid_and_map_the_stack(project: ProjectFactory) -> None:
    files = export(shop(project), "kubernetes")
    assert sorted(files) == ["Dockerfile", "Dockerfile.dockerignore", "secrets.env.example", "shop.yaml"]
    text = files["shop.yaml"]
    assert text.startswith("# Generated by launcher ")
    assert "kubectl create secret generic shop-secrets --from-env-file=secrets.env" in header_text(text)
    assert "left for you to fill" in header_text(text)
    assert "#   kubectl apply -f shop.yaml\n" in text
    objects = manifests(files, "shop.yaml")
    assert list(objects) == [
        ("ServiceAccount", "shop-job-reader"),
        ("Role", "shop-job-reader"),
        ("RoleBinding", "shop-job-reader"),
        ("Job", "migrate"),
        ("Deployment", "cache"),
        ("Service", "cache"),
        ("Deployment", "api"),
        ("Service", "api"),
        ("Deployment", "web"),
        ("Service", "web"),
        ("Deployment", "worker"),
    ]
    job = objects["Job", "migrate"]["spec"]
    assert job["backoffLimit"] == 2
    assert job["template"]["spec"]["restartPolicy"] == "Never"

    pod = objects["Deployment", "api"]["spec"]["template"]["spec"]
    (api,) = pod["containers"]
    port = api["ports"][0]["containerPort"]
    assert api["readinessProbe"]["httpGet"] == {"path": "/health", "port": port, "scheme": "HTTP"}
    assert api["livenessProbe"]["tcpSocket"] == {"port": port}
    assert api["livenessProbe"]["periodSeconds"] == 5
    assert api["lifecycle"]["preStop"]["exec"]["command"] == ["sh", "-c", "kill -s INT 1"]
    assert pod["terminationGracePeriodSeconds"] == 5
    assert api["resources"] == {"requests": {}, "limits": {}}
    env = {e["name"]: e for e in api["env"]}
    assert env["API_TOKEN"]["valueFrom"] == {"secretKeyRef": {"name": "shop-secrets", "key": "API_TOKEN"}}
    assert "value" not in env["DATABASE_URL"]
    cache_port = objects["Service", "cache"]["spec"]["ports"][0]["port"]
    assert env["CACHE_URL"]["value"] == f"redis://cache:{cache_port}/0"

    # Dependencies: the Job waited for by kubectl (allowed to), the cache by its own probe
    # aimed at its Service, in its image.
    assert pod["serviceAccountName"] == "shop-job-reader"
    waits = {c["name"]: c for c in pod["initContainers"]}
    assert list(waits) == ["wait-for-migrate", "wait-for-cache"]
    job_wait = waits["wait-for-migrate"]["command"]
    assert job_wait[:4] == ["kubectl", "wait", "--for=condition=complete", "job/migrate"]
    assert waits["wait-for-cache"]["image"] == "redis:7"
    assert f"redis-cli -u redis://cache:{cache_port} ping" in waits["wait-for-cache"]["command"][2]

    web = objects["Deployment", "web"]["spec"]["template"]["spec"]["containers"][0]
    assert web["readinessProbe"]["exec"]["command"] == [PY, "-m", "shop.check"]

    worker = objects["Deployment", "worker"]["spec"]["template"]["spec"]
    assert "serviceAccountName" not in worker
    waits = {c["name"]: c for c in worker["initContainers"]}
    assert list(waits) == ["wait-for-api", "wait-for-web"]
    assert waits["wait-for-api"]["image"] == "busybox:1.36"
    assert f"until wget -q -O /dev/null -T 1 http://api:{port}/health " in waits["wait-for-api"]["command"][2]
    # web's probe is a command, which runs where it is given: from elsewhere, its port is checked.
    web_port = objects["Service", "web"]["spec"]["ports"][0]["port"]
    assert f"until nc -z -w 1 web {web_port} " in waits["wait-for-web"]["command"][2]
    assert_no_secret(files)


@pytest.mark.parametrize("fmt", ["compose", "kubernetes"])
def test_export_is_deterministic(project: ProjectFactory, fmt: str) -> None:
    root = shop(project)
    assert export(root, fmt, out="one") == export(root, fmt, out="two")


@pytest.mark.parametrize("fmt", ["compose", "kubernetes"])
def test_a_service_without_an_image_is_lch_1033(project: ProjectFactory, fmt: str) -> None:
    root = project(
        """
        [launcher]
        name = "bare"

        [services.cache]
        image = "redis:7"
        command = "redis-server"

        [services.api]
        command = "python -m api"
        """
    )
    result = cli(root, "export", fmt, "-o", "out")
    assert result.returncode == 2
    assert "error[LCH-1033]: service 'api' has no image" in result.stderr
    line = (root / "launcher.toml").read_text().splitlines().index("[services.api]") + 1
    assert f"launcher.toml:{line}" in result.stderr
    assert not (root / "out").exists()


@pytest.mark.parametrize("fmt", ["compose", "kubernetes"])
def test_the_demo_stack_exports_as_the_multi_process_plan(tmp_path: Path, fmt: str) -> None:
    root = copy_demo(tmp_path / "demo")
    config = root / "launcher.toml"
    if "\nimage = " not in config.read_text():
        config.write_text(config.read_text().replace("[launcher]\n", '[launcher]\nimage = "demo:1"\n', 1))
    files = export(root, fmt, "infra")
    header = next(iter(files.values()))
    assert "profile infra" in header.splitlines()[0]
    assert "exported as the multi-process plan" in header
    assert "postgres: external, not exported" in header
    if fmt == "compose":
        assert "postgres" not in compose(files)["services"]
    else:
        objects = manifests(files, "infinitescribe.yaml")
        assert {("Deployment", "api-gateway"), ("Job", "migrate")} <= set(objects)


REPLICAS = """
[launcher]
name = "farm"
ports = [{low}, {high}]
image = "farm:1"

[services.web]
command = "python -m farm.web --port ${{PORT}}"
port = "auto"
replicas = 2
probe = {{ tcp = "127.0.0.1:${{PORT}}" }}

[services.client]
command = "python -m farm.client"
depends_on = ["web"]
"""


def farm(project: ProjectFactory) -> Path:
    low, high = free_port_block()
    return project(REPLICAS.format(low=low, high=high))


def test_replicas_are_compose_services_of_their_own_and_one_deployment(project: ProjectFactory) -> None:
    root = farm(project)
    services = compose(export(root, "compose"))["services"]
    assert list(services) == ["web.1", "web.2", "client"]
    assert services["client"]["depends_on"] == {
        "web.1": {"condition": "service_healthy"},
        "web.2": {"condition": "service_healthy"},
    }
    objects = manifests(export(root, "kubernetes"), "farm.yaml")
    assert objects["Deployment", "web"]["spec"]["replicas"] == 2
    client = objects["Deployment", "client"]["spec"]["template"]["spec"]
    assert [c["name"] for c in client.get("initContainers", [])] in (["wait-for-web"], [])


def test_every_replica_keeps_its_own_port(project: ProjectFactory) -> None:
    root = farm(project)
    services = compose(export(root, "compose"))["services"]
    assert port_of(services["web.1"]) != port_of(services["web.2"])
    objects = manifests(export(root, "kubernetes"), "farm.yaml")
    assert len(objects["Service", "web"]["spec"]["ports"]) == 2  # what each replica was given
    client = objects["Deployment", "client"]["spec"]["template"]["spec"]
    assert [c["name"] for c in client["initContainers"]] == ["wait-for-web"]


def _compose_cli() -> list[str] | None:
    """docker compose v2 (the plugin, or its standalone binary), when installed."""
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True, timeout=30).returncode == 0
    ):
        return [docker, "compose"]
    standalone = shutil.which("docker-compose")
    return [standalone] if standalone else None


@pytest.mark.parametrize("profile", ["full", "infra"])
def test_the_demo_compose_file_passes_the_current_compose_specification(tmp_path: Path, profile: str) -> None:
    checker = BIN / "check-jsonschema"
    if not checker.exists() and shutil.which("check-jsonschema") is None:
        pytest.skip("check-jsonschema is not installed (the dev extra has it)")
    root = copy_demo(tmp_path / "demo")
    export(root, "compose", profile)
    command = str(checker) if checker.exists() else "check-jsonschema"
    done = subprocess.run(
        [command, "--builtin-schema", "vendor.compose-spec", str(root / "out" / "compose.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_docker_compose_reads_the_demo_compose_file(tmp_path: Path) -> None:
    compose_cli = _compose_cli()
    if compose_cli is None:
        pytest.skip("docker compose v2 is not installed (neither the docker plugin nor docker-compose)")
    root = copy_demo(tmp_path / "demo")
    export(root, "compose", "full")
    out = root / "out"
    done = subprocess.run(
        [*compose_cli, "-f", str(out / "compose.yaml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=out,
    )
    assert done.returncode == 0, done.stderr


def test_the_demo_deploys_with_its_image_and_a_shared_database(tmp_path: Path) -> None:
    # From the repository itself: the project (launcher, with the demo's dependencies on top)
    # is what the image installs.
    out = tmp_path / "out"
    done = cli(
        tmp_path, "-f", str(DATA.parents[1] / "launcher.toml"), "export", "compose", "full", "-o", str(out)
    )
    assert done.returncode == 0, done.stderr
    dockerfile = (out / "Dockerfile").read_text()
    body = [line for line in dockerfile.splitlines() if not line.startswith("#")]
    assert body[:4] == [
        "FROM python:3.11-slim",
        "WORKDIR /app",
        "COPY . /app",
        "RUN python -m venv /app/.venv \\",
    ]
    assert f"{PY} -m pip install --no-cache-dir -r examples/requirements.txt" in dockerfile
    assert f"{PY} -m pip install --no-cache-dir /app" in dockerfile
    assert "launcher==" not in dockerfile  # the project is launcher: installed with it
    assert ".venv" in (out / "Dockerfile.dockerignore").read_text().splitlines()
    services = compose({p.name: p.read_text() for p in out.iterdir()})["services"]
    # migrate writes the SQLite database that the gateway reads: both on one volume.
    for name in ("migrate", "api_gateway"):
        assert "shared-launcher:/app/.launcher" in services[name]["volumes"], name
        assert services[name]["environment"]["DEMO_DB"] == "../.launcher/demo.sqlite3"
        assert services[name]["working_dir"] == "/app/examples"
    objects = manifests(export(copy_demo(tmp_path / "demo"), "kubernetes", "full"), "infinitescribe.yaml")
    assert ("PersistentVolumeClaim", "infinitescribe-shared-launcher") in objects
    for kind, name in (("Job", "migrate"), ("Deployment", "api-gateway")):
        pod = objects[kind, name]["spec"]["template"]["spec"]
        assert pod["volumes"] == [
            {
                "name": "shared-launcher",
                "persistentVolumeClaim": {"claimName": "infinitescribe-shared-launcher"},
            }
        ]
        assert pod["containers"][0]["volumeMounts"] == [
            {"name": "shared-launcher", "mountPath": "/app/.launcher"}
        ]


SECRET_STACK = """
[launcher]
name = "vault"
ports = [{low}, {high}]
image = "vault:1"

[services.cache]
command = "redis-server --port ${{PORT}} --requirepass ${{REDIS_PASSWORD}}"
port = "auto"
probe = {{ redis = "redis://:${{REDIS_PASSWORD}}@127.0.0.1:${{PORT}}" }}
image = "redis:7"

[services.agent]
command = "python -m vault.agent --password ${{REDIS_PASSWORD}}"
depends_on = {{ cache = "ready" }}
"""


def test_a_secret_reaches_each_container_from_the_engines_own_mechanism(project: ProjectFactory) -> None:
    low, high = free_port_block()
    root = project(SECRET_STACK.format(low=low, high=high))
    files = export(root, "compose")
    services = compose(files)["services"]
    cache, agent = services["cache"], services["agent"]
    # The container's sh expands it from the environment its env_file gave it.
    assert cache["env_file"] == ["secrets.env"]
    assert cache["command"][:2] == ["sh", "-c"]
    assert cache["command"][2].endswith('--requirepass "$${REDIS_PASSWORD}"')
    assert agent["command"][2] == f'exec {PY} -m vault.agent --password "$${{REDIS_PASSWORD}}"'
    assert 'REDISCLI_AUTH="$${REDIS_PASSWORD}" redis-cli' in cache["healthcheck"]["test"][3]
    assert agent["depends_on"] == {"cache": {"condition": "service_healthy"}}
    assert re.findall(r"^(\w+)=$", files["secrets.env.example"], re.M) == ["REDIS_PASSWORD"]

    objects = manifests(export(root, "kubernetes", out="k8s"), "vault.yaml")
    pod = objects["Deployment", "cache"]["spec"]["template"]["spec"]
    assert pod["containers"][0]["args"][-1] == "$(REDIS_PASSWORD)"
    agent_pod = objects["Deployment", "agent"]["spec"]["template"]["spec"]
    (wait,) = agent_pod["initContainers"]
    assert wait["image"] == "redis:7"
    assert wait["env"] == [
        {
            "name": "REDIS_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": "vault-secrets", "key": "REDIS_PASSWORD"}},
        }
    ]
    assert 'REDISCLI_AUTH="$${REDIS_PASSWORD}" redis-cli -u redis://cache:' in wait["command"][2]
