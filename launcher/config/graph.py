"""The dependency graph: order, cycles, closures. Pure functions over name -> names maps."""

from __future__ import annotations

import graphlib
from collections.abc import Iterable, Mapping

Edges = Mapping[str, Iterable[str]]


def find_cycle(edges: Edges) -> list[str] | None:
    """A dependency cycle as a path that ends where it starts (`a -> b -> a`), or None."""
    sorter = graphlib.TopologicalSorter({n: [d for d in deps if d in edges] for n, deps in edges.items()})
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        # graphlib reports the cycle against the edge direction (dependency first): turn it
        # into "depends on" order so that it reads `api -> worker -> api`.
        cycle: list[str] = list(reversed(exc.args[1]))
        return cycle
    return None


def order(edges: Edges) -> list[str]:
    """Every node after all of its dependencies; ties keep the order of `edges` (acyclic only)."""
    position = {name: i for i, name in enumerate(edges)}
    sorter = graphlib.TopologicalSorter({n: [d for d in deps if d in edges] for n, deps in edges.items()})
    sorter.prepare()
    result: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=position.__getitem__)
        result.extend(ready)
        sorter.done(*ready)
    return result


def closure(roots: Iterable[str], edges: Edges) -> set[str]:
    """`roots` and everything they depend on, transitively."""
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        stack.extend(d for d in edges.get(name, ()) if d not in seen)
    return seen


def levels(edges: Edges) -> list[list[str]]:
    """Nodes grouped by depth: level 0 depends on nothing (acyclic only)."""
    depth: dict[str, int] = {}
    for name in order(edges):
        depth[name] = 1 + max((depth[d] for d in edges[name] if d in depth), default=-1)
    grouped: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for name in order(edges):
        grouped[depth[name]].append(name)
    return grouped
