"""Run every benchmark under bench/ and print one table against the targets (issue M12).

Each benchmark runs as its own subprocess (from the repository root, with this Python),
``--runs`` times (3; 1 with ``--quick``), one after another: the rounds are interleaved
(every benchmark once, then every benchmark again) so that a spell of load on a shared
machine does not land on all the runs of one benchmark. Their ``name=value`` output lines
are parsed and the table shows, per metric:

  metric     ``bench.name`` as the benchmark prints it
  goal       the target from the issues (M2-M8), or ``info`` for context figures
  measured   the median of the runs (for correctness figures such as duplicates or
             ``durable``: the worst run, and the goal must hold in every run)
  range      lowest and highest run
  peer       for comparisons (webhook ingest against the FastAPI/uvicorn peer): the
             peer's figure, measured by the same benchmark run with the same load
  ratio      metad / peer as that run computed it (median over runs)
  runs       runs that produced the figure / runs made
  result     met, missed, failed (the benchmark exited non-zero, timed out or did not
             print the figure), skipped or info

A comparison peer that a benchmark could not run (webhook ingest without FastAPI and
uvicorn installed) is not a failure of the benchmark: it prints ``peer_skipped=<why>``
and its own figures, which the table keeps; the figures only the peer yields (the ratio)
show as skipped, and why is printed below the table.

A benchmark that fails or times out is reported as such in the table, with the last lines
of its stderr below it; each has a timeout (scaled by ``--timeout-factor``), after which
it gets SIGINT (so its ``finally`` blocks stop the daemons and servers it started), then
its process group SIGTERM and SIGKILL. A ``bench/*.py`` file that is neither listed here
nor a helper is named at the end as not run, never silently skipped.

After the table every median is printed as ``bench.name=value`` (and ``bench.status=ok``
/ ``failed`` / ``timeout`` / ``not_run``), so the output stays parseable. The exit status
is 0 when every benchmark ran, 1 when one failed or timed out (missed targets alone do
not change it: the table says so).

Usage: ``python bench/run_all.py [--runs N] [--quick] [--only NAME,...]
[--markdown FILE] [--timeout-factor F] [--list]``. ``--quick`` runs once, with a smaller
crash campaign; ``--markdown bench/RESULTS.md`` appends the table with the date, the
machine (cores, memory and load from /proc), the Python version and the git commit.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import math
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
# Modules under bench/ that are not benchmarks (imported or started by one).
HELPERS = {
    "run_all.py",
    "campaign_harness.py",
    "webhook_peer.py",
    "webhook_load.py",
    "procstat.py",
}
LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*)=(.*)$")
PEER_SKIPPED = "peer_skipped"
"""The line a benchmark prints, with the reason, when it measured itself but not its peer."""
STDERR_TAIL = 12

Value = float | str


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


BENCHES: tuple[Bench, ...] = (
    Bench(
        "decision",
        timeout_s=300,
        metrics=(Metric("p99_us", "<=", 50), Metric("p50_us")),
    ),
    Bench(
        "startup",
        args=("--budget-messages", "100000"),
        timeout_s=300,
        metrics=(
            Metric("startup_to_ready_s", "<=", 2),
            Metric("startup_cold_to_ready_s"),
            Metric("startup_first_with_budget_history_s"),
            Metric("budget_replay_us_per_entry"),
            Metric("startup_with_budget_history_s"),
        ),
    ),
    Bench(
        "retention",
        quick_args=("--messages", "60000"),
        timeout_s=600,
        metrics=(
            Metric("kept_ok", "==", 1, worst=True),
            Metric("rows_per_s"),
            Metric("prune_s"),
            Metric("idle_prune_s"),
        ),
    ),
    Bench(
        "sim_throughput",
        timeout_s=240,
        metrics=(Metric("sim_sends_per_s", ">=", 3000),),
    ),
    Bench(
        "windows_memory",
        timeout_s=900,
        metrics=(
            Metric("rss_mb", "<=", 300),
            Metric("rebuild_s", "<=", 10),
            Metric("windows", "==", 1_000_000, worst=True),
            Metric("rss_peak_mb"),
        ),
    ),
    Bench(
        "webhook_ingest",
        timeout_s=900,
        metrics=(
            Metric(
                "metad_events_per_s",
                ">=",
                5000,
                peer="peer_events_per_s",
                ratio="ratio",
            ),
            Metric("ratio", ">=", 1.0, goal_text=">= 1.0 x peer", needs_peer=True),
            Metric("metad_durable", "==", "yes", worst=True),
            Metric("metad_single_durable", "==", "yes", worst=True),
            Metric(
                "metad_single_events_per_s",
                peer="peer_single_events_per_s",
                ratio="single_ratio",
            ),
            Metric("p99_ms"),
            Metric("metad_cpu_us_per_post_ingest", peer="peer_cpu_us_per_post"),
            Metric("metad_cpu_us_per_post_postgres"),
            Metric("metad_cpu_us_per_post_daemon"),
        ),
    ),
    Bench(
        "console_load",
        timeout_s=600,
        metrics=(
            Metric("p99_ms", "<=", 250),
            Metric("send_rate_ratio", ">=", 0.9, goal_text="~ 1 (>= 0.90)"),
            Metric("send_per_cpu_s_ratio_raw_reader"),
            Metric("events_missing"),
        ),
    ),
    Bench(
        "campaign_throughput",
        timeout_s=1200,
        metrics=(
            Metric("msgs_per_s", ">=", 1000),
            Metric("msgs_per_s_overall"),
            Metric("first_send_s"),
            Metric("cpu_us_per_msg", "<=", 250),
            Metric("pg_cpu_us_per_msg"),
            Metric("statuses_per_s"),
        ),
    ),
    Bench(
        "crash_campaign",
        quick_args=("--recipients", "2000", "--kills", "5"),
        timeout_s=2400,
        quick_timeout_s=900,
        metrics=(
            Metric("duplicates", "==", 0, worst=True),
            Metric("lost", "==", 0, worst=True),
            Metric("spent", "<=", "cap", target_is_key=True, worst=True),
            Metric("in_doubt"),
            Metric("kills"),
            Metric("recipients"),
        ),
    ),
    Bench(  # issue M10
        "scale_out",
        timeout_s=1800,
        optional=True,
        metrics=(
            Metric("duplicates", "==", 0, worst=True),
            Metric("lost", "==", 0, worst=True),
            Metric("takeover_s", goal_text="info (within the lease)"),
            Metric("msgs_per_s_1"),
            Metric("msgs_per_s_2"),
            Metric("msgs_per_s_3"),
        ),
    ),
    Bench(  # issue M11: the long mode's totals
        "reliability",
        timeout_s=3600,
        optional=True,
        metrics=(
            Metric("lost", "==", 0, worst=True),
            Metric("duplicates", "==", 0, worst=True),
            Metric("crashes", "==", 0, worst=True),
            Metric("accepted_unsigned", "==", 0, worst=True),
            Metric("failed_checks", "==", 0, worst=True),
        ),
    ),
)


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


# --- aggregation and the table ---------------------------------------------------------


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def numbers(runs: Sequence[RunResult], key: str) -> list[float]:
    out = []
    for run in runs:
        value = run.values.get(key)
        if isinstance(value, float) and not math.isnan(value):
            out.append(value)
    return out


def compare(value: Value, op: str, target: Value) -> bool:
    if op == "==":
        if isinstance(value, float) and isinstance(target, int | float):
            return value == float(target)
        return str(value) == str(target)
    if not isinstance(value, float) or isinstance(target, str):
        return False
    if op == ">=":
        return value >= target
    if op == "<=":
        return value <= target
    raise ValueError(f"unknown operator {op!r}")


def _worst(values: list[float], op: str, target: float) -> float:
    if op == ">=":
        return min(values)
    if op == "<=":
        return max(values)
    return max(values, key=lambda v: abs(v - target))


def fmt(value: Value | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):d}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}" if abs(value) < 0.01 else f"{value:.2f}"


@dataclass
class Row:
    metric: str
    goal: str
    measured: str
    range: str
    peer: str
    ratio: str
    runs: str
    result: str


def evaluate(metric: Metric, runs: Sequence[RunResult], made: int) -> Row:
    """One table row from the runs of one benchmark (``runs``: those that exited 0)."""
    goal = metric.goal_text or (f"{metric.op} {fmt(metric.target)}" if metric.op else "info")
    if metric.target_is_key and metric.op:
        targets = numbers(runs, str(metric.target))
        shown = f" ({fmt(median(targets))})" if targets else ""
        goal = metric.goal_text or f"{metric.op} {metric.target}{shown}"
    nums = numbers(runs, metric.key)
    texts = [r.values[metric.key] for r in runs if isinstance(r.values.get(metric.key), str)]
    have = len(nums) + len(texts)
    peer = numbers(runs, metric.peer) if metric.peer else []
    ratio = numbers(runs, metric.ratio) if metric.ratio else []
    skipped = sum(1 for r in runs if _excused(metric, r))
    # Without a peer in any run, its columns say so rather than "n/a".
    no_peer = "skipped" if runs and all(PEER_SKIPPED in r.values for r in runs) else "n/a"
    row = Row(
        metric=metric.key,
        goal=goal,
        measured="-",
        range="",
        peer=fmt(median(peer)) if peer else (no_peer if metric.peer and runs else ""),
        ratio=fmt(median(ratio)) if ratio else (no_peer if metric.ratio and runs else ""),
        runs=f"{have}/{made}",
        result="info",
    )
    if not have:
        if skipped:
            row.measured = row.result = "skipped"
        else:
            row.result = "failed" if metric.op else "-"
        return row
    if texts and not nums:
        row.measured = str(texts[-1]) if len(set(texts)) == 1 else "/".join(map(str, texts))
        if metric.op:
            met = all(compare(t, metric.op, metric.target or "") for t in texts)
            row.result = "met" if met else "missed"
        return row
    if len(nums) > 1:
        row.range = f"{fmt(min(nums))}..{fmt(max(nums))}"
    if not metric.op:
        row.measured = fmt(median(nums))
        return row
    if metric.target_is_key:
        pairs = [
            (r.values[metric.key], r.values.get(str(metric.target)))
            for r in runs
            if isinstance(r.values.get(metric.key), float)
        ]
        met = all(isinstance(t, float) and compare(v, metric.op, t) for v, t in pairs)
        row.measured = fmt(max(nums) if metric.worst else median(nums))
        row.result = "met" if met else "missed"
        return row
    assert isinstance(metric.target, int | float)
    target = float(metric.target)
    if metric.worst:
        row.measured = fmt(_worst(nums, metric.op, target))
        met = all(compare(v, metric.op, target) for v in nums)
    else:
        value = median(nums)
        row.measured = fmt(value)
        met = compare(value, metric.op, target)
    row.result = "met" if met else "missed"
    notes = []
    if failed := made - len(nums) - skipped:
        notes.append(f"{failed} failed")
    if skipped:
        notes.append(f"{skipped} peer skipped")
    if notes:
        row.result += f" ({', '.join(notes)})"
    return row


def rows_for(bench: Bench, runs: Sequence[RunResult]) -> list[Row]:
    ok = [r for r in runs if r.status == "ok"]
    metrics = bench.metrics
    if not metrics:  # a benchmark without listed goals: show every numeric figure
        keys: dict[str, None] = {}
        for run in ok:
            keys.update((k, None) for k, v in run.values.items() if isinstance(v, float))
        metrics = tuple(Metric(k) for k in keys)
    rows = []
    for metric in metrics:
        row = evaluate(metric, ok, len(runs))
        row.metric = f"{bench.name}.{row.metric}"
        rows.append(row)
    if not ok or not metrics:
        states = sorted({r.status for r in runs})
        rows = [r for r in rows if r.result != "-"] or [
            Row(f"{bench.name}", "-", "-", "", "", "", f"0/{len(runs)}", "/".join(states))
        ]
        for row in rows:
            row.measured = "/".join(states)
            row.result = "/".join(states)
    return rows


def peer_skips(bench: Bench, runs: Sequence[RunResult]) -> list[str]:
    """One line per reason the runs of ``bench`` gave for skipping their peer."""
    reasons: dict[str, int] = {}
    for run in runs:
        if run.status == "ok" and PEER_SKIPPED in run.values:
            reason = str(run.values[PEER_SKIPPED])
            reasons[reason] = reasons.get(reason, 0) + 1
    return [f"{bench.name}: peer skipped in {n}/{len(runs)} runs: {r}" for r, n in reasons.items()]


COLUMNS = ("metric", "goal", "measured", "range", "peer", "ratio", "runs", "result")


def _cells(row: Row) -> list[str]:
    return [getattr(row, c) for c in COLUMNS]


def text_table(rows: Sequence[Row]) -> str:
    cells = [list(COLUMNS), *(_cells(r) for r in rows)]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    lines = []
    for n, line in enumerate(cells):
        lines.append("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(rows: Sequence[Row]) -> str:
    def esc(text: str) -> str:
        return text.replace("|", "\\|") or " "

    lines = [
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join("---" for _ in COLUMNS) + "|",
    ]
    lines += ["| " + " | ".join(esc(c) for c in _cells(r)) + " |" for r in rows]
    return "\n".join(lines)


def medians(bench: Bench, runs: Sequence[RunResult]) -> list[tuple[str, str]]:
    """``bench.name`` and the median of every numeric figure (strings: as printed)."""
    ok = [r for r in runs if r.status == "ok"]
    statuses = {r.status for r in runs}
    status = "ok" if statuses == {"ok"} else ("timeout" if "timeout" in statuses else "failed")
    out = [(f"{bench.name}.status", status), (f"{bench.name}.runs_ok", str(len(ok)))]
    keys: dict[str, None] = {}
    for run in ok:
        keys.update(dict.fromkeys(run.values))
    for key in keys:
        nums = numbers(ok, key)
        if nums:
            out.append((f"{bench.name}.{key}", fmt(median(nums))))
        else:
            texts = [str(r.values[key]) for r in ok if key in r.values]
            out.append((f"{bench.name}.{key}", texts[-1]))
    return out


# --- the machine, for RESULTS.md --------------------------------------------------------


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def machine() -> dict[str, str]:
    cpuinfo = _read("/proc/cpuinfo")
    model = next(
        (ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines() if ln.startswith("model name")),
        platform.processor() or "?",
    )
    mem = re.search(r"MemTotal:\s+(\d+) kB", _read("/proc/meminfo"))
    mem_gib = f"{int(mem.group(1)) / 1024 / 1024:.1f} GiB" if mem else "?"

    def git(*a: str) -> str:
        try:
            return subprocess.run(
                ["git", *a], cwd=REPO, capture_output=True, text=True, timeout=10
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    commit = git("rev-parse", "--short=12", "HEAD") or "?"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return {
        "cores": str(os.cpu_count()),
        "cpu": model,
        "memory": mem_gib,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "commit": commit + (" (with uncommitted changes in the tree)" if dirty else ""),
        "loadavg": " ".join(_read("/proc/loadavg").split()[:3]) or "?",
    }


def markdown_section(
    rows: Sequence[Row],
    failures: Sequence[RunResult],
    info: dict[str, str],
    header: str,
    not_run: Sequence[str],
    skipped: Sequence[str] = (),
) -> str:
    parts = [
        f"## {header}",
        "",
        f"- machine: {info['cores']} cores ({info['cpu']}), {info['memory']} memory",
        f"- load average (1/5/15 min): {info['load_start']} at the start,"
        f" {info['load_end']} at the end",
        f"- Python: {info['python']}",
        f"- commit: {info['commit']}",
        f"- command: `{info['command']}` ({info['duration']})",
        "",
        markdown_table(rows),
    ]
    if failures:
        parts += ["", "Failed or timed-out runs (last lines of stderr):", ""]
        for run in failures:
            parts.append(f"- `{run.bench}`: {_describe(run)}")
            if run.stderr_tail:
                parts += ["", "  ```", *(f"  {ln}" for ln in run.stderr_tail), "  ```", ""]
    if skipped:
        parts += ["", *(f"- {line}" for line in skipped)]
    if not_run:
        parts += ["", "Not run: " + ", ".join(f"`{n}`" for n in not_run)]
    return "\n".join(parts) + "\n"


def _describe(run: RunResult) -> str:
    if run.status == "timeout":
        return f"timed out after {run.seconds:.0f} s"
    return f"exit {run.returncode} after {run.seconds:.0f} s"


# --- main ------------------------------------------------------------------------------


def select(names: str | None, benches: Sequence[Bench] = BENCHES) -> list[Bench]:
    if not names:
        return list(benches)
    wanted = [n.strip().removesuffix(".py") for n in names.split(",") if n.strip()]
    known = {b.name: b for b in benches}
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise SystemExit(f"run_all: unknown benchmark(s) {', '.join(unknown)}; see --list")
    return [b for b in benches if b.name in wanted]


def unlisted() -> list[str]:
    """bench/*.py files that are neither benchmarks listed here nor helpers."""
    listed = {b.script.name for b in BENCHES} | HELPERS
    return sorted(p.name for p in BENCH_DIR.glob("*.py") if p.name not in listed)


def log(message: str) -> None:
    print(f"[run_all] {message}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None, runner: Callable[..., RunResult] = run_bench) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=None, help="runs per benchmark (3)")
    parser.add_argument("--quick", action="store_true", help="1 run, smaller crash campaign")
    parser.add_argument("--only", help="comma-separated benchmark names")
    parser.add_argument("--markdown", type=Path, help="append the table to this file")
    parser.add_argument("--timeout-factor", type=float, default=1.0)
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    runs = args.runs if args.runs is not None else (1 if args.quick else 3)
    if runs < 1:
        parser.error("--runs must be at least 1")
    benches = select(args.only)
    if args.list:
        for b in BENCHES:
            extra = " (if present)" if b.optional else ""
            print(f"{b.name}{extra}: {' '.join(b.args)}")
        return 0

    def bench_args(b: Bench) -> tuple[str, ...]:
        return b.quick_args if args.quick and b.quick_args is not None else b.args

    def timeout(b: Bench) -> float:
        base = b.quick_timeout_s if args.quick and b.quick_timeout_s else b.timeout_s
        return base * float(args.timeout_factor)

    not_run = [f"{b.name} (no bench/{b.name}.py yet)" for b in benches if not b.script.exists()]
    not_run += [f"{n} (not listed in run_all.py)" for n in unlisted()]
    present = [b for b in benches if b.script.exists()]
    load_start = " ".join(_read("/proc/loadavg").split()[:3])
    started = time.monotonic()
    results: dict[str, list[RunResult]] = {b.name: [] for b in present}
    for n in range(runs):
        for b in present:
            log(f"{b.name} run {n + 1}/{runs}: {' '.join(bench_args(b)) or '(defaults)'}")
            result = runner(b, bench_args(b), timeout(b))
            results[b.name].append(result)
            log(f"{b.name} run {n + 1}/{runs}: {_status_line(result)}")

    rows = [row for b in present for row in rows_for(b, results[b.name])]
    failures = [r for b in present for r in results[b.name] if r.status != "ok"]
    skipped = [line for b in present for line in peer_skips(b, results[b.name])]
    print(text_table(rows))
    for b in present:
        if any(r.result == "missed" for r in rows_for(b, results[b.name])):
            for n, run in enumerate(results[b.name], 1):
                if run.report:
                    print(f"\n{b.name} run {n}/{len(results[b.name])}, its own report:")
                    print("\n".join(f"  {line}" for line in run.report))
    for run in failures:
        print(f"\n{run.bench}: {_describe(run)}; last lines of stderr:")
        for line in run.stderr_tail or ["(nothing)"]:
            print(f"  {line}")
    for line in skipped:
        print(f"\n{line}")
    for name in not_run:
        print(f"\nnot run: {name}")
    print()
    for b in present:
        for key, value in medians(b, results[b.name]):
            print(f"{key}={value}")
    for b in benches:
        if b not in present:
            print(f"{b.name}.status=not_run")

    if args.markdown:
        info = machine()
        duration = time.monotonic() - started
        info |= {
            "load_start": load_start or "?",
            "load_end": " ".join(_read("/proc/loadavg").split()[:3]) or "?",
            "command": "python bench/run_all.py " + " ".join(argv or sys.argv[1:]),
            "duration": f"{duration / 60:.1f} min",
        }
        now = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
        mode = "quick run" if args.quick else "full run"
        header = f"{now}: {mode}, {runs} run{'s' if runs > 1 else ''} per benchmark"
        section = markdown_section(rows, failures, info, header, not_run, skipped)
        with args.markdown.open("a") as f:
            f.write("\n" + section)
        log(f"appended to {args.markdown}")
    return 1 if failures else 0


def _status_line(result: RunResult) -> str:
    if result.status == "ok":
        return f"ok in {result.seconds:.0f} s"
    return f"{result.status.upper()} ({_describe(result)})"


if __name__ == "__main__":
    sys.exit(main())
