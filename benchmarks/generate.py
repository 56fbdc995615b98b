"""A generated project for benchmarks and tests: N services with dependency chains and profiles.

    from generate import write_project      # benchmarks/ on sys.path
    root = write_project(Path(tmp), services=50)

Every service has a port (`auto`) and a probe; each depends on the one before it in its chain
(chains of ten), the first of each chain on a oneshot `migrate`. Three profiles: `minimal` (the
first service of each chain, in profiles/minimal.toml), `full` (every service, inline under
[profiles.full]) and `debug` (extends full, with watch and [launcher]/[env]/service overrides).
"""

from __future__ import annotations

from pathlib import Path

CHAIN = 10
PROBES = ('{ http = "/health" }', '{ tcp = "127.0.0.1:${PORT}" }', '{ log = "ready" }')


def project_text(services: int = 50) -> dict[str, str]:
    """The files of the project, by path relative to its root."""
    names = [f"svc{i:03d}" for i in range(services)]
    lines = [
        "[launcher]",
        'name = "generated"',
        f"ports = [20000, {20000 + services + 50}]",
        'default_profile = "full"',
        "start_timeout = 30",
        "",
        "[env]",
        'LOG_LEVEL = "info"',
        'DATABASE_URL = "sqlite:///${DB_PATH:-generated.sqlite3}"',
        "",
        "[services.migrate]",
        'command = "python -c pass"',
        "oneshot = true",
        "",
    ]
    for i, name in enumerate(names):
        before = "migrate" if i % CHAIN == 0 else names[i - 1]
        depends = (
            f'["{before}"]'
            if i % 3
            else f'{{ {before} = "{"completed" if before == "migrate" else "ready"}" }}'
        )
        lines += [
            f"[services.{name}]",
            f'description = "generated service {i}"',
            f'command = "python -m http.server ${{PORT}} --bind 127.0.0.1 --directory {name}"',
            'port = "auto"',
            f"depends_on = {depends}",
            f"probe = {PROBES[i % len(PROBES)]}",
            'restart = "on-failure"',
            f'env = {{ SERVICE_INDEX = "{i}", UPSTREAM = "${{{before.upper()}_URL:-none}}" }}',
            f'tags = ["chain{i // CHAIN}"]',
            "",
        ]
    full = ", ".join(f'"{n}"' for n in names)
    lines += ["[profiles.full]", 'description = "every service"', f"select = [{full}]", ""]
    minimal = ", ".join(f'"{n}"' for n in names[::CHAIN])
    debug = [
        'description = "full, with reload and debug logs"',
        'extends = "full"',
        "watch = true",
        "",
        "[launcher]",
        'log_level = "debug"',
        "",
        "[env]",
        'LOG_LEVEL = "debug"',
        "",
        f"[services.{names[0]}]",
        'restart = "always"',
        "",
    ]
    return {
        "launcher.toml": "\n".join(lines),
        "profiles/minimal.toml": f'description = "one service per chain"\nselect = [{minimal}]\n',
        "profiles/debug.toml": "\n".join(debug),
    }


def write_project(root: Path, services: int = 50) -> Path:
    """Write the project into `root` (created if needed) and return `root`."""
    for relative, text in project_text(services).items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root
