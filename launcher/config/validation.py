"""Turning pydantic's validation errors into diagnostics with codes, places and hints."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from launcher.config.layers import Layered
from launcher.config.sources import Key
from launcher.core.codes import Code
from launcher.core.diagnostics import Diagnostic, did_you_mean
from launcher.core.vocabulary import SERVICE_KINDS

M = TypeVar("M", bound=BaseModel)

# Error types raised by our own validators, and the code each one reports.
_CUSTOM_CODES = {
    "service_kind": (Code.SERVICE_KIND, "keep exactly one of command, app, task or external = true"),
    "probe_kind": (Code.INVALID_PROBE, 'write one kind per probe, e.g. probe = { http = "/health" }'),
    "probe_regex": (Code.INVALID_PROBE, "escape regex metacharacters such as ( [ . with a backslash"),
    "signal_name": (Code.UNKNOWN_SIGNAL, 'use a signal name such as "SIGTERM", "INT" or a number'),
    "import_path": (Code.IMPORT_PATH, 'write it as "package.module:attribute"'),
    "port_range": (Code.INVALID_PORT, "write the range as [low, high] with low <= high"),
    "api_address": (Code.INVALID_PORT, 'listen on the loopback interface only, e.g. api = "127.0.0.1:7070"'),
    "workers": (Code.WRONG_VALUE, "remove workers, or make the service an app"),
    "shell": (Code.WRONG_VALUE, "remove shell, or give the service a command"),
}
# Keys that were removed, and why: the hint of an unknown key with one of these names.
_REMOVED_KEYS = {
    "mount": "every app is served at the root of its own port in both modes; `mount` is gone",
}


def validate(model_type: type[BaseModel], layer: Layered, prefix: Key = ()) -> tuple[Any, list[Diagnostic]]:
    """Validate `layer.data` as `model_type`; return the model (or None) and the diagnostics."""
    try:
        return model_type.model_validate(layer.data), []
    except ValidationError as exc:
        return None, diagnostics_from(exc, layer, model_type, prefix)


# What a failed value is replaced with in the valid part of a configuration (`valid_part`):
# a value no rule complains about where its default would mislead one (no port would make
# `${PORT}` and an http path probe errors; not a oneshot, a `completed` condition).
_STAND_INS: dict[str, Any] = {"port": "auto", "oneshot": True}
# Errors of a whole model that one key causes, and that key.
_CAUSES = {"workers": "workers", "shell": "shell"}
# The keys that the rules of a whole service read (its kind, and what applies to one kind).
_WHOLE_KEYS = {*SERVICE_KINDS, "workers", "shell"}


def valid_part(model_type: type[M], layer: Layered, at: Key) -> tuple[M | None, list[Diagnostic]]:
    """The table at `at` as `model_type` without what fails validation (or with stand-ins for
    it), so that the rules between services can still judge the rest (None when it is no
    table); and the problems of the whole that its failing keys hid (pydantic judges a model as
    a whole only once each of its keys is valid), unless mending those keys made them."""
    raw: Any = layer.data
    for part in at:
        raw = raw.get(part) if isinstance(raw, dict) else None
    if not isinstance(raw, dict):
        return None, []
    data, touched, hidden = dict(raw), set[str](), list[Diagnostic]()
    while True:
        try:
            return model_type.model_validate(data), hidden
        except ValidationError as exc:
            errors = exc.errors()
            if touched and not touched & _WHOLE_KEYS and not any(e["loc"] for e in errors):
                hidden += diagnostics_from(exc, layer.sub(at), model_type, at)
            before = dict(data)
            touched |= _mend(data, errors)
            if data == before:
                return None, hidden


def _mend(data: dict[str, Any], errors: list[Any]) -> set[str]:
    """Take out what `errors` are about, or put stand-ins in its place; the keys touched."""
    import difflib  # an invalid configuration's only

    touched: set[str] = set()
    for error in errors:
        if not error["loc"] and error["type"] == "service_kind":
            # Several kinds: the first stays. None: an empty command, which no rule judges.
            kinds = [kind for kind in SERVICE_KINDS if data.get(kind) not in (None, False)]
            for kind in kinds[1:]:
                del data[kind]
            if not kinds:
                data["command"] = ""
            touched |= {*SERVICE_KINDS}
    # A key fails once per member of its type's union: each is mended once.
    keys = {str(e["loc"][0]) if e["loc"] else _CAUSES.get(e["type"]) for e in errors}
    for key in [k for k in keys if k in data]:
        stand_in = _STAND_INS.get(key)
        if stand_in is None or data[key] == stand_in:
            del data[key]
        else:
            data[key] = stand_in
        if key == "app":
            data.setdefault("port", "auto")  # what an app has without one
        # An unknown key may be a misspelt one (`comand`): as good as touching that one.
        touched |= {key, *difflib.get_close_matches(key, _WHOLE_KEYS, n=1)}
    return touched


def diagnostics_from(
    exc: ValidationError, layer: Layered, model_type: type[BaseModel], prefix: Key = ()
) -> list[Diagnostic]:
    # A union (port = "auto" | int) fails once per member: group those into one diagnostic.
    grouped: dict[Key, list[dict[str, Any]]] = defaultdict(list)
    for error in exc.errors():
        grouped[_data_path(layer.data, error["loc"], error["type"] == "missing")].append(dict(error))
    # A union member that failed on its type is noise beside one that got further in.
    deepest = [
        path for path in grouped if not any(other[: len(path)] == path and other != path for other in grouped)
    ]
    return [_diagnostic(path, grouped[path], layer, model_type, prefix) for path in deepest]


def _data_path(data: Any, loc: tuple[int | str, ...], missing: bool) -> Key:
    """The part of a pydantic `loc` that names keys of the data (union tags are dropped)."""
    path: list[str] = []
    node = data
    for i, part in enumerate(loc):
        if isinstance(node, dict) and part in node:  # noqa: SIM114 - the two narrow differently
            path.append(str(part))
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            path.append(str(part))
            node = node[part]
        elif missing and i == len(loc) - 1:
            path.append(str(part))
    return tuple(path)


def _diagnostic(
    path: Key,
    errors: list[dict[str, Any]],
    layer: Layered,
    model_type: type[BaseModel],
    prefix: Key,
) -> Diagnostic:
    where = layer.origin(path)
    dotted = ".".join((*prefix, *path)) or "(top level)"
    first = errors[0]
    kind = first["type"]
    if kind in _CUSTOM_CODES:
        code, hint = _CUSTOM_CODES[kind]
        return Diagnostic(code, f"{dotted}: {first['msg']}", where, hint)
    if kind == "extra_forbidden":
        key = path[-1] if path else "?"
        known = _known_keys(model_type, path[:-1])
        suggestion = _REMOVED_KEYS.get(key) or did_you_mean(key, known)
        hint = suggestion or (f"known keys: {', '.join(sorted(known))}" if known else "remove it")
        return Diagnostic(Code.UNKNOWN_KEY, f"unknown key '{key}' in {_parent(prefix, path)}", where, hint)
    if path and path[-1] == "restart" and kind == "literal_error":
        return Diagnostic(
            Code.UNKNOWN_RESTART_POLICY,
            f"{dotted}: unknown restart policy {first['input']!r}",
            where,
            'use "no", "on-failure" or "always"',
        )
    if any(p in ("port", "ports") for p in path[-2:]):
        return Diagnostic(
            Code.INVALID_PORT,
            f"{dotted}: invalid port {_shown(first)}",
            where,
            'use a number from 1 to 65535, or "auto" to take one from the range',
        )
    expected = list(dict.fromkeys(_expected(e) for e in errors))
    text = (
        expected[0]
        if len(expected) == 1
        else "expected one of: " + ", ".join(e.removeprefix("expected ") for e in expected)
    )
    return Diagnostic(
        Code.WRONG_VALUE,
        f"{dotted}: {text}, got {_shown(first)}",
        where,
        "see `launcher schema` for the type of each key",
    )


def _parent(prefix: Key, path: Key) -> str:
    parent = ".".join((*prefix, *path[:-1]))
    return f"[{parent}]" if parent else "the top level"


def _expected(error: dict[str, Any]) -> str:
    message = str(error["msg"])
    for lead in ("Input should be ", "Value should be "):
        if message.startswith(lead):
            expected = message[len(lead) :].replace("a valid ", "")
            return "expected " + re.sub(r"dictionary or instance of \w+", "table", expected)
    if error["type"] == "missing":
        return "a value is required"
    return message[0].lower() + message[1:]


def _shown(error: dict[str, Any]) -> str:
    if error["type"] == "missing":
        return "nothing"
    value = error.get("input")
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _known_keys(model_type: type[BaseModel], path: Key) -> list[str]:
    """Field names of the model found at `path`, following nested models and dicts of them."""
    current: type[BaseModel] = model_type
    dict_key_next = False
    for part in path:
        if dict_key_next:
            dict_key_next = False
            continue
        field = current.model_fields.get(part)
        nested = _nested_model(field.annotation) if field else None
        if field is None or nested is None:
            return []
        dict_key_next = _holds_dict(field.annotation)
        current = nested
    return [] if dict_key_next else list(current.model_fields)


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds, directly or as the values of a dict or a union member."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _nested_model(arg)
        if found is not None:
            return found
    return None


def _holds_dict(annotation: Any) -> bool:
    if getattr(annotation, "__origin__", None) is dict:
        return True
    return any(_holds_dict(arg) for arg in getattr(annotation, "__args__", ()))
