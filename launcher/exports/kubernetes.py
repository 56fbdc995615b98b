"""`launcher export kubernetes`: the stack as one multi-document manifest, `STACK.yaml`.

A long-running service is a Deployment (its replicas one Deployment with `replicas: N`) and,
when it has a port, a ClusterIP Service of the same name, which is its host name for the
others; a oneshot is a Job. Names are DNS-1123 labels (`api_gateway` is `api-gateway`). The
readiness and liveness probes map to `httpGet` / `tcpSocket` when they aim at the container's
own port, to an `exec` of the probe's check command otherwise (probecommands.py).

Kubernetes starts everything at once: dependencies become init containers that wait for what
the service needs. One on a service runs the service's probe aimed at its Service until it
passes, with a tool its image has: a redis or postgres probe in the server's own image (which
ships redis-cli, pg_isready), an http probe with busybox's wget, anything else as a connection
to its port with busybox's nc. One on a oneshot (`completed`) runs `kubectl wait` for its Job,
under a ServiceAccount allowed to read jobs, written once when a workload needs it. Secrets are
never written: each is a `secretKeyRef` to the Secret `STACK-secrets`, which the operator
creates (the header says how; `secrets.env.example` beside lists their names), an init
container's too when its check needs one (a password). A directory of a database file that
several services name is a PersistentVolumeClaim they all mount (sharedfiles.py). Resources
are left empty, for the user to fill.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

from launcher.exports.containers import (
    SECRETS_EXAMPLE,
    SECRETS_FILE,
    dump_yaml,
    escape_dollars,
    secrets_example,
)
from launcher.exports.deployment import Deployment, ExportFile, Unit
from launcher.exports.dockerfile import DOCKERFILE, uses_project_image
from launcher.exports.probecommands import LOOPBACK, check_argv, wait_script
from launcher.exports.secretrefs import expanded, references
from launcher.exports.sharedfiles import SharedDirectory, shared_directories
from launcher.plan.spec import ProbeSpec, ProcessSpec

# What an init container waits with, when the dependency's own image is not the one to use:
# Kubernetes' own kubectl image (nothing but kubectl: the command is kubectl itself) for a Job,
# busybox (sh, wget, nc) for an HTTP or TCP check. Pinned: the same manifest, the same tools.
KUBECTL_IMAGE = "registry.k8s.io/kubectl:v1.32.9"
WAIT_IMAGE = "busybox:1.36"
# The protocol probes whose client the server's own image ships: waited for in that image.
_CLIENT_IN_IMAGE = {"redis": "redis-cli", "postgres": "pg_isready"}
_NOT_LABEL = re.compile(r"[^a-z0-9-]+")
_SIGTERM = "SIGTERM"


def dns_label(name: str) -> str:
    """`name` as a DNS-1123 label: lowercase letters, digits and `-`, at most 63 characters."""
    label = _NOT_LABEL.sub("-", name.lower())[:63].strip("-")
    return label or "x"


def host_name(spec: ProcessSpec) -> str:
    """The Service's name: every replica of a service is behind the same one."""
    return dns_label(spec.service)


def render(deployment: Deployment) -> list[ExportFile]:
    stack = dns_label(deployment.stack)
    workloads = _workloads(deployment)
    needs_kubectl = any(_waits_for_job(deployment, unit) for unit, _ in workloads)
    documents: list[dict[str, Any]] = list(_job_reader(stack)) if needs_kubectl else []
    shared = shared_directories(deployment)
    documents.extend(_claim(stack, volume) for volume in shared)
    for unit, instances in workloads:
        documents.extend(_documents(deployment, stack, unit, instances, needs_kubectl, shared))
    header = deployment.header(extra=tuple(_notes(deployment, stack, workloads)))
    files = [ExportFile(f"{stack}.yaml", header + dump_yaml(*documents))]
    if deployment.secrets:
        files.append(ExportFile(SECRETS_EXAMPLE, secrets_example(deployment)))
    return files


def _workloads(deployment: Deployment) -> list[tuple[Unit, list[Unit]]]:
    """Each service once, as its first instance, with all its instances (replicas)."""
    grouped: dict[str, list[Unit]] = {}
    for unit in deployment.units:
        grouped.setdefault(unit.spec.service, []).append(unit)
    return [(instances[0], instances) for instances in grouped.values()]


