"""`launcher init`: a commented launcher.toml to start from, or one converted from a Procfile."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

SCAFFOLD = """\
# launcher.toml: the services of this project. `launcher check` validates it;
# `launcher run` starts them in dependency order. Reference: docs/configuration.md.

[launcher]
name = "{name}"
ports = [8000, 8010]        # the range that port = "auto" takes from
default_profile = "dev"

[env]                       # for every service
LOG_LEVEL = "info"

[services.web]
command = "python -m http.server ${{PORT}} --bind 127.0.0.1"
port = "auto"
probe = {{ http = "/" }}

# [services.api]
# app = "myapp.api:app"     # an ASGI app, served by uvicorn
# port = "auto"
# depends_on = ["web"]
# probe = {{ http = "/health" }}

[profiles.dev]
select = ["web"]
"""


def scaffold(name: str) -> str:
    return SCAFFOLD.format(name=name)


def from_procfile(data: dict[str, Any], name: str) -> str:
    """The configuration document of a Procfile (launcher/config/procfile.py) as launcher.toml:
    what `launcher run` does with the Procfile, written out."""
    lines = [
        "# Converted from a Procfile by `launcher init --from`. Reference: docs/configuration.md.",
        "",
        "[launcher]",
        f"name = {_value(name)}",
    ]
    for service, fields in data["services"].items():
        lines += ["", f"[services.{_key(service)}]"]
        if fields.get("oneshot"):
            lines.append("# Heroku's release phase: it runs to completion before the others start.")
        lines += [f"{key} = {_value(value)}" for key, value in fields.items()]
    return "\n".join(lines) + "\n"


def _value(value: str | bool | list[str]) -> str:
    # One line each, arrays inline (tomli_w spreads them over several). JSON's strings, arrays
    # of strings and booleans are TOML's.
    return json.dumps(value, ensure_ascii=False)


def _key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else _value(name)


def target(directory: Path) -> Path:
    return directory / "launcher.toml"
