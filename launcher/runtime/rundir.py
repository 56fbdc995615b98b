"""Where a running stack's control API listens, and its token (docs/api.md).

`.launcher/run/` beside the configuration holds the unix socket (the directory 0700, so only the
user can reach the socket; the socket itself 0600) and the generated token of the opt-in TCP
listener. A unix socket path is limited to 107 bytes; a project deep in the file system gets a
short path under the user's runtime directory instead, named after a hash of the project path,
and the state file records whichever it is. Standard library only: the client commands use it.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path

from launcher.runtime.statefile import state_dir

SOCKET = "api.sock"
TOKEN_FILE = "api.token"
TOKEN_VARIABLE = "LAUNCHER_API_TOKEN"
# sun_path is 108 bytes on Linux, 104 on macOS, including the terminating NUL.
MAX_SOCKET_PATH = 103


def run_dir(root: Path) -> Path:
    return state_dir(root) / "run"


def socket_path(root: Path, environ: Mapping[str, str] = os.environ) -> Path:
    """The API socket of the project at `root`, its directory created 0700."""
    preferred = run_dir(root) / SOCKET
    if len(os.fsencode(preferred.absolute())) <= MAX_SOCKET_PATH:
        _private_dir(preferred.parent)
        return preferred.absolute()
    digest = hashlib.sha256(os.fsencode(root.resolve())).hexdigest()[:16]
    runtime = environ.get("XDG_RUNTIME_DIR")
    base = Path(runtime) / "launcher" if runtime else Path(tempfile.gettempdir()) / f"launcher-{os.getuid()}"
    _private_dir(base)
    return base / f"{digest}.sock"


def _private_dir(directory: Path) -> None:
    """Create `directory` 0700, or check that an existing one is ours and private: a socket in a
    directory someone else can write to could be replaced under us."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = directory.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise PermissionError(f"{directory} is not a directory of this user")
    if info.st_mode & 0o077:
        os.chmod(directory, 0o700)


def api_token(root: Path, environ: Mapping[str, str] = os.environ) -> str:
    """The TCP listener's bearer token: $LAUNCHER_API_TOKEN, else the project's generated token
    file (created 0600 on first use, kept across runs so that scripts can read it once)."""
    given = environ.get(TOKEN_VARIABLE)
    if given:
        return given
    path = token_path(root)
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    _private_dir(path.parent)
    token = secrets.token_urlsafe(32)
    # O_EXCL: two launchers starting at once must not overwrite each other's token.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as file:
        file.write(token + "\n")
    return token


def token_path(root: Path) -> Path:
    return run_dir(root) / TOKEN_FILE
