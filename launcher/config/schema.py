"""JSON Schemas of launcher.toml and of profile files, generated from the model."""

from __future__ import annotations

from typing import Any

from launcher.config.model import Config, Profile
from launcher.version import __version__

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def config_schema() -> dict[str, Any]:
    schema = Config.model_json_schema()
    return {
        "$schema": DIALECT,
        "$id": f"launcher-{__version__}/launcher.toml",
        "title": "launcher.toml",
        **_without_title(schema),
    }


def profile_schema() -> dict[str, Any]:
    schema = Profile.model_json_schema()
    return {
        "$schema": DIALECT,
        "$id": f"launcher-{__version__}/profile.toml",
        "title": "launcher profile (profiles/<name>.toml)",
        **_without_title(schema),
    }


def _without_title(schema: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k != "title"}
