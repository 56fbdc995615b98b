"""Each process's environment, and the interpolation of configuration values in it.

A service's environment, later wins (DESIGN.md 1):

1. the launcher's own environment (laid under the plan's by the runtime:
   launcher/runtime/environment.py);
2. the injected variables: LAUNCHER_STACK, PYTHONUNBUFFERED=1, and X_PORT and X_URL of every
   service X of the stack that has a port; PORT (its own) and LAUNCHER_SERVICE, which cannot
   be declared and so are known before anything is interpolated;
3. what the project declares: the env files (`[launcher] env_file`, or `-e`) < [env] (of the
   main file < the profile < launcher.local.toml) < the service's env_file < its `env`.

So a declared value is never overwritten by an injected one. An env-file entry that the
launcher's environment also sets is left out: the environment's value shows through, as with
python-dotenv and compose. Each TOML value is interpolated once, against the layers below it
and the earlier keys of its own table; an env file's `${}` sees only its earlier lines and the
launcher's environment (launcher/config/envfile.py). `run -- CMD` gets the stack's part: the
injected variables without PORT and LAUNCHER_SERVICE, the env files and [env].

A service's command, cwd and probes are interpolated in the result. A value that cannot be
interpolated is a problem at the line of its key, and is kept as written.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from launcher.config.envfile import Entry, expanded
from launcher.config.interpolation import InterpolationError, interpolate, split_words
from launcher.config.layers import Layered
from launcher.config.loader import Loaded
from launcher.config.model import Service
from launcher.config.sources import Key
from launcher.core.codes import Code
from launcher.core.diagnostics import Diagnostic, Origin
from launcher.core.masking import mask_value
from launcher.plan.spec import Plan, instance_name

INJECTED = Origin("injected by the launcher")
ENVIRONMENT = Origin("the launcher's environment")
# X_URL's scheme follows what the service is, as its probe says; http otherwise.
_SCHEMES = {"redis": "redis", "postgres": "postgresql"}


def env_name(service: str) -> str:
    """`api-gateway` -> `API_GATEWAY` (the prefix of X_PORT and X_URL)."""
    return service.upper().replace("-", "_").replace(".", "_")


def injected_env(
    loaded: Loaded, ordered: list[str], ports: Mapping[str, int], urls: Mapping[str, str]
) -> dict[str, str]:
    """LAUNCHER_STACK, PYTHONUNBUFFERED=1, and X_PORT and X_URL of each service of `ordered`
    that has a port (a replicated one's first instance's)."""
    injected = {"LAUNCHER_STACK": loaded.stack_name, "PYTHONUNBUFFERED": "1"}
    for name in ordered:
        service = loaded.config.services[name]
        first = instance_name(name, 1, service.replicas)
        port = ports.get(first)
        if port is not None:
            injected[f"{env_name(name)}_PORT"] = str(port)
            injected[f"{env_name(name)}_URL"] = service_url(service, urls[first])
    return injected


def service_url(service: Service, url: str) -> str:
    """`redis://127.0.0.1:P` for a redis probe, `postgresql://` for a postgres one, else `url`."""
    scheme = _SCHEMES.get(service.probe.kind) if service.probe is not None else None
    return f"{scheme}://{url.partition('://')[2]}" if scheme else url


def stack_env(
    loaded: Loaded, injected: Mapping[str, str], environ: Mapping[str, str], problems: list[Diagnostic]
) -> dict[str, str]:
    """What `run -- CMD` gets over the launcher's environment: `injected`, the env files, [env]."""
    return _stack_layers(loaded, injected, environ, problems).values


def service_env(
    loaded: Loaded,
    name: str,
    instance: str,
    port: int | None,
    injected: Mapping[str, str],
    environ: Mapping[str, str],
    problems: list[Diagnostic],
) -> dict[str, str]:
    """What `instance` (a process of service `name`) gets over the launcher's environment."""
    return _service_layers(loaded, name, instance, port, injected, environ, problems).values


