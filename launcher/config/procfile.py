"""Procfiles as input: honcho/foreman syntax, parsed by honcho, read as a configuration document.

The other direction, `launcher compile`, is launcher/exports/procfile.py.
"""

from __future__ import annotations

import re
from typing import Any

from launcher.config.sources import Document, Key
from launcher.core.codes import Code
from launcher.core.diagnostics import Diagnostic, Origin

_USES_PORT = re.compile(r"\$(PORT\b|\{PORT[}:?-])")


# Heroku's release phase: it runs to completion before the other processes start.
RELEASE = "release"
# The process Heroku routes HTTP to, on the $PORT it gives it.
WEB = "web"


def procfile_document(path: Any, label: str, text: str) -> Document | Diagnostic:
    """A Procfile as a configuration document: one `command` service per line.

    Procfile commands run through a shell, as honcho runs them. `web`, and any process whose
    command uses `$PORT`, gets `port = "auto"`, which is how Heroku, honcho and foreman hand out
    ports. `release` is a oneshot that every other process depends on, as Heroku's release phase
    runs before the new processes start.
    """
    from honcho.environ import parse_procfile

    try:
        processes = parse_procfile(text).processes
    except AssertionError:
        return Diagnostic(
            Code.UNUSABLE_PROCFILE,
            "a process name appears twice in the Procfile",
            Origin(label),
            "give every process line a unique name",
        )
    if not processes:
        return Diagnostic(
            Code.UNUSABLE_PROCFILE,
            "the Procfile defines no process",
            Origin(label),
            "write one `name: command` line per process",
        )
    lines = {
        m.group(1): n
        for n, line in enumerate(text.splitlines(), 1)
        if (m := re.match(r"^([A-Za-z0-9_-]+):", line))
    }
    services: dict[str, Any] = {}
    origins: dict[Key, Origin] = {}
    for name, command in processes.items():
        service: dict[str, Any] = {"command": command, "shell": True}
        if name == WEB or _USES_PORT.search(command):
            service["port"] = "auto"
        if name == RELEASE:
            service["oneshot"] = True
        elif RELEASE in processes:
            service["depends_on"] = [RELEASE]
        services[name] = service
        origin = Origin(label, lines.get(name))
        for key in ("", *service):
            origins[("services", name, key) if key else ("services", name)] = origin
    return Document(path, label, {"services": services}, origins)
