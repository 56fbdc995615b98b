"""What the container exports (compose, kubernetes) share: YAML as they read it, `$` as they
read it literally, and the `secrets.env.example` that lists the secrets' names.

Secrets are never written: the operator makes `secrets.env` from the example (compose reads it
as an `env_file`, Kubernetes makes the stack's Secret from it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from launcher.exports.deployment import Deployment

SECRETS_FILE = "secrets.env"
SECRETS_EXAMPLE = "secrets.env.example"


def escape_dollars(value: str) -> str:
    """`$` as the engine reads it literally (compose interpolation, Kubernetes `$(VAR)`)."""
    return value.replace("$", "$$")


class _Dumper(yaml.SafeDumper):
    # A dict used twice (labels) is written out twice, not as an anchor and an alias.
    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_yaml(*documents: Mapping[str, Any]) -> str:
    """YAML in the order it was built, strings that look like something else quoted; several
    documents are each started by `---`."""
    return yaml.dump_all(
        [dict(d) for d in documents],
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        width=1 << 30,
        explicit_start=len(documents) > 1,
    )


def secrets_example(deployment: Deployment) -> str:
    """The secrets' names with empty values: what the operator fills in, never the values."""
    lines = [f"{name}=\n" for name in deployment.secrets]
    return deployment.header(extra=(f"Copy to {SECRETS_FILE} and fill in the values.",)) + "".join(lines)