@dataclass
class _Layers:
    """An environment being built, lowest layer first: what the plan gives over the launcher's
    environment (`environ`), and where each value comes from."""

    environ: dict[str, str]
    problems: list[Diagnostic]
    values: dict[str, str] = field(default_factory=dict)
    # Also the env-file entries that the launcher's environment overrides (ENVIRONMENT).
    origins: dict[str, Origin] = field(default_factory=dict)

    def inject(self, values: Mapping[str, str]) -> None:
        self.values.update(values)
        self.origins.update(dict.fromkeys(values, INJECTED))

    def env_files(self, entries: list[Entry]) -> None:
        if not entries:
            return  # the common case: no python-dotenv to import, no copy of the environment
        applied, overridden = expanded(entries, self.environ)
        for entry in overridden:
            if entry.key not in self.values:
                self.origins[entry.key] = ENVIRONMENT
        for entry in applied:
            self.values[entry.key] = entry.value
            self.origins[entry.key] = entry.origin

    def tables(self, layers: list[Layered], key: Key) -> None:
        """The table at `key` of each layer, lowest first. A value that a later layer replaces
        is interpolated too (that one may refer to it), but its problems are not reported."""
        tables = [layer.table(key) for layer in layers]
        winner = {name: i for i, table in enumerate(tables) for name in table}
        context = ChainMap(self.values, self.environ)
        for i, table in enumerate(tables):
            for name, raw in table.items():
                if not isinstance(raw, str | int | float | bool):
                    continue  # invalid, and replaced: validation has the final value's problems
                origin = layers[i].origin((*key, name))
                problems = self.problems if winner[name] == i else []
                self.values[name] = _interpolated(_text(raw), context, (*key, name), origin, problems)
                self.origins[name] = origin


def _stack_layers(
    loaded: Loaded,
    injected: Mapping[str, str],
    environ: Mapping[str, str],
    problems: list[Diagnostic],
    own: Mapping[str, str] | None = None,
) -> _Layers:
    layers = _Layers(environ if isinstance(environ, dict) else dict(environ), problems)
    layers.inject({**injected, **(own or {})})
    layers.env_files(loaded.env_files.stack)
    layers.tables(loaded.env_layers, ("env",))
    return layers


def _service_layers(
    loaded: Loaded,
    name: str,
    instance: str,
    port: int | None,
    injected: Mapping[str, str],
    environ: Mapping[str, str],
    problems: list[Diagnostic],
) -> _Layers:
    own = {"LAUNCHER_SERVICE": instance, **({"PORT": str(port)} if port is not None else {})}
    layers = _stack_layers(loaded, injected, environ, problems, own)
    layers.env_files(loaded.env_files.services.get(name, []))
    layers.tables(loaded.env_layers, ("services", name, "env"))
    return layers


def explain(
    loaded: Loaded, plan: Plan, environ: Mapping[str, str]
) -> dict[str, dict[str, tuple[str, Origin]]]:
    """Each process of `plan` (by name): every variable the plan gives it, and each one of its
    env files that the launcher's environment overrides, with its value and where that comes
    from (`config --show-origin`)."""
    injected = _injected_of(loaded, plan)
    environ = dict(environ)  # once, not for each process
    out = {}
    for spec in plan.specs:
        if spec.service in loaded.config.services:
            layers = _service_layers(loaded, spec.service, spec.name, spec.port, injected, environ, [])
            out[spec.name] = {
                key: (layers.values.get(key, environ.get(key, "")), origin)
                for key, origin in sorted(layers.origins.items())
            }
    return out


