"""The table :mod:`run_all` prints: medians and ranges of the runs against the goals,
as text and as Markdown for RESULTS.md, with the machine it ran on.

Pure over the runs' figures (no process is started here), so its rules are tested with
made-up runs.
"""

from __future__ import annotations

import math
import os
import platform
import re
import statistics
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench_runs import PEER_SKIPPED, REPO, Bench, Metric, RunResult, Value, _excused

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
