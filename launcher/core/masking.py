"""Masking secret-looking values in everything the launcher itself writes."""

from __future__ import annotations

import re
from collections.abc import Mapping

MASK = "******"
_SECRET_KEY = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|KEY|CREDENTIAL|PRIVATE", re.I)
# The password of a URL: scheme://user:password@host
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)(?P<pw>[^@\s/]+)(?=@)")


def is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.search(key))


def mask_text(text: str) -> str:
    """Hide passwords in URLs inside free text."""
    return _URL_PASSWORD.sub(lambda m: m.group("head") + MASK, text)


def mask_value(key: str, value: str) -> str:
    return MASK if is_secret_key(key) and value else mask_text(value)


def mask_env(env: Mapping[str, str]) -> dict[str, str]:
    return {k: mask_value(k, v) for k, v in env.items()}