def _documents(
    deployment: Deployment,
    stack: str,
    unit: Unit,
    instances: list[Unit],
    kubectl: bool,
    shared: tuple[SharedDirectory, ...],
) -> Iterator[dict[str, Any]]:
    name = host_name(unit.spec)
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": stack}
    pod = pod_spec(deployment, stack, unit, kubectl and _waits_for_job(deployment, unit))
    volumes = [v for v in shared if unit.name in v.units]
    if volumes:
        pod["volumes"] = [
            {"name": v.name, "persistentVolumeClaim": {"claimName": f"{stack}-{v.name}"}} for v in volumes
        ]
        pod["containers"][0]["volumeMounts"] = [{"name": v.name, "mountPath": v.path} for v in volumes]
    metadata = {"name": name, "labels": labels}
    template = {"metadata": {"labels": labels}, "spec": pod}
    if unit.spec.oneshot:
        job_spec = {"backoffLimit": unit.spec.start_retries, "template": template}
        yield {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": job_spec}
        return
    yield {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata,
        "spec": {"replicas": len(instances), "selector": {"matchLabels": labels}, "template": template},
    }
    ports = sorted({u.spec.port for u in instances if u.spec.port is not None})
    if unit.spec.port is not None:
        yield {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": metadata,
            "spec": {"type": "ClusterIP", "selector": labels, "ports": service_ports(ports, unit.spec.port)},
        }


def service_ports(ports: list[int], target: int) -> list[dict[str, Any]]:
    """Every port launcher gave an instance, all to the one the pods listen on: what another
    service was told (`WEB_2_PORT`) still reaches a replica."""
    return [{"name": f"port-{port}", "port": port, "targetPort": target, "protocol": "TCP"} for port in ports]


def pod_spec(deployment: Deployment, stack: str, unit: Unit, reads_jobs: bool) -> dict[str, Any]:
    spec = unit.spec
    pod: dict[str, Any] = {}
    if spec.oneshot:
        pod["restartPolicy"] = "Never" if spec.restart == "no" else "OnFailure"
    if reads_jobs:
        pod["serviceAccountName"] = f"{stack}-job-reader"
    pod["terminationGracePeriodSeconds"] = max(0, math.ceil(spec.stop_timeout))
    waits = list(init_containers(deployment, stack, unit))
    if waits:
        pod["initContainers"] = waits
    pod["containers"] = [container(deployment, stack, unit)]
    return pod


def container(deployment: Deployment, stack: str, unit: Unit) -> dict[str, Any]:
    spec = unit.spec
    argv = k8s_argv(unit)
    out: dict[str, Any] = {"name": host_name(spec), "image": spec.image, "command": argv[:1]}
    if argv[1:]:
        out["args"] = argv[1:]
    out["workingDir"] = unit.cwd
    env = env_list(unit, f"{stack}-secrets")
    if env:
        out["env"] = env
    if spec.port is not None:
        out["ports"] = [{"containerPort": spec.port, "protocol": "TCP"}]
    python = deployment.target.python
    for key, probe in (("readinessProbe", unit.probe), ("livenessProbe", unit.liveness)):
        mapped = probe_handler(probe, spec.port, python) if probe is not None else None
        if mapped is not None:
            out[key] = mapped
    if spec.stop_signal != _SIGTERM:
        # Kubernetes always stops with SIGTERM: the process gets its own signal first.
        signal = spec.stop_signal.removeprefix("SIG")
        out["lifecycle"] = {"preStop": {"exec": {"command": ["sh", "-c", f"kill -s {signal} 1"]}}}
    out["resources"] = {"requests": {}, "limits": {}}
    return out


def k8s_argv(unit: Unit) -> list[str]:
    """The argv with Kubernetes' `$(VAR)` expansion escaped, except for the secrets the core
    left in it as `${NAME}`: those become `$(NAME)`, which Kubernetes fills in from the env
    (its Secret). In a `shell = true` command they stay for that shell to expand."""
    argv = [escape_dollars(word) for word in unit.argv]
    for name in expanded(unit.argv, unit.secrets):
        argv = [word.replace(f"$${{{name}}}", f"$({name})") for word in argv]
    return argv


def env_list(unit: Unit, secret: str) -> list[dict[str, Any]]:
    public = [{"name": key, "value": escape_dollars(value)} for key, value in unit.env.items()]
    return public + [_secret_ref(key, secret) for key in unit.secrets]


def _secret_ref(key: str, secret: str) -> dict[str, Any]:
    return {"name": key, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def _claim(stack: str, volume: SharedDirectory) -> dict[str, Any]:
    """The volume a directory shared between pods is on (ReadWriteOnce: its pods on one node)."""
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": f"{stack}-{volume.name}", "labels": {"app.kubernetes.io/part-of": stack}},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }


def probe_handler(probe: ProbeSpec, port: int | None, python: str = "python") -> dict[str, Any] | None:
    """A probe as a Kubernetes probe: `httpGet`/`tcpSocket` on the container's own port,
    else `exec` of its check command (run in the container, so loopback stays right)."""
    handler = _network_handler(probe, port)
    if handler is None:
        argv = check_argv(probe, python=python)
        if argv is None:
            return None
        handler = {"exec": {"command": [escape_dollars(word) for word in argv]}}
    return {
        **handler,
        "periodSeconds": max(1, math.ceil(probe.interval)),
        "timeoutSeconds": max(1, math.ceil(probe.timeout)),
        "failureThreshold": max(1, probe.failure_threshold),
    }


def _network_handler(probe: ProbeSpec, port: int | None) -> dict[str, Any] | None:
    if port is None:
        return None
    if probe.kind == "http":
        url = urlsplit(probe.target)
        # httpGet takes 200-399 as ready: only an expected 200 means the same as launcher's.
        if url.hostname in LOOPBACK and url.port == port and probe.expect == 200:
            path = (url.path or "/") + (f"?{url.query}" if url.query else "")
            return {"httpGet": {"path": path, "port": port, "scheme": url.scheme.upper()}}
    if probe.kind == "tcp":
        host, _, target = probe.target.rpartition(":")
        if host in LOOPBACK and target == str(port):
            return {"tcpSocket": {"port": port}}
    return None


def init_containers(deployment: Deployment, stack: str, unit: Unit) -> Iterator[dict[str, Any]]:
    """One init container per service this one depends on (its replicas waited for as one)."""
    seen: set[str] = set()
    for dependency in unit.depends_on:
        target = deployment.unit(dependency.name)
        name = host_name(target.spec)
        if name in seen:
            continue
        seen.add(name)
        if target.spec.oneshot:
            if dependency.condition == "completed":
                yield _job_wait(name, target)
            continue
        wait = remote_wait(deployment, target)
        if wait is not None:
            image, check = wait
            script = wait_script(check, name, target.spec.start_timeout)
            out: dict[str, Any] = {
                "name": f"wait-for-{name}"[:63],
                "image": image,
                "command": ["sh", "-c", escape_dollars(script)],
            }
            # A check that refers to secrets (a password) reads them from the stack's Secret.
            needed = [n for n in references(check) if n in target.secrets]
            if needed:
                out["env"] = [_secret_ref(n, f"{stack}-secrets") for n in needed]
            yield out


def remote_wait(deployment: Deployment, target: Unit) -> tuple[str, tuple[str, ...]] | None:
    """The image and the command that check `target`'s readiness from another pod: its probe
    aimed at its Service, with a tool that image has (a protocol probe in the server's own
    image, which ships its client; anything else in busybox: wget for `http`, nc for a port)."""
    probe = deployment.remote_probe(target)
    if probe is not None and probe.kind in _CLIENT_IN_IMAGE and target.spec.image:
        check = check_argv(probe)
        if check is not None:
            return target.spec.image, check
    if probe is not None and probe.kind == "http" and 200 <= probe.expect < 400:
        timeout = str(max(1, math.ceil(probe.timeout)))
        return WAIT_IMAGE, ("wget", "-q", "-O", "/dev/null", "-T", timeout, probe.target)
    address = _address(probe) if probe is not None and probe.kind in ("tcp", "http") else None
    if address is None and target.spec.port is not None:
        address = host_name(target.spec), str(target.spec.port)
    if address is None:
        return None
    return WAIT_IMAGE, ("nc", "-z", "-w", "1", *address)


def _address(probe: ProbeSpec) -> tuple[str, str] | None:
    """The host and port a `tcp` or `http` probe connects to."""
    if probe.kind == "tcp":
        host, _, port = probe.target.rpartition(":")
        return (host or "127.0.0.1", port)
    url = urlsplit(probe.target)
    if url.hostname is None:
        return None
    return url.hostname, str(url.port or (443 if url.scheme == "https" else 80))


def _job_wait(name: str, job: Unit) -> dict[str, Any]:
    timeout = max(1, math.ceil(job.spec.start_timeout * (job.spec.start_retries + 1)))
    return {
        "name": f"wait-for-{name}"[:63],
        "image": KUBECTL_IMAGE,
        "command": ["kubectl", "wait", "--for=condition=complete", f"job/{name}", f"--timeout={timeout}s"],
    }


def _waits_for_job(deployment: Deployment, unit: Unit) -> bool:
    return any(d.condition == "completed" and deployment.unit(d.name).spec.oneshot for d in unit.depends_on)


def _job_reader(stack: str) -> Iterator[dict[str, Any]]:
    """What lets an init container `kubectl wait` for a Job: read jobs in the namespace."""
    name = f"{stack}-job-reader"
    labels = {"app.kubernetes.io/part-of": stack}
    yield {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "labels": labels}}
    yield {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": name, "labels": labels},
        "rules": [{"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["get", "list", "watch"]}],
    }
    yield {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": name, "labels": labels},
        "subjects": [{"kind": "ServiceAccount", "name": name}],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
    }


def _notes(deployment: Deployment, stack: str, workloads: list[tuple[Unit, list[Unit]]]) -> Iterable[str]:
    yield "Resources (requests, limits) are left for you to fill. Apply with:"
    yield f"  kubectl apply -f {stack}.yaml"
    if deployment.secrets:
        yield (
            f"Secrets ({', '.join(deployment.secrets)}) come from the Secret {stack}-secrets: copy "
            f"{SECRETS_EXAMPLE} to {SECRETS_FILE}, fill it in, then create it with:"
        )
        # A line of its own, so that the command is not wrapped.
        yield f"  kubectl create secret generic {stack}-secrets --from-env-file={SECRETS_FILE}"
    if any(_waits_for_job(deployment, unit) for unit, _ in workloads):
        yield (
            f"Init containers wait for Jobs with kubectl ({KUBECTL_IMAGE}; any image with kubectl will do), "
            f"as the ServiceAccount {stack}-job-reader, which may read the namespace's jobs."
        )
    if any(not deployment.unit(d.name).spec.oneshot for unit, _ in workloads for d in unit.depends_on):
        yield (
            "Init containers wait for a service with a tool of their image: redis-cli or pg_isready in "
            f"the server's own image, wget or nc in {WAIT_IMAGE} for the others."
        )
    if uses_project_image(deployment):
        yield (
            f"The workloads that run from {deployment.target.image} need that image in a registry the "
            f"cluster pulls from: build it with the {DOCKERFILE} beside this file (its header says how)."
        )
    for volume in shared_directories(deployment):
        yield (
            f"{', '.join(host_name(deployment.unit(u).spec) for u in volume.units)}: share {volume.path} "
            f"(a database file) on the PersistentVolumeClaim {stack}-{volume.name}, ReadWriteOnce: their "
            "pods must run on one node (a ReadWriteMany storage class lifts that)."
        )
    kept = [host_name(u.spec) for u, _ in workloads if not u.spec.oneshot and u.spec.restart == "no"]
    if kept:
        yield f"{', '.join(kept)}: restart = no, but a Deployment always restarts its containers."
    for unit, instances in workloads:
        yield from _unit_notes(deployment, unit, instances)


def _unit_notes(deployment: Deployment, unit: Unit, instances: list[Unit]) -> Iterator[str]:
    spec, name = unit.spec, host_name(unit.spec)
    if len(instances) > 1:
        yield f"{name}: its {len(instances)} replicas are one Deployment, every pod on port {spec.port}."
    if spec.stop_signal != _SIGTERM:
        yield f"{name}: {spec.stop_signal} is sent by a preStop hook, before Kubernetes' SIGTERM."
    if spec.oneshot and spec.success_codes != (0,):
        yield f"{name}: a Job succeeds on exit 0 only (success_codes = {list(spec.success_codes)} here)."
    for dependency in unit.depends_on:
        target = deployment.unit(dependency.name)
        if target.spec.oneshot and dependency.condition != "completed":
            yield f"{name}: does not wait for {host_name(target.spec)}, a Job ({dependency.condition})."
        elif not target.spec.oneshot and remote_wait(deployment, target) is None:
            yield f"{name}: starts without waiting for {host_name(target.spec)} (nothing to check it by)."
