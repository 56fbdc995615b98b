"""The OpenAPI 3.1 document of the control API (docs/api.md), served at /v1/openapi.json.

Data only: launcher/control/server.py serves it, and the tests run schemathesis against the real server
with it, so that the document and the server's answers cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from launcher.core.codes import Code
from launcher.core.vocabulary import CONDITIONS
from launcher.runtime.states import ServiceState
from launcher.runtime.status import StackState
from launcher.version import __version__

JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(kind: str) -> dict[str, Any]:
    return {"type": [kind, "null"]}


def _json(description: str, schema: str, **headers: Any) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description, "content": {JSON: {"schema": _ref(schema)}}}
    if headers:
        answer["headers"] = headers
    return answer


def _errors(*statuses: str) -> dict[str, Any]:
    """The error answers of a route: every route may get 401 (TCP only) and 403."""
    return {status: {"$ref": f"#/components/responses/{status}"} for status in ("401", "403", *statuses)}


NAME = {
    "name": "name",
    "in": "path",
    "required": True,
    "description": "A service of the stack.",
    "schema": {"type": "string"},
}
TAIL = {
    "name": "tail",
    "in": "query",
    "description": "How many of the last lines (of each service); default 100.",
    "schema": {"type": "integer", "minimum": 0, "default": 100},
}
FOLLOW = {
    "name": "follow",
    "in": "query",
    "description": "Then new lines as they come (application/x-ndjson), until the stack stops.",
    "schema": {"type": "boolean", "default": False},
}
SAMPLE = {
    "name": "sample",
    "in": "query",
    "description": (
        "With follow=true: at most one batch every SAMPLE seconds, with the newest `tail` lines of "
        "each service since the last batch; a `LogSkipped` object counts the lines left out."
    ),
    "schema": {"type": "number", "minimum": 0.05, "maximum": 60},
}


def _logs(schema: str, summary: str, parameters: list[dict[str, Any]], *errors: str) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "parameters": parameters,
            "responses": {
                "200": {
                    "description": "The lines (as JSON), or with follow=true a stream of them.",
                    "content": {
                        JSON: {"schema": _ref(schema)},
                        "application/x-ndjson": {"schema": {"anyOf": [_ref("LogLine"), _ref("LogSkipped")]}},
                    },
                },
                **_errors("400", *errors),
            },
        }
    }


def _control(verb: str, summary: str) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "parameters": [NAME],
            "responses": {
                "200": _json(f"The service, once {verb}.", "Service"),
                **_errors("404", "409", "415"),
            },
        }
    }


PATHS: dict[str, Any] = {
    "/v1/status": {
        "get": {
            "summary": "The stack with every service.",
            "responses": {"200": _json("The stack.", "Stack"), **_errors()},
        }
    },
    "/v1/services/{name}": {
        "get": {
            "summary": "One service, with its argv, env (secrets masked) and dependencies.",
            "parameters": [NAME],
            "responses": {"200": _json("The service.", "ServiceDetail"), **_errors("404")},
        }
    },
    "/v1/services/{name}/start": _control("ready", "Start a stopped or failed service."),
    "/v1/services/{name}/stop": _control("stopped", "Stop a service."),
    "/v1/services/{name}/restart": _control("ready", "Stop a service, then start it."),
    "/v1/services/{name}/logs": _logs(
        "ServiceLogs", "A service's last lines.", [NAME, TAIL, FOLLOW, SAMPLE], "404"
    ),
    "/v1/services/{name}/env": {
        "get": {
            "summary": "The environment and cwd of a service's process, values in clear (unix socket only).",
            "parameters": [NAME],
            "responses": {"200": _json("Its environment.", "ServiceEnvironment"), **_errors("404")},
        }
    },
    "/v1/env": {
        "get": {
            "summary": "The stack's environment (as `run -- CMD` gets it), in clear (unix socket only).",
            "responses": {"200": _json("The environment.", "Environment"), **_errors()},
        }
    },
    "/v1/logs": _logs("Logs", "Every service's last lines, in the order they came.", [TAIL, FOLLOW, SAMPLE]),
    "/v1/events": {
        "get": {
            "summary": "Server-sent events: one `snapshot` (the stack), then one `state` per change.",
            "responses": {
                "200": {
                    "description": "The event stream, until the stack stops.",
                    "content": {"text/event-stream": {"schema": {"type": "string"}}},
                },
                **_errors(),
            },
        }
    },
    "/v1/stop": {
        "post": {
            "summary": "Start a graceful stop of the whole stack.",
            "responses": {"202": _json("The stop has begun.", "Stopping"), **_errors("415")},
        }
    },
    "/healthz": {
        "get": {
            "summary": "Whether every service is ready or completed.",
            "responses": {
                "200": _json("Every service is ready or completed.", "Health"),
                "503": _json("Some are not.", "Health"),
                **_errors(),
            },
        }
    },
    "/metrics": {
        "get": {
            "summary": "Prometheus text format.",
            "responses": {
                "200": {
                    "description": "The metrics of docs/api.md.",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                },
                **_errors(),
            },
        }
    },
    "/v1/openapi.json": {
        "get": {
            "summary": "This document.",
            "responses": {
                "200": {"description": "OpenAPI 3.1.", "content": {JSON: {"schema": {"type": "object"}}}},
                **_errors(),
            },
        }
    },
}

PROBE = {
    "type": "object",
    "required": ["ok", "detail", "latency", "at"],
    "properties": {
        "ok": {"type": "boolean"},
        "detail": {"type": "string"},
        "latency": {"type": "number", "description": "Seconds."},
        "at": {**_nullable("number"), "description": "When it was checked (Unix seconds)."},
    },
}
SERVICE = {
    "type": "object",
    "required": [
        "name",
        "state",
        "pid",
        "port",
        "url",
        "restarts",
        "exit_code",
        "started_at",
        "ready_at",
        "reason",
        "last_probe",
        "cpu",
        "rss",
    ],
    "properties": {
        "name": {"type": "string"},
        "state": {"enum": [str(s) for s in ServiceState]},
        "pid": _nullable("integer"),
        "port": _nullable("integer"),
        "url": _nullable("string"),
        "restarts": {"type": "integer", "minimum": 0},
        "exit_code": _nullable("integer"),
        "started_at": _nullable("number"),
        "ready_at": _nullable("number"),
        "reason": {"type": "string", "description": "What the last change of state said."},
        "port_note": {
            "anyOf": [{"type": "string"}, {"type": "null"}],
            "description": "Why an automatic port is not the usual one (who held that one).",
        },
        "last_probe": {"anyOf": [_ref("Probe"), {"type": "null"}]},
        "cpu": {
            **_nullable("number"),
            "minimum": 0,
            "description": "Percent of one core its process tree used between the last two samples.",
        },
        "rss": {**_nullable("integer"), "minimum": 0, "description": "Resident bytes of its process tree."},
    },
}
SERVICE_DETAIL = {
    "allOf": [
        _ref("Service"),
        {
            "type": "object",
            "required": ["argv", "env", "depends_on"],
            "properties": {
                "argv": {"type": "array", "items": {"type": "string"}},
                "env": {"type": "object", "additionalProperties": {"type": "string"}},
                "depends_on": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name", "condition"],
                        "properties": {
                            "name": {"type": "string"},
                            "condition": {"enum": list(CONDITIONS)},
                        },
                    },
                },
            },
        },
    ]
}
STACK = {
    "type": "object",
    "required": ["stack", "state", "profile", "mode", "pid", "started_at", "services"],
    "properties": {
        "stack": {"type": "string"},
        "state": {"enum": [str(s) for s in StackState]},
        "profile": _nullable("string"),
        "mode": {"enum": ["multi", "shared"]},
        "pid": {"type": "integer", "description": "The launcher's."},
        "started_at": {"type": "number"},
        "services": {"type": "array", "items": _ref("Service")},
    },
}
ENV = {"type": "object", "additionalProperties": {"type": "string"}}
LOG_LINE = {
    "type": "object",
    "required": ["service", "line"],
    "properties": {"service": {"type": "string"}, "line": {"type": "string"}},
}
SCHEMAS: dict[str, Any] = {
    "Probe": PROBE,
    "Service": SERVICE,
    "ServiceDetail": SERVICE_DETAIL,
    "Stack": STACK,
    "LogLine": LOG_LINE,
    "LogSkipped": {
        "type": "object",
        "required": ["service", "skipped"],
        "properties": {"service": {"type": "string"}, "skipped": {"type": "integer", "minimum": 1}},
    },
    "Environment": {"type": "object", "required": ["env"], "properties": {"env": ENV}},
    "ServiceEnvironment": {
        "type": "object",
        "required": ["service", "cwd", "env"],
        "properties": {"service": {"type": "string"}, "cwd": {"type": "string"}, "env": ENV},
    },
    "ServiceLogs": {
        "type": "object",
        "required": ["service", "lines"],
        "properties": {
            "service": {"type": "string"},
            "lines": {"type": "array", "items": {"type": "string"}},
        },
    },
    "Logs": {
        "type": "object",
        "required": ["lines"],
        "properties": {"lines": {"type": "array", "items": _ref("LogLine")}},
    },
    "Health": {
        "type": "object",
        "required": ["healthy", "not_ready"],
        "properties": {
            "healthy": {"type": "boolean"},
            "not_ready": {"type": "array", "items": {"type": "string"}},
        },
    },
    "Stopping": {
        "type": "object",
        "required": ["state"],
        "properties": {"state": {"const": str(StackState.STOPPING)}},
    },
    "Error": {
        "type": "object",
        "required": ["error", "code"],
        "properties": {
            "error": {"type": "string"},
            "code": {**_nullable("string"), "description": "An LCH code of docs/errors.md, if one applies."},
            "output": {"type": "array", "items": {"type": "string"}, "description": "Its last lines."},
        },
    },
}
RESPONSES = {
    "400": _json("A parameter is not valid.", "Error"),
    "401": _json(
        "On the TCP listener: no bearer token, or a wrong one.",
        "Error",
        **{"WWW-Authenticate": {"schema": {"type": "string"}}},
    ),
    "403": _json(
        "The Host (or Origin) is not the listener's own (DNS rebinding), or a route of the unix "
        "socket alone (the environment) was asked on TCP.",
        "Error",
    ),
    "404": _json(f"No such service in this stack ({Code.UNKNOWN_SERVICE}).", "Error"),
    "409": _json(
        "It failed to start (its last lines in `output`), or not now: the stack is stopping.", "Error"
    ),
    "415": _json("A request body that is not JSON (a cross-site form).", "Error"),
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "launcher control API",
        "version": __version__,
        "description": (
            "The API of a running stack (docs/api.md): on the project's unix socket, which needs "
            "no token, and on an opt-in TCP listener on 127.0.0.1, which requires a bearer token."
        ),
    },
    "paths": PATHS,
    "components": {
        "schemas": SCHEMAS,
        "responses": RESPONSES,
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
    },
    "security": [{"bearer": []}],
}
