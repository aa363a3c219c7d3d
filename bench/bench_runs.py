"""One benchmark run for :mod:`run_all`: what a benchmark is (its figures and goals),
running it as a subprocess with a timeout, and reading its ``name=value`` lines.

Why apart from the table: running and judging are separate concerns, and run_all's
tests drive the table with made-up runs while this part starts real processes.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*)=(.*)$")
PEER_SKIPPED = "peer_skipped"
"""The line a benchmark prints, with the reason, when it measured itself but not its peer."""
STDERR_TAIL = 12
REPO = BENCH_DIR.parent

Value = float | str


def log(message: str) -> None:
    print(f"[run_all] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Metric:
    """One row of the table: a figure a benchmark prints, and its goal (if any)."""

    key: str
    op: str = ""  # ">=", "<=", "==", or "" for an info row
    target: float | str | None = None  # a number, a string (for ==), or another key
    target_is_key: bool = False  # target names another figure of the same run (spent <= cap)
    worst: bool = False  # correctness: show the worst run; the goal must hold in every run
    peer: str = ""  # the peer's figure from the same run
    ratio: str = ""  # metad / peer, as the run computed it
    goal_text: str = ""  # how to show the goal, when not just "op target"
    needs_peer: bool = False  # only a run that measured the peer prints it (the ratio)


@dataclass(frozen=True)
class Bench:
    name: str
    args: tuple[str, ...] = ()
    quick_args: tuple[str, ...] | None = None  # None: the same as args
    timeout_s: float = 600.0
    quick_timeout_s: float | None = None
    metrics: tuple[Metric, ...] = ()
    optional: bool = False  # run only if the file exists (written by another issue)

    @property
    def script(self) -> Path:
        return BENCH_DIR / f"{self.name}.py"


# --- one benchmark run -----------------------------------------------------------------


@dataclass
class RunResult:
    bench: str
    status: str  # "ok", "failed", "timeout"
    seconds: float
    values: dict[str, Value] = field(default_factory=dict)
    returncode: int | None = None
    stderr_tail: list[str] = field(default_factory=list)
    report: list[str] = field(default_factory=list)
    """The stdout lines that are not ``name=value`` (a benchmark's own table): shown
    when one of its goals is missed, since the totals alone do not say which case."""


def parse_value(text: str) -> Value:
    text = text.strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return number


def report_lines(stdout: str) -> list[str]:
    """The lines of ``stdout`` that :func:`parse_output` does not take."""
    return [ln for ln in stdout.splitlines() if ln.strip() and not LINE.match(ln.strip())]


def parse_output(stdout: str) -> dict[str, Value]:
    """The ``name=value`` lines of a benchmark's stdout (a later line wins)."""
    values: dict[str, Value] = {}
    for line in stdout.splitlines():
        match = LINE.match(line.strip())
        if match:
            values[match.group(1)] = parse_value(match.group(2))
    return values


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGINT first (the benchmark's ``finally`` blocks stop what it started), then its
    process group SIGTERM, then SIGKILL."""
    for sig, grace in ((signal.SIGINT, 20.0), (signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            if sig == signal.SIGINT:
                proc.send_signal(sig)
            else:
                os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue
        if sig != signal.SIGKILL:
            # The benchmark is gone; take whatever it left in its group with it.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        return


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def run_bench(bench: Bench, args: Sequence[str], timeout_s: float) -> RunResult:
    cmd = [sys.executable, str(bench.script), *args]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    started = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            cmd, cwd=REPO, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
            start_new_session=True,
        )  # fmt: skip
        try:
            proc.wait(timeout=timeout_s)
            status = "ok" if proc.returncode == 0 else "failed"
            if _group_alive(proc.pid):
                log(f"warning: {bench.name} left processes behind (process group {proc.pid})")
        except subprocess.TimeoutExpired:
            _stop(proc)
            status = "timeout"
        except BaseException:  # Ctrl-C here: do not leave the benchmark running
            _stop(proc)
            raise
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
    tail = [line for line in stderr.splitlines() if line.strip()][-STDERR_TAIL:]
    result = RunResult(bench.name, status, seconds, parse_output(stdout), proc.returncode, tail)
    result.report = report_lines(stdout)
    missing = [
        m.key
        for m in bench.metrics
        if m.op and m.key not in result.values and not _excused(m, result)
    ]
    if status == "ok" and missing:
        result.status = "failed"
        result.stderr_tail = [f"(exit 0 but no {', '.join(missing)} line)", *tail]
    return result


def _excused(metric: Metric, run: RunResult) -> bool:
    """``metric`` is missing from ``run`` because the run skipped the peer it needs."""
    return metric.needs_peer and PEER_SKIPPED in run.values and metric.key not in run.values
