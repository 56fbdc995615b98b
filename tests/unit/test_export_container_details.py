"""The pure details of the container exports (names, quoting, probe mapping): no project, no
command line. The output as a whole, validated: tests/integration/test_export_containers.py."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from launcher.exports import compose as compose_export
from launcher.exports import containers, kubernetes
from launcher.exports.deployment import Unit
from launcher.plan.spec import DependencySpec, ProbeSpec, ProcessSpec


def spec(name: str = "api", **fields: object) -> ProcessSpec:
    base = ProcessSpec(
        name=name, service=name.split(".")[0], kind="command", argv=("run",), cwd=Path("/p"), env={}
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def unit(process: ProcessSpec, **fields: object) -> Unit:
    base = Unit(spec=process, argv=process.argv, cwd="/app", env={}, secrets=(), depends_on=(), level=0)
    return replace(base, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "label"),
    [("api_gateway", "api-gateway"), ("Web.2", "web-2"), ("_x_", "x"), ("a" * 70, "a" * 63)],
)
def test_kubernetes_names_are_dns_labels(name: str, label: str) -> None:
    assert kubernetes.dns_label(name) == label


def test_replicas_share_the_kubernetes_host_name_and_keep_their_compose_one() -> None:
    second = spec("web.2", service="web", replica=2)
    assert kubernetes.host_name(second) == "web"
    assert compose_export.host_name(second) == "web.2"
    with pytest.raises(ValueError, match="compose service name"):
        compose_export.host_name(spec("bad name"))


def test_compose_project_name_is_lowercase() -> None:
    assert compose_export.project_name("My Shop") == "my-shop"
    assert compose_export.project_name("__") == "stack"


def test_strings_yaml_would_misread_stay_strings() -> None:
    text = containers.dump_yaml(
        {"restart": "no", "env": {"A": "1", "B": "yes", "C": "on"}, "ports": ["80:80"]}
    )
    assert "restart: 'no'" in text
    assert yaml.safe_load(text) == {
        "restart": "no",
        "env": {"A": "1", "B": "yes", "C": "on"},
        "ports": ["80:80"],
    }


def test_a_shared_dict_is_written_twice_not_aliased() -> None:
    labels = {"a": "b"}
    assert "&" not in containers.dump_yaml({"one": labels, "two": labels})


def test_restart_policies() -> None:
    assert compose_export.restart(spec(restart="always")) == "always"
    assert compose_export.restart(spec(restart="on-failure")) == "on-failure"
    assert compose_export.restart(spec(restart="no")) == "no"
    assert compose_export.restart(spec(oneshot=True, restart="on-failure")) == "no"


def test_dollars_are_literal_but_secret_references_are_expanded_by_the_engine() -> None:
    api = unit(spec(), argv=("run", "--token=${API_TOKEN}", "$HOME"), secrets=("API_TOKEN",))
    # compose: the container's sh expands it from the env_file's environment, where it runs.
    assert compose_export.compose_argv(api) == ["sh", "-c", "exec run --token=\"$${API_TOKEN}\" '$$HOME'"]
    assert kubernetes.k8s_argv(api) == ["run", "--token=$(API_TOKEN)", "$$HOME"]
    plain = unit(spec(), argv=("run", "$HOME"))
    assert compose_export.compose_argv(plain) == ["run", "$$HOME"]
    # A shell command expands them itself, from the environment.
    shell = unit(spec(), argv=("/bin/sh", "-c", "run ${API_TOKEN}"), secrets=("API_TOKEN",))
    assert compose_export.compose_argv(shell) == ["/bin/sh", "-c", "run $${API_TOKEN}"]
    assert kubernetes.k8s_argv(shell) == ["/bin/sh", "-c", "run $${API_TOKEN}"]


def test_compose_conditions_need_a_healthcheck_for_ready() -> None:
    ready = DependencySpec("cache", "ready")
    assert compose_export.condition(ready, {"cache"}) == "service_healthy"
    assert compose_export.condition(ready, set()) == "service_started"
    assert (
        compose_export.condition(DependencySpec("m", "completed"), set()) == "service_completed_successfully"
    )
    assert compose_export.condition(DependencySpec("m", "started"), {"m"}) == "service_started"


def test_compose_healthcheck_timing() -> None:
    probe = ProbeSpec("tcp", "127.0.0.1:8000", interval=0.5, timeout=2, failure_threshold=4)
    check = compose_export.healthcheck(unit(spec(start_timeout=30), probe=probe))
    assert check is not None
    assert check["test"][:3] == ["CMD", "python", "-c"]
    assert check["test"][4:] == ["127.0.0.1", "8000", "2"]
    assert (check["interval"], check["timeout"], check["retries"], check["start_period"]) == (
        "0.5s",
        "2s",
        4,
        "30s",
    )
    assert compose_export.healthcheck(unit(spec(), probe=ProbeSpec("log", "^ready$"))) is None


def test_kubernetes_probe_mapping() -> None:
    http = ProbeSpec("http", "http://127.0.0.1:8000/health?deep=1", interval=0.2, timeout=1.5)
    mapped = kubernetes.probe_handler(http, 8000)
    assert mapped == {
        "httpGet": {"path": "/health?deep=1", "port": 8000, "scheme": "HTTP"},
        "periodSeconds": 1,
        "timeoutSeconds": 2,
        "failureThreshold": 3,
    }
    # Elsewhere than its own port, or another status than 200: the check command.
    for other in (replace(http, target="http://10.0.0.1:8000/health"), replace(http, expect=204)):
        assert "exec" in (kubernetes.probe_handler(other, 8000) or {})
    assert kubernetes.probe_handler(ProbeSpec("tcp", "127.0.0.1:8000"), 8000) == {
        "tcpSocket": {"port": 8000},
        "periodSeconds": 1,
        "timeoutSeconds": 1,
        "failureThreshold": 3,
    }
    redis = kubernetes.probe_handler(ProbeSpec("redis", "127.0.0.1:6379"), 6379) or {}
    assert redis["exec"]["command"][:2] == ["sh", "-c"]
    cmd = kubernetes.probe_handler(ProbeSpec("cmd", "check", argv=("check", "$X")), None) or {}
    assert cmd["exec"]["command"] == ["check", "$$X"]
    assert kubernetes.probe_handler(ProbeSpec("log", "^ready$"), None) is None


def test_every_port_of_the_replicas_reaches_the_pods() -> None:
    assert kubernetes.service_ports([8001, 8000], 8000) == [
        {"name": "port-8001", "port": 8001, "targetPort": 8000, "protocol": "TCP"},
        {"name": "port-8000", "port": 8000, "targetPort": 8000, "protocol": "TCP"},
    ]


def test_secrets_are_references_in_the_kubernetes_env() -> None:
    api = unit(spec(), env={"A": "x$y"}, secrets=("API_TOKEN",))
    assert kubernetes.env_list(api, "shop-secrets") == [
        {"name": "A", "value": "x$$y"},
        {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "shop-secrets", "key": "API_TOKEN"}}},
    ]
