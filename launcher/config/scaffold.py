"""`launcher init`: a commented launcher.toml to start from, or one converted from a Procfile."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tomli_w

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
    document = {"launcher": {"name": name}, **data}
    return f"# Converted from a Procfile by `launcher init --from`.\n{tomli_w.dumps(document)}"


def target(directory: Path) -> Path:
    return directory / "launcher.toml"
