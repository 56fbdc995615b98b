"""Every error code launcher reports, each defined once with its meaning (docs/errors.md).

A `Code` is a str (`Code.DEPENDENCY_CYCLE == "LCH-1004"`), so it renders, compares and
serialises as the code itself. The meaning is the heading of the code's section in
docs/errors.md, which tests/unit/test_vocabulary.py keeps equal. (`launcher.child` may not
import this package: its two LCH-2005 messages are written out there.)

    1xxx  configuration         2xxx  services at run time
    3xxx  ports                 4xxx  control API and state
"""

from __future__ import annotations

import enum


class Code(enum.StrEnum):
    meaning: str

    def __new__(cls, value: str, meaning: str) -> Code:
        member = str.__new__(cls, value)
        member._value_ = value
        member.meaning = meaning
        return member

    TOML_SYNTAX = "LCH-1001", "TOML syntax error"
    UNKNOWN_KEY = "LCH-1002", "unknown key"
    WRONG_VALUE = "LCH-1003", "wrong type or value"
    DEPENDENCY_CYCLE = "LCH-1004", "dependency cycle"
    UNKNOWN_DEPENDENCY = "LCH-1005", "unknown dependency"
    SERVICE_KIND = "LCH-1006", "not exactly one kind"
    UNKNOWN_PROFILE = "LCH-1007", "unknown profile"
    DISABLED_DEPENDENCY = "LCH-1008", "disabled service needed"
    INVALID_PROBE = "LCH-1009", "invalid probe"
    INVALID_PORT = "LCH-1010", "invalid port or port range"
    UNKNOWN_RESTART_POLICY = "LCH-1011", "unknown restart policy"
    UNKNOWN_SIGNAL = "LCH-1012", "unknown signal"
    VARIABLE_NOT_SET = "LCH-1013", "required variable not set"
    IMPORT_PATH = "LCH-1014", "not a `module:attr` import path"
    NO_CONFIG = "LCH-1015", "no configuration file"
    NOT_ONESHOT = "LCH-1016", "`completed` on a service that is not a oneshot"
    HTTP_PROBE_WITHOUT_PORT = "LCH-1017", "http probe on a path without a port"
    PORT_CLASH = "LCH-1018", "two services on one fixed port"
    PROFILE_CONFLICT = "LCH-1019", "profile defined twice, or profiles extending in a cycle"
    EXTERNAL_WITHOUT_PROBE = "LCH-1020", "external service without a probe"
    UNUSABLE_PROCFILE = "LCH-1021", "unusable Procfile"
    MALFORMED_INTERPOLATION = "LCH-1022", "malformed interpolation"
    ENV_FILE = "LCH-1023", "env file missing, unreadable or malformed"
    UNKNOWN_SELECTION = "LCH-1025", "unknown service selected"
    LAUNCHER_VARIABLE = "LCH-1026", "invalid `LAUNCHER_*` variable"
    UNSPLITTABLE_COMMAND = "LCH-1027", "a command that cannot be split into words"
    SERVICE_NAME = "LCH-1028", "invalid service name"
    CANNOT_SHARE = "LCH-1029", "services that cannot share the host process"
    WOULD_OVERWRITE = "LCH-1030", "`launcher init` would overwrite a file"
    CANNOT_DEBUG = "LCH-1031", "a service `--debug` cannot debug"
    NO_DEBUGPY = "LCH-1032", "`--debug` without debugpy"
    NO_IMAGE = "LCH-1033", "a service without an image, for a container export"
    RESERVED_VARIABLE = "LCH-1034", "`PORT` or `LAUNCHER_SERVICE` declared"
    SHADOWED_VARIABLE = "LCH-1035", "a declared variable shadows an injected one (a warning)"
    PORT_WITHOUT_PORT = "LCH-1036", "`${PORT}` in a service without a port"
    MODULE_NOT_FOUND = "LCH-1037", "an app or task module that cannot be found"
    INTERPRETER_CANNOT_RUN = "LCH-1038", "the project's interpreter cannot run the apps or tasks"

    SERVICE_FAILED = "LCH-2000", "a service failed"
    CANNOT_EXECUTE = "LCH-2001", "cannot execute"
    START_FAILED = "LCH-2002", "failed to start"
    READINESS_TIMEOUT = "LCH-2003", "not ready in time"
    DEPENDENCY_FAILED = "LCH-2004", "skipped because a dependency failed"
    TASK_NOT_LOADABLE = "LCH-2005", "a task that cannot be loaded"

    PORT_RANGE_EXHAUSTED = "LCH-3001", "port range exhausted"
    PORT_TAKEN = "LCH-3002", "fixed port already in use"

    NO_STACK_RUNNING = "LCH-4001", "no stack is running"
    STACK_ALREADY_RUNNING = "LCH-4002", "the stack is already running"
    UNKNOWN_SERVICE = "LCH-4003", "unknown service"
    API_UNAVAILABLE = "LCH-4004", "the control API cannot listen"
