"""The dashboard's colours are those of `run`'s output: a service's name in its colour of
launcher/runtime/palette.py (by its place in the stack, never red), a state in the colour of
its severity (launcher/runtime/states.py's LEVELS, coloured by launcher/runtime/output.py:
failures red, retries and trouble yellow, ready green). Read from those modules' ANSI
sequences, so that the two cannot drift apart.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from rich.style import Style
from rich.text import Text

from launcher.runtime.palette import COLOURS, LEVEL_COLOURS
from launcher.runtime.states import LEVELS, ServiceState

LAUNCHER = Style(bold=True)  # the launcher's own name, as in `run`'s output


@functools.cache
def _style(ansi: str) -> Style:
    """The rich style of an ANSI sequence (as a terminal would show it)."""
    spans = Text.from_ansi(f"{ansi}x").spans
    return spans[0].style if spans and isinstance(spans[0].style, Style) else Style()


def service_colours(names: Sequence[str]) -> dict[str, Style]:
    """Each service's colour, by its place in the stack (the plan's order, which the API keeps)."""
    styles = {name: _style(COLOURS[i % len(COLOURS)]) for i, name in enumerate(names)}
    return {**styles, "launcher": LAUNCHER}


def state_style(state: str) -> Style:
    """The colour of a state's severity: plain for what is neither good nor trouble."""
    try:
        level = LEVELS.get(ServiceState(state))
    except ValueError:
        return Style()
    colour = LEVEL_COLOURS.get(level or "")
    return _style(colour) if colour else Style()
