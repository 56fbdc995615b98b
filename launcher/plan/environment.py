"""Each process's environment, and the interpolation of configuration values in it.

The stack's environment (.env, [env], LAUNCHER_STACK, X_PORT and X_URL) is what every service
and `run -- CMD` get; a service's adds its env files, its `env`, LAUNCHER_SERVICE and PORT.
Its command, cwd and probes are interpolated in the result. A value that cannot be
interpolated is a problem at the line of its key, and is kept as written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from launcher.config.interpolation import InterpolationError, interpolate, split_words
from launcher.config.loader import Loaded
from launcher.config.sources import Key
from launcher.core.codes import Code
from launcher.core.diagnostics import Diagnostic, Origin
from launcher.plan.spec import instance_name


def env_name(service: str) -> str:
    """`api-gateway` -> `API_GATEWAY` (the prefix of X_PORT and X_URL)."""
    return service.upper().replace("-", "_").replace(".", "_")


def stack_env(
    loaded: Loaded,
    ordered: list[str],
    ports: Mapping[str, int],
    urls: Mapping[str, str],
    environ: Mapping[str, str],
    problems: list[Diagnostic],
) -> dict[str, str]:
    """What every service and `run -- CMD` get: .env, [env], LAUNCHER_STACK, X_PORT, X_URL."""
    injected = {"LAUNCHER_STACK": loaded.stack_name}
    for name in ordered:
        first = instance_name(name, 1, loaded.config.services[name].replicas)
        port = ports.get(first)
        if port is not None:
            injected[f"{env_name(name)}_PORT"] = str(port)
            injected[f"{env_name(name)}_URL"] = urls[first]
    env = dict(loaded.dotenv)
    context = {**environ, **env, **injected}
    for key, value in loaded.config.env.items():
        env[key] = context[key] = _interpolated(
            _text(value), context, loaded.layered.origin(("env", key)), problems
        )
    env.update(injected)
    return env


def service_env(
    loaded: Loaded,
    name: str,
    instance: str,
    port: int | None,
    stack: Mapping[str, str],
    environ: Mapping[str, str],
    problems: list[Diagnostic],
) -> dict[str, str]:
    """The environment of `instance` (a process of service `name`) on top of the stack's."""
    env = {**stack, **loaded.service_env_files.get(name, {})}
    injected = {"LAUNCHER_SERVICE": instance}
    if port is not None:
        injected["PORT"] = str(port)
    context = {**environ, **env, **injected}
    for key, value in loaded.config.services[name].env.items():
        origin = loaded.layered.origin(("services", name, "env", key))
        env[key] = context[key] = _interpolated(_text(value), context, origin, problems)
    env.update(injected)
    if "PYTHONUNBUFFERED" not in context:
        env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass(frozen=True)
class Interpolation:
    """One service's values interpolated in its environment (`context`); `origin` gives the
    line of a key under `where` (its `("services", NAME)`), for the problems."""

    context: Mapping[str, str]
    origin: Callable[[Key], Origin]
    where: Key
    problems: list[Diagnostic]

    def expand(self, text: str, key: Key) -> str:
        return _interpolated(text, self.context, self.origin((*self.where, *key)), self.problems)

    def words(self, value: str | list[str], key: Key) -> tuple[str, ...]:
        """A command, given as one string or as a list of words, interpolated word by word."""
        words = self._split(value, key) if isinstance(value, str) else value
        return tuple(self.expand(word, key) for word in words)

    def _split(self, text: str, key: Key) -> list[str]:
        try:
            return split_words(text)
        except (ValueError, InterpolationError) as exc:
            self.problems.append(
                Diagnostic(
                    Code.UNSPLITTABLE_COMMAND,
                    f"cannot split {'.'.join(key)} into words: {exc}",
                    self.origin((*self.where, *key)),
                    "balance the quotes, or give the command as a list of words",
                )
            )
            return []


def _interpolated(text: str, context: Mapping[str, str], origin: Origin, problems: list[Diagnostic]) -> str:
    try:
        return interpolate(text, context)
    except InterpolationError as exc:
        code = Code.VARIABLE_NOT_SET if exc.variable else Code.MALFORMED_INTERPOLATION
        hint = (
            f"set {exc.variable} in the environment, .env or [env]"
            if exc.variable
            else "write ${NAME}, ${NAME:-default} or ${NAME:?message}; $$ for a literal $"
        )
        problems.append(Diagnostic(code, str(exc), origin, hint))
        return text


def _text(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
