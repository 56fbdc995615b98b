"""Output throughput of issues 3 and 21: launcher against supervisord (and honcho), in one run.

    .venv/bin/python benchmarks/output.py [--lines 200000] [--runs 3] [--honcho]

Four children each write LINES lines of 80 bytes as fast as they can, twice: through Python's
buffered stdout (8 KiB writes, lines whole in each: `lines`) and in 64 KiB writes that cut
lines anywhere (`chunks`). Each manager relays them to its stdout, a pipe this script drains as
fast as it can. Each tool runs from a directory of its own, kept across the runs after a first
run that is not counted: the launcher's plan comes from its plan cache, as in a project run
again (`--cold`: a new directory each run, the plan made each time by the planning child).
Measured, each run interleaving the managers so that a noisy moment hits both:

- drain: from the children's first write (each child stamps it, flood.py) until every line
  has arrived;
- CPU: the manager's CPU time (user + system) with that of its helpers: its children that
  exited (the launcher's planner) and its descendants still running that are not services
  (the launcher's reaper); the services' own is not counted. Over its whole run until drained,
  and over the drain window alone (sampled at the first write seen and at the end);
- relaying alone: the CPU of a whole run less that of a run with 1 line a child (start-up and
  stop alone), so that work the start-up leaves to later (the launcher's control API, imported
  after its first spawns) does not count as relaying;
- whole: every line of every child arrived in one piece and in order. supervisord copies bytes
  as they come, so in `chunks` the lines of its children are cut into each other: its drain
  ends on the byte count.

supervisord relays each child's output to its stdout (`stdout_logfile=/dev/fd/1`) and writes no
log file (it cannot copy a child's output to both; its own log is `/dev/null`), while the
launcher always writes its per-service log files too (.launcher/logs/, every line stamped): a
second copy of all the output that supervisord does not make. So the launcher runs twice in
each round: as it always runs (`launcher`), and with the same duty as supervisord (`launcher,
no log files`: `.launcher/logs` is made a plain file beforehand, so the launcher cannot open its
log files, says so once per service and relays on). The verdicts are given for both. With
`--before DIR`, a third launcher, imported from DIR (a copy of an older `launcher` package, by
PYTHONPATH), runs in the same rounds. Medians of the runs, each figure with supervisord's beside
it. Targets (issue 21): `lines` drain <= 1.2 x supervisord and CPU <= 1.5 x;
`chunks` drain and CPU <= 2 x, every line whole; honcho (`--honcho`, ~50 s) at least 10 x
slower than the launcher. supervisor and honcho are benchmark-only dependencies
(`pip install -e '.[bench]'`).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

HERE = Path(__file__).parent
BIN = Path(sys.executable).parent
CHILDREN = 4
LINE_BYTES = 80
CHUNK = 64 * 1024
LINE = re.compile(rb"(c\d) (\d{9}) x{66}$")
FLOOD = str(HERE / "flood.py")
NO_LOGS = ", no log files"
BEFORE = "before"


@dataclass
class Run:
    drain: float  # first write to the last line out
    cpu: float  # the manager's, from its start until drained
    window_cpu: float  # the manager's, from the first write seen until drained
    whole: bool


def flood(name: str, lines: int, chunk: int) -> list[str]:
    return [sys.executable, FLOOD, name, str(lines), *([str(chunk)] if chunk else [])]


def setup(tool: str, root: Path, lines: int, chunk: int) -> list[str]:
    names = [f"c{i}" for i in range(CHILDREN)]
    if tool.startswith("launcher"):
        if tool.endswith(NO_LOGS):  # a plain file where the log directory goes
            (root / ".launcher").mkdir(exist_ok=True)
            (root / ".launcher" / "logs").write_text("")
        parts = ["[launcher]\nstop_timeout = 2\n"]
        for name in names:
            words = ", ".join(f'"{w}"' for w in flood(name, lines, chunk))
            parts.append(f"[services.{name}]\ncommand = [{words}]\n")
        (root / "launcher.toml").write_text("\n".join(parts))
        return [sys.executable, "-m", "launcher", "--no-color", "run"]
    if tool == "honcho":
        (root / "Procfile").write_text("".join(f"{n}: {' '.join(flood(n, lines, chunk))}\n" for n in names))
        return [str(BIN / "honcho"), "--no-colour", "start"]
    config = [
        "[supervisord]\nnodaemon=true\nlogfile=/dev/null\nlogfile_maxbytes=0\n"
        f"pidfile={root}/supervisord.pid\n"
    ]
    for name in names:
        config.append(
            f"[program:{name}]\ncommand={' '.join(flood(name, lines, chunk))}\nstdout_logfile=/dev/fd/1\n"
            "stdout_logfile_maxbytes=0\nredirect_stderr=true\nautorestart=false\nstartsecs=0\n"
        )
    (root / "supervisord.conf").write_text("\n".join(config))
    return [str(BIN / "supervisord"), "-c", str(root / "supervisord.conf")]


def cpu_of(process: psutil.Process) -> float:
    """Its own CPU time, that of its children that exited (the launcher's planner, a fork that
    validates the configuration) and that of its running descendants that are not services
    (the launcher's reaper): the services' is not counted."""
    times = process.cpu_times()
    total = times.user + times.system + times.children_user + times.children_system
    for helper in process.children(recursive=True):
        try:
            if FLOOD not in " ".join(helper.cmdline()):
                own = helper.cpu_times()
                total += own.user + own.system
        except psutil.Error:
            pass  # gone meanwhile: counted in its parent's children_* once reaped
    return total


def first_write(stamps: Path) -> float:
    """The earliest first write of the children (each appends `name time` to the file)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        words = [line.split() for line in stamps.read_text().splitlines()] if stamps.exists() else []
        if len(words) == CHILDREN:
            return min(float(w[1]) for w in words)
        time.sleep(0.01)
    raise SystemExit(f"the children did not all stamp their first write: {stamps}")


def every_line_whole(output: bytes, lines: int) -> bool:
    """Every line of every child in `output`, whole (nothing cut or run together) and in order."""
    seen = {f"c{i}": 0 for i in range(CHILDREN)}
    for raw in output.split(b"\n"):
        match = LINE.search(raw)
        if match:
            name = match.group(1).decode()
            if int(match.group(2)) != seen[name]:
                return False
            seen[name] += 1
        elif b"xxxx" in raw:
            return False  # a piece of a line, or two lines run together
    return all(count == lines for count in seen.values())


def project_of(tool: str, lines: int, chunk: int, work: Path | None) -> Path:
    """The directory `tool` runs the children from: one per tool and flood, kept across the runs
    under `work` (a launcher plans once and runs on from its plan cache, as in a project run
    again), or a new one (None) removed after the run."""
    if work is None:
        return Path(tempfile.mkdtemp(prefix="output-"))
    root = work / f"{tool.replace(', ', '-').replace(' ', '-')}-{lines}-{chunk}"
    root.mkdir(exist_ok=True)
    (root / "first-writes").unlink(missing_ok=True)
    return root


def measure(
    tool: str, lines: int, chunk: int = 0, settle: float = 0.0, before: str = "", work: Path | None = None
) -> Run:
    """One run; the CPU is taken `settle` seconds after the drain (a start-up that is over).
    A `tool` named "before..." is the launcher imported from `before`. With `work`, the run
    takes place in the tool's directory there (see project_of())."""
    root = project_of(tool, lines, chunk, work)
    try:
        argv = setup(tool.replace(BEFORE, "launcher"), root, lines, chunk)
        stamps = root / "first-writes"
        manager = subprocess.Popen(
            argv,
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            env={
                **os.environ,
                "NO_COLOR": "1",
                "FLOOD_STAMP": str(stamps),
                **({"PYTHONPATH": before} if tool.startswith(BEFORE) else {}),
            },
        )
        assert manager.stdout is not None
        me = psutil.Process(manager.pid)
        expected = lines * CHILDREN
        # supervisord cuts chunked lines into each other: it is done once every byte is out.
        by_bytes = LINE_BYTES * lines * CHILDREN if tool == "supervisord" and chunk else 0
        received, ended, window_start = 0, 0, None
        pieces: list[bytes] = []
        last = b""
        try:
            # While timed, this process only counts line ends (each flood line ends "x\n", no
            # line of the launcher's own does), so that its own work does not slow the drain.
            while ended < expected and not (by_bytes and received >= by_bytes):
                data = manager.stdout.read1(1 << 20)
                if not data:
                    break
                received += len(data)
                pieces.append(data)
                ended += (last + data).count(b"x\n")
                last = data[-1:]
                if ended and window_start is None:
                    window_start = cpu_of(me)
            done = time.time()
            time.sleep(settle)
            cpu = cpu_of(me)
            drain = done - first_write(stamps)
            whole = every_line_whole(b"".join(pieces), lines)
        finally:
            os.killpg(manager.pid, signal.SIGTERM)
            try:
                manager.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(manager.pid, signal.SIGKILL)
                manager.wait()
        return Run(drain, cpu, cpu - (window_start or 0.0), whole)
    finally:
        if work is None:
            shutil.rmtree(root, ignore_errors=True)


def median(runs: list[Run], field: str) -> float:
    return statistics.median(getattr(run, field) for run in runs)


def ratio(a: float, b: float) -> float:
    """a / b; CPU times come in 10 ms ticks, and a short run may have none."""
    return a / b if b else float("inf")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def compare(
    label: str, name: str, ours: list[Run], theirs: list[Run], drain_target: float, cpu_target: float
) -> None:
    """One variant's figures, each with supervisord's of the same run and the ratio of medians."""
    for field, what, target in (
        ("drain", "first write to drained", drain_target),
        ("cpu", "manager CPU, whole run", cpu_target),
        ("window_cpu", "manager CPU, drain window", None),
    ):
        a, b = median(ours, field), median(theirs, field)
        goal = f"(target <= {target:g}) {verdict(a <= target * b)}" if target else "(for scale)"
        runs = " ".join(
            f"{ratio(getattr(o, field), getattr(t, field)):.2f}" for o, t in zip(ours, theirs, strict=True)
        )
        figures = f"{name} {a:.3f} s, supervisord {b:.3f} s: {ratio(a, b):.2f}"
        print(f"  {label} {what}: {figures} {goal}; runs {runs}")
    intact = all(run.whole for run in ours)
    print(
        f"  {label} every line whole and in order: {name} {verdict(intact)}, supervisord "
        f"{'yes' if all(run.whole for run in theirs) else 'no (it copies bytes)'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--honcho", action="store_true", help="also honcho, once (~50 s)")
    parser.add_argument("--before", metavar="DIR", help="also the launcher package found in DIR")
    parser.add_argument(
        "--cold", action="store_true", help="every run in a new directory: the launcher plans each time"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="output-bench-") as tmp:
        run_all(args, None if args.cold else Path(tmp))


def run_all(args: argparse.Namespace, work: Path | None) -> None:
    print(
        f"output: {CHILDREN} children x {args.lines} lines of {LINE_BYTES} bytes, {args.runs} runs, "
        f"python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.2f}"
    )
    launchers = ["launcher", "launcher" + NO_LOGS]
    if args.before:
        launchers += [BEFORE, BEFORE + NO_LOGS]
    tools = ["supervisord", *launchers]
    print(
        "  every run in a new directory (--cold): the launcher plans in its planning child each time"
        if work is None
        else "  each tool runs in its own directory: the launcher's plan comes from its plan cache, "
        "made by a first run that is not counted (as a project run again; --cold: planned each time)"
    )
    if work is not None:
        for tool in launchers:
            for lines, chunk in ((args.lines, 0), (args.lines, CHUNK), (1, 0)):
                measure(tool, lines, chunk, before=args.before or "", work=work)
    results: dict[tuple[str, int], list[Run]] = {}
    for _ in range(args.runs):
        for chunk in (0, CHUNK):
            for tool in tools:
                results.setdefault((tool, chunk), []).append(
                    measure(tool, args.lines, chunk, before=args.before or "", work=work)
                )
        # 1 line a child: the manager's start-up and stop alone, whose CPU then comes off.
        for tool in tools:
            results.setdefault((tool, -1), []).append(
                measure(tool, 1, settle=1.0, before=args.before or "", work=work)
            )
    fixed = {tool: median(results[tool, -1], "cpu") for tool in tools}
    for name in launchers:
        print(f"{name}:")
        compare("lines:", name, results[name, 0], results["supervisord", 0], 1.2, 1.5)
        compare("64 KiB chunks:", name, results[name, CHUNK], results["supervisord", CHUNK], 2.0, 2.0)
        print(
            f"  the CPU of start-up alone (1 line a child): {name} {fixed[name]:.3f} s, "
            f"supervisord {fixed['supervisord']:.3f} s"
        )
        for label, chunk in (("lines", 0), ("64 KiB chunks", CHUNK)):
            relay = {t: median(results[t, chunk], "cpu") - fixed[t] for t in (name, "supervisord")}
            print(
                f"  {label}: the CPU of relaying alone (less start-up): {name} {relay[name]:.3f} s, "
                f"supervisord {relay['supervisord']:.3f} s: {ratio(relay[name], relay['supervisord']):.2f}"
            )
    if args.honcho:
        honcho = measure("honcho", args.lines)
        ours = median(results["launcher", 0], "drain")
        print(
            f"  honcho drain {honcho.drain:.2f} s: honcho / launcher {honcho.drain / ours:.1f} "
            f"(target >= 10) {verdict(honcho.drain >= 10 * ours)}"
        )
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
