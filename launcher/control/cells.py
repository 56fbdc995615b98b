"""The stack and its services as the API's clients show them: the lines and rows of `launcher
status`, the one-line summaries of `start`/`stop`/`restart`, and the table of `launcher
attach`, which adds CPU and memory.

Pure and free of imports: `status` is a quick command (launcher/control/client.py).
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's (see launcher/__init__.py)
if TYPE_CHECKING:
    from launcher.control.client import ProbeJson, ServiceJson, StackJson

# launcher/runtime/states.py's RUNNING (a process, whose age is its uptime) and EXITED (the exit
# code tells why), as strings: importing that module costs 10 ms (tests/unit/test_vocabulary.py
# keeps them equal).
RUNNING = frozenset({"starting", "ready", "unhealthy", "stopping"})
EXITED = frozenset({"stopped", "completed", "failed"})
DONE = {"start": "started", "stop": "stopped", "restart": "restarted"}


def stack_line(stack: StackJson, now: float, project: str | None = None) -> str:
    """`stack shop (profile full, mode multi): running, launcher pid 4242, up 3m05s, in DIR`:
    the project's directory tells two copies of a project apart."""
    profile = f"profile {stack['profile']}" if stack.get("profile") else "no profile"
    return (
        f"stack {stack['stack']} ({profile}, mode {stack['mode']}): {stack['state']}, "
        f"launcher pid {stack['pid']}, up {duration(now - stack['started_at'])}"
        + (f", in {project}" if project else "")
    )


def summary(action: str, service: ServiceJson) -> str:
    """`started api: ready, pid 4251, http://127.0.0.1:8000`; `stopped api`."""
    details = [] if service["state"] == "stopped" else [service["state"]]
    if service.get("pid") is not None:
        details.append(f"pid {service['pid']}")
    if service.get("url") and service["state"] != "stopped":
        details.append(str(service["url"]))
    head = f"{DONE[action]} {service['name']}"
    return f"{head}: {', '.join(details)}" if details else head


def state(service: ServiceJson) -> str:
    """`ready`, or `failed (exit 3)`: an ended service's exit code tells why."""
    text = service["state"]
    if text in EXITED and service.get("exit_code") is not None:
        return f"{text} (exit {service['exit_code']})"
    return text


def address(service: ServiceJson) -> str:
    """Its URL, else its port, else `-`."""
    return str(service.get("url") or (f"port {service['port']}" if service.get("port") else "-"))


def uptime(service: ServiceJson, now: float) -> str:
    """How long its process has run; `-` without one."""
    started = service.get("started_at")
    return duration(now - started) if service["state"] in RUNNING and started is not None else "-"


def probe(last: ProbeJson | None, now: float) -> str:
    """`ok: HTTP 200, 3s ago`, `failing: connection refused, 0s ago`, or `-` without probes."""
    if not last:
        return "-"
    verdict = "ok" if last["ok"] else "failing"
    detail = f": {last['detail']}" if last.get("detail") else ""
    return f"{verdict}{detail}, {duration(now - last['at'])} ago"


def cpu(service: ServiceJson) -> str:
    """`12.5%` of one core; `-` before its process tree's second sample."""
    figure = service.get("cpu")
    return "-" if figure is None else f"{figure:.1f}%"


def memory(service: ServiceJson) -> str:
    """Resident memory of its process tree: `48.2M`, `1.3G`; `-` without a sample."""
    figure = service.get("rss")
    if figure is None:
        return "-"
    if figure < 1024:
        return f"{figure}B"
    for unit, scale in (("K", 1 << 10), ("M", 1 << 20)):
        if figure < scale * 1024:
            return f"{figure / scale:.1f}{unit}"
    return f"{figure / (1 << 30):.1f}G"


def duration(seconds: float) -> str:
    """`45s`, `3m12s`, `2h05m`, `3d04h`: two units at most, as `ps` and `docker ps` do."""
    whole = max(int(seconds), 0)
    minutes, secs = divmod(whole, 60)
    hours, mins = divmod(minutes, 60)
    days, hrs = divmod(hours, 24)
    if days:
        return f"{days}d{hrs:02d}h"
    if hours:
        return f"{hours}h{mins:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"
