"""Which services a plan holds: the profile's `select` (or every enabled service), narrowed by
the SERVICE words of the command line, with what they depend on."""

from __future__ import annotations

from collections.abc import Sequence

from launcher.config import graph
from launcher.config.checks import check_narrowing, check_selection
from launcher.config.loader import Loaded
from launcher.core.diagnostics import Diagnostic, Origin


def selected(loaded: Loaded, words: Sequence[str], no_deps: bool, problems: list[Diagnostic]) -> set[str]:
    """The selected services and, unless `no_deps`, their transitive dependencies; a name that
    is not a selectable service is a problem, and is left out."""
    config = loaded.config
    if loaded.select is not None:
        problems.extend(
            check_selection(config, loaded.layered, loaded.select, loaded.select_origin, "profile")
        )
        chosen = [n for n in loaded.select if n in config.services]
    else:
        chosen = [n for n, s in config.services.items() if s.enabled]
    edges = {n: list(s.dependencies()) for n, s in config.services.items()}
    if words:
        problems.extend(
            check_selection(config, loaded.layered, words, Origin("command line"), "command line")
        )
        if loaded.select is not None:
            allowed = {n for n in graph.closure(chosen, edges) if n in config.services}
            problems.extend(check_narrowing(words, allowed, loaded.profile, config))
        chosen = [n for n in words if n in config.services]
    if no_deps:
        return set(chosen)
    return {n for n in graph.closure(chosen, edges) if n in config.services}