def shadowed(loaded: Loaded, plan: Plan, environ: Mapping[str, str]) -> list[Diagnostic]:
    """Warnings (for `check`): each declared variable that hides an injected one from the
    stack's processes or from `run -- CMD` with another value."""
    injected = _injected_of(loaded, plan)
    if _declared(loaded, plan).isdisjoint(injected):
        return []  # nothing declared has an injected name: no environment to build
    environ = dict(environ)  # once, not for each process
    built = [_stack_layers(loaded, injected, environ, [])]
    for spec in plan.specs:
        if spec.service in loaded.config.services:
            built.append(_service_layers(loaded, spec.service, spec.name, spec.port, injected, environ, []))
    found = {
        (key, layers.origins[key])
        for layers in built
        for key in injected
        if layers.origins[key] not in (INJECTED, ENVIRONMENT) and layers.values[key] != injected[key]
    }
    return [
        Diagnostic(
            Code.SHADOWED_VARIABLE,
            f"{key} declared here shadows the {key} that the launcher injects "
            f"({mask_value(key, injected[key])}): the declared value is what services get",
            origin,
            f"rename it to keep both; remove it to get the injected value; or build on that "
            f'value: {key} = "${{{key}}}..."',
            severity="warning",
        )
        for key, origin in sorted(found)
    ]


def _declared(loaded: Loaded, plan: Plan) -> set[str]:
    """Every name that the env files and the `env` tables of `plan`'s services declare."""
    files = loaded.env_files
    names = {entry.key for entry in files.stack}
    names.update(entry.key for entries in files.services.values() for entry in entries)
    keys = [("env",), *(("services", service, "env") for service in {s.service for s in plan.specs})]
    for layer in loaded.env_layers:
        for key in keys:
            names.update(layer.table(key))
    return names


def _injected_of(loaded: Loaded, plan: Plan) -> dict[str, str]:
    """The variables `plan` was compiled with (`injected_env`), read back from its specs."""
    services = loaded.config.services
    ordered = list(dict.fromkeys(spec.service for spec in plan.specs if spec.service in services))
    ports = {spec.name: spec.port for spec in plan.specs if spec.port is not None}
    urls = {spec.name: spec.url for spec in plan.specs if spec.url is not None}
    return injected_env(loaded, ordered, ports, urls)


@dataclass(frozen=True)
class Interpolation:
    """One service's values interpolated in its environment (`context`); `origin` gives the
    line of a key under `where` (its `("services", NAME)`), for the problems."""

    context: Mapping[str, str]
    origin: Callable[[Key], Origin]
    where: Key
    problems: list[Diagnostic]

    def expand(self, text: str, key: Key) -> str:
        where = (*self.where, *key)
        return _interpolated(text, self.context, where, self.origin(where), self.problems)

    def words(self, value: str | list[str], key: Key) -> tuple[str, ...]:
        """A command, given as one string or as a list of words, interpolated word by word."""
        words = self._split(value, key) if isinstance(value, str) else value
        return tuple(self.expand(word, key) for word in words)

    def _split(self, text: str, key: Key) -> list[str]:
        where = (*self.where, *key)
        try:
            return split_words(text)
        except InterpolationError as exc:
            _report(exc, where, self.origin(where), self.problems)
        except ValueError as exc:
            self.problems.append(
                Diagnostic(
                    Code.UNSPLITTABLE_COMMAND,
                    f"{'.'.join(where)}: cannot split into words: {exc}",
                    self.origin(where),
                    "balance the quotes, or give the command as a list of words",
                )
            )
        return []


def _interpolated(
    text: str, context: Mapping[str, str], where: Key, origin: Origin, problems: list[Diagnostic]
) -> str:
    """`text`, the value of key `where`, interpolated; on a problem, as it is."""
    try:
        return interpolate(text, context)
    except InterpolationError as exc:
        _report(exc, where, origin, problems)
        return text


def _report(exc: InterpolationError, where: Key, origin: Origin, problems: list[Diagnostic]) -> None:
    """The problem of key `where`, once however many processes share the value (each service's
    environment repeats [env])."""
    if exc.variable == "PORT" and where[0] == "services":
        return  # the service has no port: LCH-1036 (config/checks.py) says so
    code = Code.VARIABLE_NOT_SET if exc.variable else Code.MALFORMED_INTERPOLATION
    problem = Diagnostic(code, f"{'.'.join(where)}: {exc}", origin, exc.hint)
    if problem not in problems:
        problems.append(problem)


def _text(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
