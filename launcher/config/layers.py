"""Merging configuration layers while keeping the origin of every value.

Later layers win. Tables merge key by key; arrays and scalars replace whole, and so drop the
origins of what they replace.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from launcher.config.sources import Key
from launcher.core.diagnostics import DEFAULT_ORIGIN, Origin


@dataclass
class Layered:
    """A nested dict plus the origin of each key path in it."""

    data: dict[str, Any] = field(default_factory=dict)
    origins: dict[Key, Origin] = field(default_factory=dict)
    fallback: Origin = DEFAULT_ORIGIN

    def origin(self, key: Key) -> Origin:
        """The origin of `key`, or of its nearest ancestor that has one."""
        while key:
            found = self.origins.get(key)
            if found is not None:
                return found
            key = key[:-1]
        return self.fallback

    def table(self, key: Key) -> Mapping[str, Any]:
        """The table at `key` as it is (not a copy); empty where there is none. With
        `origin((*key, name))`, what `sub(key)` gives without re-rooting every origin (which
        walks all of them: too slow for each service's environment)."""
        data: Any = self.data
        for part in key:
            data = data.get(part, {}) if isinstance(data, Mapping) else {}
        return data if isinstance(data, Mapping) else {}

    def sub(self, key: Key) -> Layered:
        """The part of this layer under `key`, with origins re-rooted there."""
        n = len(key)
        origins = {k[n:]: o for k, o in self.origins.items() if k[:n] == key and len(k) > n}
        return Layered(dict(self.table(key)), origins, self.origin(key))

    def merge(self, other: Layered, at: Key = ()) -> None:
        """Lay `other` over this one; `at` is where `other`'s root sits in this one."""
        target = self.data
        for part in at:
            target = target.setdefault(part, {})
        self._merge(target, other.data, at, other, len(at))

    def _merge(
        self,
        target: dict[str, Any],
        overlay: Mapping[str, Any],
        path: Key,
        src: Layered,
        depth: int,
    ) -> None:
        for key, value in overlay.items():
            child = (*path, key)
            if isinstance(value, Mapping) and isinstance(target.get(key), dict):
                self._merge(target[key], value, child, src, depth)
                if child not in self.origins:
                    self.origins[child] = src.origin(child[depth:])
            else:
                for stale in [k for k in self.origins if k[: len(child)] == child]:
                    del self.origins[stale]
                target[key] = _copy(value)
                for k, o in src.origins.items():
                    if k[: len(child) - depth] == child[depth:] and len(k) > len(child) - depth:
                        self.origins[(*path[:depth], *k)] = o
                self.origins[child] = src.origin(child[depth:])


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
